#!/usr/bin/env bash
# The README's Speed tables: RUNS runs (default 4), each on fresh servers and databases in temporary
# directories, printing one row per measured phase prefixed with the run and what it measures.
#   shared:   server and load tool on both cores, as the OS places them
#   isolated: server on core 0 (taskset; Go then runs it on one core), load tool on core 1
# Usage: cmd/scimload/speed.sh [RUNS] [shared|isolated|both]
set -euo pipefail
runs=${1:-4}
mode=${2:-both}
. "$(dirname "$0")/lib.sh"

# start [CPU]: a server on the fresh database in the current directory, pinned to CPU when given.
start() {
	pin=()
	[ -n "${1:-}" ] && pin=(taskset -c "$1")
	serve "$S"
}
# load TAG [CPU] ARGS…: scimload against the server; its phase rows prefixed with TAG.
load() {
	local tag=$1 pin=()
	shift
	if [[ "$1" =~ ^[0-9]+$ ]]; then pin=(taskset -c "$1"); shift; fi
	SCIMLOAD_TOKEN=$token "${pin[@]}" "$L" -base "http://$addr/scim/v2/acme" -c 8 -pid "$pid" "$@" |
		grep -E '^(exists|create|filter|patch|server rss)' | sed "s/^/run$r $tag /"
}

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
