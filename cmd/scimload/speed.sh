#!/usr/bin/env bash
# The README's Speed tables: RUNS runs (default 4), each on fresh servers and databases in temporary
# directories, printing one row per measured phase prefixed with the run and what it measures.
#   shared:   server and load tool on both cores, as the OS places them
#   isolated: server on core 0 (taskset; Go then runs it on one core), load tool on core 1
# Usage: cmd/scimload/speed.sh [RUNS] [shared|isolated|both]
set -euo pipefail
runs=${1:-4}
mode=${2:-both}
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
pid=""
# A failed step ends the script (set -e): its server must not stay on the port for the next run.
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$bin"' EXIT
go build -o "$bin/scimsso" ./cmd/scimsso
go build -o "$bin/scimload" ./cmd/scimload
S=$bin/scimsso
addr=127.0.0.1:${SCIMLOAD_PORT:-18080}

# start [CPU]: a server on a fresh database in the current directory, pinned to CPU when given.
start() {
	local pin=()
	[ -n "${1:-}" ] && pin=(taskset -c "$1")
	"${pin[@]}" "$S" serve --addr "$addr" 2>server.log &
	pid=$!
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null && return; sleep 0.1; done
	echo "server did not start" >&2
	exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
# load TAG [CPU] ARGS…: scimload against the server; its phase rows prefixed with TAG.
load() {
	local tag=$1 pin=()
	shift
	if [[ "$1" =~ ^[0-9]+$ ]]; then pin=(taskset -c "$1"); shift; fi
	SCIMLOAD_TOKEN=$token "${pin[@]}" "$bin/scimload" -base "http://$addr/scim/v2/acme" -c 8 -pid "$pid" "$@" |
		grep -E '^(exists|create|filter|patch|server rss)' | sed "s/^/run$r $tag /"
}
fresh() {
	dir=$(mktemp -d)
	cd "$dir"
	"$S" tenant create acme --name Acme --domain example.com >/dev/null
	token=$("$S" token issue --tenant acme)
}
done_dir() { cd /; rm -rf "$dir"; }

for r in $(seq "$runs"); do
	if [ "$mode" != isolated ]; then
		fresh; start
		load creates-20k -n 20000 -seed-only -prefix a
		load okta-mix -n 20000 -k 20000 -m 5000 -prefix b
		stop; done_dir
		fresh; start
		load "" -n 1000 -seed-only -prefix s >/dev/null
		load "" -phases filter -prefix s -n 1000 -k 2000 >/dev/null # warm-up
		load filter-1k -phases filter -prefix s -n 1000 -k 20000
		load grow-to-100k -n 99000 -seed-only -prefix t
		load filter-100k -phases filter -prefix t -n 99000 -k 20000
		load patch-100k -phases patch -prefix t -n 99000 -m 5000
		stop; done_dir
	fi
	if [ "$mode" != shared ]; then
		fresh; start 0
		load "" 1 -n 1000 -seed-only -prefix s >/dev/null
		load "" 1 -phases filter -prefix s -n 1000 -k 2000 >/dev/null
		load isolated-filter-1k 1 -phases filter -prefix s -n 1000 -k 20000
		stop; start
		load "" -n 99000 -seed-only -prefix t >/dev/null # grown on both cores, then measured isolated
		stop; start 0
		load "" 1 -phases filter -prefix t -n 99000 -k 2000 >/dev/null
		load isolated-filter-100k 1 -phases filter -prefix t -n 99000 -k 20000
		stop; done_dir
	fi
done
