#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, then runs all of it.
# PostgreSQL is installed from Debian and started as a throwaway cluster for the tests
# marked `postgres`.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

if [ -z "${FLOWYARD_TEST_PG_URL:-}" ]; then
  if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
  fi
  # shellcheck source=scripts/pg.sh
  source scripts/pg.sh
fi

# Well-known images (busybox, alpine) run through the real BusyBox (docs/containers.md).
if ! command -v busybox >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox >/dev/null
  fi
fi

# The dashboard's browser tests (marked `browser`) drive Debian's chromium through Playwright;
# `playwright install` cannot download browsers here.
if ! [ -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi

python3 -m pytest "$@"
