#!/usr/bin/env bash
# A/B of the server at git revision REV (A) against the working tree (B), interleaved on this machine:
# ROUNDS rounds (default 7), each running A and B (in turns first) on fresh servers and databases:
# 20,000 creates (-seed-only), 10,000 filters, 5,000 PATCHes, at concurrency 8, shared cores. Prints
# every phase row prefixed with A or B and the round, then the median of each column per phase.
# Usage: cmd/scimload/ab.sh REV [ROUNDS]
set -euo pipefail
rev=${1:?usage: cmd/scimload/ab.sh REV [ROUNDS]}
rounds=${2:-7}
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$bin"' EXIT
mkdir "$bin/a"
git archive "$rev" | tar -x -C "$bin/a"
(cd "$bin/a" && go build -o "$bin/scimsso-A" ./cmd/scimsso)
go build -o "$bin/scimsso-B" ./cmd/scimsso
go build -o "$bin/scimload" ./cmd/scimload
addr=127.0.0.1:${SCIMLOAD_PORT:-18081}

# one TAG ROUND: the three phases against a fresh server TAG on a fresh database.
one() {
	local S=$bin/scimsso-$1 dir token
	dir=$(mktemp -d)
	cd "$dir"
	"$S" tenant create acme --name Acme --domain example.com >/dev/null
	token=$("$S" token issue --tenant acme 2>/dev/null)
	"$S" serve --addr "$addr" 2>server.log &
	pid=$!
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null && break; sleep 0.1; done
	SCIMLOAD_TOKEN=$token "$bin/scimload" -base "http://$addr/scim/v2/acme" -c 8 -pid "$pid" -n 20000 -seed-only -prefix p |
		grep -E '^create' | sed "s/^/$1 r$2 /"
	SCIMLOAD_TOKEN=$token "$bin/scimload" -base "http://$addr/scim/v2/acme" -c 8 -pid "$pid" -n 20000 -k 10000 -m 5000 -phases filter,patch -prefix p |
		grep -E '^(filter|patch)' | sed "s/^/$1 r$2 /"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
	cd /
	rm -rf "$dir"
}

for r in $(seq "$rounds"); do
	if ((r % 2)); then one A "$r"; one B "$r"; else one B "$r"; one A "$r"; fi
done | tee "$bin/rows"
echo "medians: tag phase ok/s p50 p90 p99 max server_cpu_ms_op rss_mb"
for tag in A B; do
	for phase in create filter patch; do
		printf '%s %-7s' "$tag" "$phase"
		for col in 7 8 9 10 11 12 13; do
			grep "^$tag r[0-9]* $phase " "$bin/rows" | awk -v c=$col '{print $c}' | sort -g |
				awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf " %s", m}'
		done
		echo
	done
done
