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
. "$(dirname "$0")/lib.sh"
cd "$bin"
"$S" tenant create acme --name Acme --domain example.com --db "$db" >/dev/null
token=$("$S" token issue --tenant acme --db "$db" 2>/dev/null)
key=$("$S" apikey create --name load --scope events:read --db "$db" 2>/dev/null)
serve "$S" --metrics-addr off --base-url "http://$addr" --db "$db"
SCIMLOAD_TOKEN=$token SCIMLOAD_API_KEY=$key "$L" -base "http://$addr/scim/v2/acme" \
	-phases create,events -seed-only -n "$events" -e "$((events + 1))" -c "$readers" -pid "$pid"
