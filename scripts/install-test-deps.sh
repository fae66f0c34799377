#!/usr/bin/env bash
# Installs what the test suite starts itself: the CNCF distribution registry (Debian's
# docker-registry), Chromium for browser tests, Prometheus (scrapes /metrics; the tests run
# their own server, never the packaged service), and from npm Azurite and oidc-provider (the
# OpenID provider of the single sign-on tests; node runs it). Idempotent and quiet
# when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v chromium >/dev/null || missing+=(chromium)
command -v git >/dev/null || missing+=(git)
command -v prometheus >/dev/null || missing+=(prometheus)
command -v node >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x node_modules/.bin/azurite-blob ] || [ ! -d node_modules/oidc-provider ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "Installing Azurite and oidc-provider (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
