#!/usr/bin/env bash
# The test command: every package's tests, with the race detector.
#
# It uses only servers it starts itself, or one named in the environment:
#   - PostgreSQL: SCIMSSO_TEST_POSTGRES=postgres://… if set; otherwise a private server this script
#     starts on a free loopback port from Debian's PostgreSQL binaries (package postgresql) and removes
#     at the end. A PostgreSQL already running on this machine is never touched.
#   - the interop IdP (npm saml-idp): installed into interop/node_modules by interop/setup.sh when
#     node and npm are present.
#   - oauth2-proxy: built once into bin/ by interop/oauth2-proxy.sh (go install from the module proxy).
# What cannot run here (no PostgreSQL binaries, no Chromium, no nginx, no node) is skipped, and the end of the
# output says what was skipped and the one command that enables it. Under .ci/run nothing may skip.
# Arguments are passed to go test (e.g. ./test.sh -run TestDemo ./cmd/scimsso/).
set -euo pipefail
cd "$(dirname "$0")"

skipped=()
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo "

# PostgreSQL ------------------------------------------------------------------------------------------
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  pgbin=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
  [ -x "$pgbin/initdb" ] || pgbin=""
fi
if [ -n "${SCIMSSO_TEST_POSTGRES:-}" ]; then
  echo "== PostgreSQL: the server named by SCIMSSO_TEST_POSTGRES"
elif [ -n "$pgbin" ]; then
  pgdir=$(mktemp -d /tmp/scimsso-test-pg.XXXXXX)
  as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$pgdir" # PostgreSQL refuses to run as root
    as=(runuser -u postgres --)
  fi
  pgport=""
  for p in $(shuf -i 20000-60000 -n 200); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then pgport=$p; break; fi
  done
  [ -n "$pgport" ] || { echo "no free loopback port for PostgreSQL"; exit 1; }
  "${as[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  "${as[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$pgport -c unix_socket_directories=$pgdir -c max_connections=400" start >/dev/null
  trap '"${as[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$pgdir"' EXIT
  export SCIMSSO_TEST_POSTGRES="postgres://postgres@127.0.0.1:$pgport/postgres?sslmode=disable"
  echo "== PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'): a private server on 127.0.0.1:$pgport for these tests"
else
  skipped+=("PostgreSQL tests (no PostgreSQL binaries): ${sudo}apt-get install -y postgresql")
fi

# Chromium, for the browser tests ---------------------------------------------------------------------
if [ ! -x /usr/bin/chromium ]; then
  skipped+=("browser tests (no /usr/bin/chromium): ${sudo}apt-get install -y chromium")
fi

# nginx, for the forward-auth test ---------------------------------------------------------------------
if [ ! -x /usr/sbin/nginx ]; then
  skipped+=("nginx tests (no /usr/sbin/nginx): ${sudo}apt-get install -y nginx")
fi

# oauth2-proxy, for the OpenID Connect client test -----------------------------------------------------
if ! bash interop/oauth2-proxy.sh 2>&1 | sed 's/^/   /'; then
  skipped+=("oauth2-proxy test (could not build it): bash interop/oauth2-proxy.sh")
fi

# The interop IdP -------------------------------------------------------------------------------------
if command -v node >/dev/null && command -v npm >/dev/null; then
  bash interop/setup.sh | sed 's/^/   /'
else
  skipped+=("interop tests against npm saml-idp (no node/npm): ${sudo}apt-get install -y nodejs npm")
fi

echo "== go test -race ./... $*"
status=0
go test -race ./... "$@" || status=$?

if [ ${#skipped[@]} -gt 0 ]; then
  echo
  echo "== SKIPPED here, and the command that enables each:"
  for s in "${skipped[@]}"; do echo "   - $s"; done
fi
exit $status
