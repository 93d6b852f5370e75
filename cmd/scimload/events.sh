#!/usr/bin/env bash
# The README's events API figure: a fresh scimsso serve on a fresh database (SQLite, or the PostgreSQL
# URL given as DB), a tenant whose EVENTS users are created through SCIM (each a user.created event),
# then the events phase: READERS readers, each paging the whole log from seq 0 with
# GET /api/v1/events?after=SEQ&limit=500 and an events:read key; events/s is all of them together.
# Usage: cmd/scimload/events.sh [EVENTS] [READERS] [DB]
set -euo pipefail
events=${1:-100000}
readers=${2:-4}
db=${3:-scimsso.db}
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$bin"' EXIT
go build -o "$bin/scimsso" ./cmd/scimsso
go build -o "$bin/scimload" ./cmd/scimload
S=$bin/scimsso
addr=127.0.0.1:${SCIMLOAD_PORT:-18080}
cd "$bin"
"$S" tenant create acme --name Acme --domain example.com --db "$db" >/dev/null
token=$("$S" token issue --tenant acme --db "$db" 2>/dev/null)
key=$("$S" apikey create --name load --scope events:read --db "$db" 2>/dev/null)
"$S" serve --addr "$addr" --metrics-addr off --base-url "http://$addr" --db "$db" 2>server.log &
pid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null && break; sleep 0.1; done
SCIMLOAD_TOKEN=$token SCIMLOAD_API_KEY=$key "$bin/scimload" -base "http://$addr/scim/v2/acme" \
	-phases create,events -seed-only -n "$events" -e "$((events + 1))" -c "$readers" -pid "$pid"
