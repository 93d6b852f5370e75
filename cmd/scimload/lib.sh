# What the load scripts (speed.sh, ab.sh, oidc.sh, events.sh, webhooks.sh) share; each sources it after
# reading its arguments. It moves to the repository's root, builds scimload and scimsso (the working
# tree's) into $bin, removed at exit with any server still running, and gives:
#   $L, $S     the two binaries
#   $addr      the server's address: 127.0.0.1:$SCIMLOAD_PORT (default 18080)
#   serve BIN [ARGS…]  BIN serve --addr $addr ARGS… in the background, prefixed by the array pin (e.g.
#              pin=(taskset -c 0)), its log in ./server.log, its pid in $pid; returns once it listens
#   stop       stops it
#   fresh      a fresh directory to run in ($dir), with a tenant acme (example.com) and a SCIM token
#              ($token) made by $S on the database $db (default scimsso.db there)
#   done_dir   leaves and removes it
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin=$(mktemp -d)
pid=""
# A failed step ends the script (set -e): its server must not stay on the port for the next run.
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$bin"' EXIT
go build -o "$bin/scimsso" ./cmd/scimsso
go build -o "$bin/scimload" ./cmd/scimload
S=$bin/scimsso
L=$bin/scimload
addr=127.0.0.1:${SCIMLOAD_PORT:-18080}
pin=()

serve() {
	local b=$1
	shift
	"${pin[@]}" "$b" serve --addr "$addr" "$@" 2>server.log &
	pid=$!
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null && return; sleep 0.1; done
	echo "server did not start: $(tail -3 server.log)" >&2
	exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
fresh() {
	dir=$(mktemp -d)
	cd "$dir"
	db=${db:-scimsso.db}
	"$S" tenant create acme --db "$db" --name Acme --domain example.com >/dev/null
	token=$("$S" token issue --db "$db" --tenant acme 2>/dev/null)
}
done_dir() { cd /; rm -rf "$dir"; }
