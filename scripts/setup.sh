#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine:
# Redis, NATS (nats-server, JetStream), Chromium (Debian's, never a downloaded build), CJK fonts for screenshots,
# the Python side of the interop tests (channels, channels_redis, daphne, websockets,
# psycopg2 for the Django site test on the PostgreSQL this machine kind runs),
# openssl for the TLS test's self-signed certificate, git for the packaging tests (fresh clones),
# gcc, libc6-dev and linux-libc-dev (<linux/io_uring.h>) for the server's native writer (native/, built by
# npm's install step; the tests' io_uring probe runs Debian's python3, which the Python packages bring),
# and the npm packages from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
apt_packages=(redis-server nats-server chromium fonts-noto-cjk python3-channels-redis python3-django-channels python3-websockets daphne openssl python3-psycopg2 git gcc libc6-dev linux-libc-dev)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
# npm ci installs exactly the lock file (every platform's optional native package is
# listed in it, so it matches package.json here and on any other machine); its
# prepare script builds dist/. The tests need the devDependencies (tsx, playwright-core,
# pg, nats...): included even where NODE_ENV=production or npm's omit=dev is set.
npm ci --include=dev --no-audit --no-fund
