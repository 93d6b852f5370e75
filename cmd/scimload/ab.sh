#!/usr/bin/env bash
# A/B of the server at git revision REV (A) against the working tree (B), interleaved on this machine:
# ROUNDS rounds (default 7), each running A and B (in turns first) on fresh servers and databases:
# 20,000 creates (-seed-only), 10,000 filters, 5,000 PATCHes, at concurrency 8, shared cores. Prints
# every phase row prefixed with A or B and the round, then the median of each column per phase.
# Usage: cmd/scimload/ab.sh REV [ROUNDS]
set -euo pipefail
rev=${1:?usage: cmd/scimload/ab.sh REV [ROUNDS]}
rounds=${2:-7}
: "${SCIMLOAD_PORT:=18081}"
. "$(dirname "$0")/lib.sh"
mkdir "$bin/a"
git archive "$rev" | tar -x -C "$bin/a"
(cd "$bin/a" && go build -o "$bin/scimsso-A" ./cmd/scimsso)
ln "$S" "$bin/scimsso-B"

# one TAG ROUND: the three phases against a fresh server TAG on a fresh database.
one() {
	local S=$bin/scimsso-$1
	fresh
	serve "$S"
	SCIMLOAD_TOKEN=$token "$L" -base "http://$addr/scim/v2/acme" -c 8 -pid "$pid" -n 20000 -seed-only -prefix p |
		grep -E '^create' | sed "s/^/$1 r$2 /"
	SCIMLOAD_TOKEN=$token "$L" -base "http://$addr/scim/v2/acme" -c 8 -pid "$pid" -n 20000 -k 10000 -m 5000 -phases filter,patch -prefix p |
		grep -E '^(filter|patch)' | sed "s/^/$1 r$2 /"
	stop
	done_dir
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
