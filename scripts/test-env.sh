#!/usr/bin/env bash
# Everything the test suite needs from the machine, then `npm test`: Debian packages (OpenSSL,
# SoftHSM2, OpenSC, Chromium, CJK fonts, PostgreSQL, Poppler, nginx, HAProxy; Go, GnuTLS and NSS tools for the
# interop test) and a throwaway PostgreSQL cluster whose URL goes to the tests as TEST_DATABASE_URL.
# Safe to run again; removes the cluster when done.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

packages=(openssl softhsm2 opensc chromium fonts-noto-cjk postgresql gnutls-bin poppler-utils golang-go libnss3-tools nginx systemd apache2-utils wrk haproxy)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A private PostgreSQL cluster on its own port, so the machine's own cluster (running or not) is untouched.
pgbin="/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -V | tail -1)/bin"
pgdir="$(mktemp -d /tmp/certdesk-pg.XXXXXX)"
pgport="${CERTDESK_TEST_PG_PORT:-55432}"
run_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$pgdir"
cleanup() {
  run_pg "$pgbin/pg_ctl -D $pgdir/data -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$pgdir"
}
trap cleanup EXIT
echo "== starting PostgreSQL ($pgbin) on 127.0.0.1:$pgport"
run_pg "$pgbin/initdb -D $pgdir/data -U certdesk --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
run_pg "$pgbin/pg_ctl -D $pgdir/data -l $pgdir/log -w -o '-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200' start" >/dev/null
export TEST_DATABASE_URL="postgres://certdesk@127.0.0.1:$pgport/postgres"

npm test
