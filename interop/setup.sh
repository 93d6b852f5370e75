#!/usr/bin/env bash
# Installs what the interop test (go test ./interop/) needs: Node.js and npm (from Debian, only when
# missing) and the external IdP, mcguinness/saml-idp, pinned by package-lock.json (npm ci).
# Idempotent: a second run with an unchanged package-lock.json does nothing.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== installing nodejs and npm (Debian)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y nodejs npm
fi
echo "== node $(node --version), npm $(npm --version 2>/dev/null)"

stamp=node_modules/.scimsso-package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f node_modules/saml-idp/bin/run.js ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "== saml-idp already installed from this package-lock.json"
  exit 0
fi

echo "== npm ci (saml-idp)"
npm ci --no-audit --no-fund
echo "$want" >"$stamp"
node -e 'console.log("== saml-idp " + require("saml-idp/package.json").version + " with samlp " + require("samlp/package.json").version)'
