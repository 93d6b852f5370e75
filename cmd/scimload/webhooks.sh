#!/usr/bin/env bash
# The README's webhook figures: SCIM creates/s without and with one webhook subscribed to every event
# (in the same run, on fresh servers and databases, alternating which goes first), and the delivery
# lag (event committed -> receiver got it) at that rate, from the load tool's own receiver.
# Usage: cmd/scimload/webhooks.sh [RUNS] [USERS] [DB]   (DB: sqlite, default, or a postgres:// URL of
# a server on which this script may create and drop databases scimload_hooks_N). With PIN=1 the server
# runs on core 0 and the load tool (and its receiver) on core 1, as speed.sh's isolated rows.
set -euo pipefail
runs=${1:-3}
users=${2:-20000}
dbkind=${3:-sqlite}
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$bin"' EXIT
go build -o "$bin/scimsso" ./cmd/scimsso
go build -o "$bin/scimload" ./cmd/scimload
S=$bin/scimsso
addr=127.0.0.1:${SCIMLOAD_PORT:-18080}
hook=127.0.0.1:${SCIMLOAD_HOOK_PORT:-18090}

pin_server=() pin_load=()
if [ "${PIN:-}" = 1 ]; then pin_server=(taskset -c 0) pin_load=(taskset -c 1); fi
start() {
	"${pin_server[@]}" "$S" serve --addr "$addr" --db "$db" --metrics-addr off --allow-http-loopback-webhooks 2>server.log &
	pid=$!
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null && return; sleep 0.1; done
	echo "server did not start" >&2
	exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
fresh() {
	dir=$(mktemp -d)
	cd "$dir"
	db=scimsso.db
	if [ "$dbkind" != sqlite ]; then
		psql -q "$dbkind" -c "DROP DATABASE IF EXISTS scimload_hooks_$r" -c "CREATE DATABASE scimload_hooks_$r"
		db=$(echo "$dbkind" | sed -E "s#/[^/?]*(\?|$)#/scimload_hooks_$r\1#")
	fi
	"$S" tenant create acme --db "$db" --name Acme --domain example.com >/dev/null
	token=$("$S" token issue --db "$db" --tenant acme)
}
done_dir() { cd /; rm -rf "$dir"; }
# run TAG [scimload args]: one measured create phase, its rows prefixed with the run and TAG.
run() {
	local tag=$1
	shift
	SCIMLOAD_TOKEN=$token "${pin_load[@]}" "$bin/scimload" -base "http://$addr/scim/v2/acme" -c 8 -pid "$pid" -n "$users" -seed-only "$@" |
		grep -E '^(create|webhook-lag)' | sed "s/^/run$r $tag /"
}
without() { fresh; start; run no-webhook; stop; done_dir; }
with() {
	fresh
	secret=$("$S" webhook add --db "$db" --url "http://$hook/hook" --allow-http-loopback-webhooks 2>/dev/null)
	start
	SCIMLOAD_WEBHOOK_SECRET=$secret run webhook -webhook-listen "$hook"
	stop; done_dir
}
for r in $(seq "$runs"); do
	if ((r % 2)); then without; with; else with; without; fi
done
