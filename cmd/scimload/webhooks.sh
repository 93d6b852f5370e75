#!/usr/bin/env bash
# The README's webhook figures: SCIM creates/s without and with one webhook subscribed to every event
# (in the same run, on fresh servers and databases, alternating which goes first), and the delivery
# lag (event committed -> receiver got it) at that rate, from the load tool's own receiver.
# Usage: cmd/scimload/webhooks.sh [RUNS] [USERS] [DB]   (DB: sqlite, default, or a postgres:// URL of
# a server on which this script may create and drop databases scimload_hooks_N). With PIN=1 the server
# runs on core 0 and the load tool (and its receiver) on core 1, as speed.sh's isolated rows. With
# BASE=REV (a commit) each run measures REV's scimsso too, rows tagged base-…, the two binaries
# alternating: a before/after in the same run. With HTTPS=1 the receiver serves https (HTTP/2 or
# HTTP/1.1, as the server's client asks) with a throwaway certificate for 127.0.0.1, which the server
# trusts through SSL_CERT_FILE: the path production webhooks take, TLS and all. With SPLIT=1 the
# measured server runs with --deliver=false and a second serve on the same database delivers, on the
# load tool's core with PIN=1 (in the runs without a webhook too, so the webhook is the one
# difference): delivery off the SCIM process, as README's "Delivering from another process" sets it
# up; rows tagged split-. SPLIT=both measures both layouts in each run, alternating which goes first.
# (--deliver came with ecb0765: BASE with SPLIT needs a commit from then on.)
set -euo pipefail
runs=${1:-3}
users=${2:-20000}
dbkind=${3:-sqlite}
. "$(dirname "$0")/lib.sh"
hook=127.0.0.1:${SCIMLOAD_HOOK_PORT:-18090}

pin_load=()
if [ "${PIN:-}" = 1 ]; then pin=(taskset -c 0) pin_load=(taskset -c 1); fi
bins=("$S")
if [ -n "${BASE:-}" ]; then
	src=$(mktemp -d)
	git archive "$BASE" | tar -x -C "$src"
	(cd "$src" && go build -o "$bin/base-scimsso" ./cmd/scimsso)
	rm -rf "$src"
	bins=("$bin/base-scimsso" "$S")
fi
scheme=http tls=()
if [ "${HTTPS:-}" = 1 ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$bin/hook.key" -out "$bin/hook.pem" 2>/dev/null
	scheme=https tls=(-webhook-tls "$bin/hook.pem,$bin/hook.key")
	export SSL_CERT_FILE=$bin/hook.pem
fi
layouts=(one)
case "${SPLIT:-}" in 1) layouts=(split) ;; both) layouts=(one split) ;; esac
layout=one
dpid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$dpid" ] && kill "$dpid" 2>/dev/null; rm -rf "$bin"' EXIT
# start: the measured server; in the split layout the delivering one (on the load tool's core) first.
start() {
	local split=()
	if [ "$layout" = split ]; then
		"${pin_load[@]}" "$S" serve --addr 127.0.0.1:0 --db "$db" --metrics-addr off --allow-http-loopback-webhooks 2>deliver.log &
		dpid=$!
		for i in $(seq 51); do
			grep -q '"listening"' deliver.log && break
			if ((i == 51)); then echo "the delivering server did not start: $(tail -3 deliver.log)" >&2; exit 1; fi
			sleep 0.1
		done
		split=(--deliver=false)
	fi
	serve "$S" --db "$db" --metrics-addr off --allow-http-loopback-webhooks "${split[@]}"
}
halt() {
	stop
	if [ -n "$dpid" ]; then
		kill "$dpid" 2>/dev/null || echo "the delivering server had stopped: $(tail -3 deliver.log)" >&2
		wait "$dpid" 2>/dev/null || true
		dpid=""
	fi
}
# setup: a fresh directory and database (SQLite, or a fresh PostgreSQL database scimload_hooks_N).
setup() {
	db=scimsso.db
	if [ "$dbkind" != sqlite ]; then
		psql -q "$dbkind" -c "DROP DATABASE IF EXISTS scimload_hooks_$r" -c "CREATE DATABASE scimload_hooks_$r"
		db=$(echo "$dbkind" | sed -E "s#/[^/?]*(\?|$)#/scimload_hooks_$r\1#")
	fi
	fresh
}
# run TAG [scimload args]: one measured create phase, its rows prefixed with the run and TAG.
run() {
	local tag=$1
	shift
	SCIMLOAD_TOKEN=$token "${pin_load[@]}" "$L" -base "http://$addr/scim/v2/acme" -c 8 -pid "$pid" -n "$users" -seed-only "$@" |
		grep -E '^(create|webhook-lag)' | sed "s/^/run$r ${p:-}$tag /"
}
without() { setup; start; run no-webhook; halt; done_dir; }
with() {
	setup
	secret=$("$S" webhook add --db "$db" --url "$scheme://$hook/hook" --allow-http-loopback-webhooks 2>/dev/null)
	start
	SCIMLOAD_WEBHOOK_SECRET=$secret run webhook -webhook-listen "$hook" "${tls[@]}"
	halt; done_dir
}
main=$S
for r in $(seq "$runs"); do
	order=("${bins[@]}")
	if ((r % 2 == 0)); then order=("${bins[@]:1}" "${bins[0]}"); fi
	lays=("${layouts[@]}")
	if ((r % 2 == 0)); then lays=("${layouts[@]:1}" "${layouts[0]}"); fi
	for S in "${order[@]}"; do
		for layout in "${lays[@]}"; do
			p=""
			if [ "$S" != "$main" ]; then p=base-; fi
			if [ "$layout" = split ]; then p=${p}split-; fi
			if ((r % 2)); then without; with; else with; without; fi
		done
	done
done
