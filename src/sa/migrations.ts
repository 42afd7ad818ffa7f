// One set of migrations for SQLite and PostgreSQL; column types are chosen per dialect where they
// differ (bytes, 64-bit integers). Append new migrations; never edit an applied one.
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

function types(dialect: Dialect) {
  return {
    bytes: dialect === 'postgres' ? ('bytea' as const) : ('blob' as const),
    ms: dialect === 'postgres' ? ('bigint' as const) : ('integer' as const),
  };
}

function migrations(dialect: Dialect): Record<string, Migration> {
  const t = types(dialect);
  return {
    '0001_ca_core': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('cas')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('root','issuing','ocsp')`))
          .addColumn('parent_id', 'text', (c) => c.references('cas.id'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('cert_der', t.bytes, (c) => c.notNull())
          .addColumn('key_ref', 'text', (c) => c.notNull())
          .addColumn('key_type', 'text', (c) => c.notNull())
          .addColumn('not_before', t.ms, (c) => c.notNull())
          .addColumn('not_after', t.ms, (c) => c.notNull())
          .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('holders')
          .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (c) => c.primaryKey().notNull())
          .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('org','person')`))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('unique_id', 'text', (c) => c.notNull().unique())
          .addColumn('contact_name', 'text')
          .addColumn('phone', 'text')
          .addColumn('email', 'text')
          .addColumn('address', 'text')
          .addColumn('postcode', 'text')
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('certificates')
          .addColumn('serial', 'text', (c) => c.primaryKey())
          .addColumn('ca_id', 'text', (c) => c.notNull().references('cas.id'))
          .addColumn('holder_id', 'integer', (c) => c.references('holders.id'))
          .addColumn('profile', 'text', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('not_before', t.ms, (c) => c.notNull())
          .addColumn('not_after', t.ms, (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('valid','revoked')`))
          .addColumn('revoked_at', t.ms)
          .addColumn('revocation_reason', 'integer')
          .addColumn('renews_serial', 'text')
          .addColumn('order_id', 'text', (c) => c.unique())
          .addColumn('spki_sha256', 'text', (c) => c.notNull())
          .addColumn('der', t.bytes, (c) => c.notNull())
          .addColumn('issued_at', t.ms, (c) => c.notNull())
          .addCheckConstraint('revocation_consistent', sql`(status = 'revoked') = (revoked_at is not null)`)
          .execute();
        await db.schema.createIndex('certificates_holder').on('certificates').columns(['holder_id', 'not_after']).execute();
        await db.schema.createIndex('certificates_revoked').on('certificates').columns(['ca_id', 'status']).execute();
        await db.schema.createIndex('certificates_renews').on('certificates').column('renews_serial').execute();
        await db.schema.createIndex('certificates_issued').on('certificates').column('issued_at').execute();

        await db.schema
          .createTable('crls')
          .addColumn('ca_id', 'text', (c) => c.notNull().references('cas.id'))
          .addColumn('crl_number', t.ms, (c) => c.notNull())
          .addColumn('this_update', t.ms, (c) => c.notNull())
          .addColumn('next_update', t.ms, (c) => c.notNull())
          .addColumn('der', t.bytes, (c) => c.notNull())
          .addPrimaryKeyConstraint('crls_pk', ['ca_id', 'crl_number'])
          .execute();

        await db.schema
          .createTable('audit_log')
          .addColumn('seq', t.ms, (c) => c.primaryKey())
          .addColumn('at', t.ms, (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text')
          .addColumn('details', 'text', (c) => c.notNull())
          .addColumn('prev_hash', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('audit_target').on('audit_log').columns(['target', 'seq']).execute();
        // Append-only by construction: the database itself refuses edits and deletions of audit rows
        // (the hash chain still catches someone who drops these triggers first).
        if (dialect === 'postgres') {
          await sql`create function audit_log_append_only() returns trigger language plpgsql as $$
            begin raise exception 'audit_log is append-only'; end $$`.execute(db);
          await sql`create trigger audit_log_no_change before update or delete on audit_log
            for each row execute function audit_log_append_only()`.execute(db);
        } else {
          await sql`create trigger audit_log_no_update before update on audit_log
            begin select raise(abort, 'audit_log is append-only'); end`.execute(db);
          await sql`create trigger audit_log_no_delete before delete on audit_log
            begin select raise(abort, 'audit_log is append-only'); end`.execute(db);
        }
      },
    },
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: () => Promise.resolve(migrations(dialect)) };
}
