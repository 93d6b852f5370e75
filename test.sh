#!/usr/bin/env bash
# The test command: every package's tests, with the race detector. The PostgreSQL tests use the server
# at SCIMSSO_TEST_POSTGRES (default: a local PostgreSQL as Debian installs it, on 127.0.0.1:5432 with
# trust authentication) and, for restarts, PostgreSQL's own binaries; without them they are skipped,
# and this says so. .ci/run gives them a server and makes a skip a failure.
set -euo pipefail
cd "$(dirname "$0")"

url=${SCIMSSO_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
hostport=$(sed -E 's#^[a-z]+://([^@/]*@)?([^/?]*).*#\2#' <<<"$url")
host=${hostport%:*}
port=${hostport##*:}
[ "$port" = "$hostport" ] && port=5432
if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
  echo "PostgreSQL at $host:$port: the PostgreSQL tests run against it"
else
  echo "No PostgreSQL at $host:$port: the PostgreSQL tests are SKIPPED (set SCIMSSO_TEST_POSTGRES=postgres://… to run them)"
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  echo "No initdb (Debian package postgresql): the PostgreSQL restart tests are SKIPPED"
fi

go test -race ./... "$@"
