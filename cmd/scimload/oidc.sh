#!/usr/bin/env bash
# The README's OpenID Connect figure: a fresh scimsso serve on a fresh SQLite database, a tenant with
# SSO active at an IdP made by scimload -write-idp, a registered client, 100 users, then the oidc
# phase: -o round trips (authorize with a session, then token) on -c keep-alive connections.
# Usage: cmd/scimload/oidc.sh [ROUNDS] [WORKERS] [RS256|ES256]
set -euo pipefail
rounds=${1:-20000}
workers=${2:-8}
alg=${3:-RS256}
. "$(dirname "$0")/lib.sh"
cd "$bin"
"$S" tenant create acme --name Acme --domain example.com >/dev/null
token=$("$S" token issue --tenant acme 2>/dev/null)
"$L" -write-idp idp >/dev/null
"$S" sso set --tenant acme --metadata-file idp/metadata.xml --state active >/dev/null 2>&1
client=$("$S" client add load --redirect-uri http://127.0.0.1/cb --id-token-alg "$alg" 2>/dev/null)
serve "$S" --metrics-addr off --base-url "http://$addr"
SCIMLOAD_TOKEN=$token SCIMLOAD_CLIENT_SECRET=$(sed -n 's/^client_secret=//p' <<<"$client") "$L" \
	-base "http://$addr/scim/v2/acme" -phases create,oidc -seed-only -n 100 -o "$rounds" -c "$workers" -pid "$pid" \
	-idp idp -client-id "$(sed -n 's/^client_id=//p' <<<"$client")" -redirect-uri http://127.0.0.1/cb
