#!/usr/bin/env bash
# Restores a backup made by scripts/backup.sh into a fresh installation: DATABASE_URL must name an
# empty PostgreSQL database (create it first), or DATA_DIR must hold no certdesk.sqlite. Then checks
# the restored copy: the audit chain verifies and still contains the head recorded at backup time,
# and every certificate counted then is there.
#   DATABASE_URL=… DATA_DIR=… CA_KEY_PASSPHRASE=… scripts/restore.sh /backups/certdesk-2026-12-01
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
src="${1:?usage: scripts/restore.sh BACKUP_DIR (DATA_DIR and DATABASE_URL of the new installation)}"
data_dir="$(realpath -m "${DATA_DIR:-./data}")"
[ -f "$src/MANIFEST" ] || { echo "restore: $src has no MANIFEST (not a scripts/backup.sh backup)" >&2; exit 2; }
(cd "$src" && sha256sum --quiet -c SHA256SUMS) || { echo "restore: $src is damaged (SHA256SUMS do not match)" >&2; exit 2; }
head="$(sed -n 's/^audit_head //p' "$src/MANIFEST")"
certs="$(sed -n 's/^certificates //p' "$src/MANIFEST")"

mkdir -p "$data_dir"
if [ -n "${DATABASE_URL:-}" ]; then
  [ -f "$src/database.pgdump" ] || { echo "restore: $src holds a SQLite backup; unset DATABASE_URL" >&2; exit 2; }
  tables="$(psql -Atq "$DATABASE_URL" -c "select count(*) from information_schema.tables where table_schema = 'public'")"
  [ "$tables" = "0" ] || { echo "restore: the database in DATABASE_URL is not empty ($tables tables); restore into a new one" >&2; exit 2; }
  pg_restore --no-owner --exit-on-error --single-transaction --dbname="$DATABASE_URL" "$src/database.pgdump"
else
  [ -f "$src/certdesk.sqlite" ] || { echo "restore: $src holds a PostgreSQL backup; set DATABASE_URL" >&2; exit 2; }
  [ -e "$data_dir/certdesk.sqlite" ] && { echo "restore: $data_dir/certdesk.sqlite exists; restore into an empty DATA_DIR" >&2; exit 2; }
  cp "$src/certdesk.sqlite" "$data_dir/certdesk.sqlite"
fi
tar -C "$data_dir" -xzf "$src/data-dir.tar.gz"

DATA_DIR="$data_dir" node "$repo/bin/certdesk.js" audit verify --checkpoint "$head"
if [ -n "${DATABASE_URL:-}" ]; then
  now="$(psql -Atq "$DATABASE_URL" -c 'select count(*) from certificates')"
else
  now="$(cd "$repo" && node --input-type=module -e "
    import Database from 'better-sqlite3';
    console.log(new Database(process.argv[1], { readonly: true }).prepare('select count(*) n from certificates').get().n);" "$data_dir/certdesk.sqlite")"
fi
[ "$now" -ge "$certs" ] || { echo "restore: $now certificates, the backup had $certs" >&2; exit 1; }
echo "restore: done into ${DATABASE_URL:+the database in DATABASE_URL and }$data_dir ($now certificates, audit head $head present)"
