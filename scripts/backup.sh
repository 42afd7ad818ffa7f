#!/usr/bin/env bash
# Backs up a certdesk installation into DEST (a new directory): the database — `pg_dump` (custom
# format) of DATABASE_URL, or an online copy of DATA_DIR/certdesk.sqlite (SQLite's backup API, safe
# while the server runs) — and DATA_DIR's files (software CA keys, encrypted; sandbox gateway keys),
# plus MANIFEST: the audit head (SEQ:HASH) and the certificate count at backup time, which
# scripts/restore.sh checks the restored copy against.
# Not in the backup: DATA_DIR/ca-key-passphrase (keep CA_KEY_PASSPHRASE apart from the keys it
# opens) and PKCS#11 keys (they stay on their tokens; back those up with the HSM's own tools).
#   DATABASE_URL=… DATA_DIR=… scripts/backup.sh /backups/certdesk-$(date +%F)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:?usage: scripts/backup.sh DEST_DIR (DATA_DIR and DATABASE_URL as for certdesk serve)}"
data_dir="$(realpath -m "${DATA_DIR:-./data}")"
[ -e "$dest" ] && { echo "backup: $dest exists; give a new directory" >&2; exit 2; }
mkdir -p "$dest"
chmod 700 "$dest"

if [ -n "${DATABASE_URL:-}" ]; then
  pg_dump --format=custom --no-owner --file="$dest/database.pgdump" "$DATABASE_URL"
else
  [ -f "$data_dir/certdesk.sqlite" ] || { echo "backup: no $data_dir/certdesk.sqlite (set DATA_DIR or DATABASE_URL)" >&2; exit 2; }
  (cd "$repo" && node --input-type=module -e "
    import Database from 'better-sqlite3';
    const db = new Database(process.argv[1], { readonly: true, fileMustExist: true });
    await db.backup(process.argv[2]);
    db.close();" "$data_dir/certdesk.sqlite" "$dest/certdesk.sqlite")
fi

# DATA_DIR's files, without the database files and the passphrase
tar -C "$data_dir" --exclude='./certdesk.sqlite*' --exclude='./ca-key-passphrase' -czf "$dest/data-dir.tar.gz" .

# what the restored copy must show: this head still in the audit chain, at least these certificates
head="$(DATA_DIR="$data_dir" node "$repo/bin/certdesk.js" audit verify | sed -n 's/.*; head \([0-9]*:[0-9a-f]*\)$/\1/p')"
[ -n "$head" ] || { echo "backup: the audit chain does not verify; backup kept in $dest but check it" >&2; exit 1; }
if [ -n "${DATABASE_URL:-}" ]; then
  certs="$(psql -Atq "$DATABASE_URL" -c 'select count(*) from certificates')"
else
  certs="$(cd "$repo" && node --input-type=module -e "
    import Database from 'better-sqlite3';
    console.log(new Database(process.argv[1], { readonly: true }).prepare('select count(*) n from certificates').get().n);" "$dest/certdesk.sqlite")"
fi
printf 'created %s\naudit_head %s\ncertificates %s\n' "$(date -u +%FT%TZ)" "$head" "$certs" > "$dest/MANIFEST"
(cd "$dest" && sha256sum ./* > SHA256SUMS)
echo "backup: $dest (audit head $head, $certs certificates)"
