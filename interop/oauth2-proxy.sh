#!/usr/bin/env bash
# Builds oauth2-proxy, the OpenID Connect client that TestBrowserOAuth2Proxy (cmd/scimsso) puts in front
# of an application, into bin/ of this repository (ignored by git): go install from the Go module proxy,
# outside scimsso's module, so it is no dependency of scimsso. Idempotent: a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v7.15.6 # cmd/scimsso/oauth2proxy_test.go names the same
out=bin/oauth2-proxy-$version
if [ -x "$out" ]; then
  echo "== oauth2-proxy $version already built ($out)"
  exit 0
fi
echo "== building oauth2-proxy $version (go install, once)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && GOBIN="$tmp" go install "github.com/oauth2-proxy/oauth2-proxy/v7@$version")
mkdir -p bin
mv "$tmp/oauth2-proxy" "$out"
echo "== oauth2-proxy $version built: $out"
