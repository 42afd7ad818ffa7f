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
    '0002_orders_payments_sessions': {
      async up(db: Kysely<unknown>) {
        // The catalogue: certificate types (证书种类) with their profile, renewal window and prices.
        await db.schema
          .createTable('certificate_types')
          .addColumn('code', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('name_en', 'text', (c) => c.notNull())
          .addColumn('profile', 'text', (c) => c.notNull().unique())
          .addColumn('renew_before_days', 'integer', (c) => c.notNull())
          .addColumn('renew_after_days', 'integer', (c) => c.notNull())
          .addColumn('online_renewal', 'integer', (c) => c.notNull())
          .addColumn('updated_at', t.ms, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('prices')
          .addColumn('type_code', 'text', (c) => c.notNull().references('certificate_types.code'))
          .addColumn('term_years', 'integer', (c) => c.notNull().check(sql`term_years between 1 and 3`))
          .addColumn('price_fen', 'integer', (c) => c.notNull().check(sql`price_fen >= 0`))
          .addPrimaryKeyConstraint('prices_pk', ['type_code', 'term_years'])
          .execute();
        await db.schema
          .createTable('settings')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('orders')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('renewal')`))
          .addColumn('holder_id', 'integer', (c) => c.references('holders.id'))
          .addColumn('certificate_serial', 'text', (c) => c.notNull().references('certificates.serial'))
          .addColumn('type_code', 'text', (c) => c.notNull())
          .addColumn('type_name', 'text', (c) => c.notNull())
          .addColumn('organization', 'text', (c) => c.notNull())
          .addColumn('term_years', 'integer', (c) => c.notNull())
          .addColumn('amount_fen', 'integer', (c) => c.notNull().check(sql`amount_fen >= 0`))
          .addColumn('payment_method', 'text', (c) => c.notNull().check(sql`payment_method in ('online','postal','bank')`))
          .addColumn('recipient', 'text', (c) => c.notNull())
          .addColumn('phone', 'text', (c) => c.notNull())
          .addColumn('address', 'text', (c) => c.notNull())
          .addColumn('postcode', 'text', (c) => c.notNull())
          .addColumn('reference', 'text', (c) => c.notNull().unique())
          .addColumn('state', 'text', (c) =>
            c
              .notNull()
              .check(
                sql`state in ('awaiting_payment','paid','issuing','issued','installed','completed','cancelled','expired','refunded')`,
              ),
          )
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('updated_at', t.ms, (c) => c.notNull())
          .addColumn('expires_at', t.ms, (c) => c.notNull())
          .addColumn('paid_at', t.ms)
          .addColumn('issued_serial', 'text')
          .execute();
        await db.schema.createIndex('orders_holder').on('orders').columns(['holder_id', 'created_at']).execute();
        await db.schema.createIndex('orders_certificate').on('orders').columns(['certificate_serial', 'state']).execute();
        await db.schema.createIndex('orders_state').on('orders').columns(['state', 'created_at']).execute();

        await db.schema
          .createTable('order_events')
          .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (c) => c.primaryKey().notNull())
          .addColumn('order_id', 'text', (c) => c.notNull().references('orders.id'))
          .addColumn('at', t.ms, (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('detail', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('order_events_order').on('order_events').columns(['order_id', 'id']).execute();

        // One payment per order, one record per gateway transaction: charging twice cannot be recorded as paying twice.
        await db.schema
          .createTable('payments')
          .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (c) => c.primaryKey().notNull())
          .addColumn('order_id', 'text', (c) => c.notNull().unique().references('orders.id'))
          .addColumn('channel', 'text', (c) => c.notNull())
          .addColumn('trade_no', 'text', (c) => c.notNull())
          .addColumn('amount_fen', 'integer', (c) => c.notNull())
          .addColumn('paid_at', t.ms, (c) => c.notNull())
          .addColumn('recorded_at', t.ms, (c) => c.notNull())
          .addColumn('recorded_by', 'text', (c) => c.notNull())
          .addColumn('raw', 'text', (c) => c.notNull())
          .addUniqueConstraint('payments_trade', ['channel', 'trade_no'])
          .execute();

        // The sandbox gateway's own ledger (it plays the external payment platform).
        await db.schema
          .createTable('sandbox_trades')
          .addColumn('trade_no', 'text', (c) => c.primaryKey())
          .addColumn('merchant_id', 'text', (c) => c.notNull())
          .addColumn('out_trade_no', 'text', (c) => c.notNull())
          .addColumn('amount_fen', 'integer', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('notify_url', 'text', (c) => c.notNull())
          .addColumn('return_url', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending','paid','closed')`))
          .addColumn('bank', 'text')
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('paid_at', t.ms)
          .addColumn('notify_attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('next_notify_at', t.ms)
          .addColumn('notified_at', t.ms)
          .addUniqueConstraint('sandbox_trades_out', ['merchant_id', 'out_trade_no'])
          .execute();
        await db.schema.createIndex('sandbox_trades_notify').on('sandbox_trades').columns(['status', 'next_notify_at']).execute();

        await db.schema
          .createTable('login_challenges')
          .addColumn('nonce', 'text', (c) => c.primaryKey())
          .addColumn('origin', 'text', (c) => c.notNull())
          .addColumn('expires_at', t.ms, (c) => c.notNull())
          .addColumn('used_at', t.ms)
          .execute();
        await db.schema
          .createTable('portal_sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('holder_id', 'integer', (c) => c.references('holders.id'))
          .addColumn('certificate_serial', 'text', (c) => c.notNull())
          .addColumn('csrf_token', 'text', (c) => c.notNull())
          .addColumn('renewal_only', 'integer', (c) => c.notNull())
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('last_seen_at', t.ms, (c) => c.notNull())
          .addColumn('ended_at', t.ms)
          .execute();

        // Demo catalogue; the staff console edits it. Prices snapshot into each order when it is created.
        const now = Date.now();
        await db
          .insertInto('certificate_types' as never)
          .values([
            {
              code: 'org-identity',
              name: '单位身份证书',
              name_en: 'Organisation identity certificate',
              profile: 'org-identity',
              renew_before_days: 92,
              renew_after_days: 92,
              online_renewal: 1,
              updated_at: now,
            },
            {
              code: 'personal-identity',
              name: '个人身份证书',
              name_en: 'Personal identity certificate',
              profile: 'personal-identity',
              renew_before_days: 92,
              renew_after_days: 92,
              online_renewal: 1,
              updated_at: now,
            },
          ] as never)
          .execute();
        await db
          .insertInto('prices' as never)
          .values([
            { type_code: 'org-identity', term_years: 1, price_fen: 30000 },
            { type_code: 'org-identity', term_years: 2, price_fen: 55000 },
            { type_code: 'org-identity', term_years: 3, price_fen: 78000 },
            { type_code: 'personal-identity', term_years: 1, price_fen: 10000 },
            { type_code: 'personal-identity', term_years: 2, price_fen: 18000 },
            { type_code: 'personal-identity', term_years: 3, price_fen: 25000 },
          ] as never)
          .execute();
        await db
          .insertInto('settings' as never)
          .values([
            { key: 'payment_methods', value: JSON.stringify(['online', 'postal', 'bank']) },
            {
              key: 'remittance',
              value: JSON.stringify({
                payee: 'certdesk 演示 CA 有限公司',
                bank: '中国工商银行上海市分行营业部',
                account: '1001 2000 3000 4000 500',
                postalAddress: '上海市虹口区四川北路1601室 certdesk 演示 CA 客服部',
                postcode: '200080',
                note: '请在汇款附言中填写参考号，到账后即可在线更新证书。',
              }),
            },
          ] as never)
          .execute();
      },
    },
    '0003_staff': {
      async up(db: Kysely<unknown>) {
        const id = dialect === 'postgres' ? ('serial' as const) : ('integer' as const);
        // Staff accounts (roles: comma-separated operator,reviewer,auditor,admin) and their sessions,
        // kept apart from the holders' portal_sessions.
        await db.schema
          .createTable('staff_accounts')
          .addColumn('id', id, (c) => c.primaryKey().notNull())
          .addColumn('username', 'text', (c) => c.notNull().unique())
          .addColumn('display_name', 'text', (c) => c.notNull())
          .addColumn('roles', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('totp_secret', 'text', (c) => c.notNull())
          .addColumn('totp_confirmed_at', t.ms)
          .addColumn('totp_last_step', t.ms)
          .addColumn('failed_attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('locked_until', t.ms)
          .addColumn('disabled_at', t.ms)
          .addColumn('password_changed_at', t.ms, (c) => c.notNull())
          .addColumn('last_login_at', t.ms)
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('staff_sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('staff_id', 'integer', (c) => c.notNull().references('staff_accounts.id'))
          .addColumn('csrf_token', 'text', (c) => c.notNull())
          .addColumn('mfa_passed', 'integer', (c) => c.notNull())
          .addColumn('ip', 'text')
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('last_seen_at', t.ms, (c) => c.notNull())
          .addColumn('ended_at', t.ms)
          .execute();
        await db.schema.createIndex('staff_sessions_staff').on('staff_sessions').columns(['staff_id', 'created_at']).execute();

        // One invoice per paid order, created in the payment's transaction; content frozen then.
        await db.schema
          .createTable('invoices')
          .addColumn('id', id, (c) => c.primaryKey().notNull())
          .addColumn('order_id', 'text', (c) => c.notNull().unique().references('orders.id'))
          .addColumn('number', 'text', (c) => c.notNull().unique())
          .addColumn('issuer_name', 'text', (c) => c.notNull())
          .addColumn('issuer_tax_id', 'text', (c) => c.notNull())
          .addColumn('buyer_name', 'text', (c) => c.notNull())
          .addColumn('buyer_unique_id', 'text')
          .addColumn('items', 'text', (c) => c.notNull())
          .addColumn('amount_fen', 'integer', (c) => c.notNull())
          .addColumn('paid_at', t.ms, (c) => c.notNull())
          .addColumn('payment_channel', 'text', (c) => c.notNull())
          .addColumn('payment_trade_no', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('issued','void')`))
          .addColumn('paper_status', 'text', (c) => c.notNull().check(sql`paper_status in ('to_mail','mailed','not_required')`))
          .addColumn('carrier', 'text')
          .addColumn('tracking_no', 'text')
          .addColumn('mailed_at', t.ms)
          .addColumn('mailed_by', 'text')
          .addColumn('pdf', t.bytes)
          .addColumn('pdf_sha256', 'text')
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('voided_at', t.ms)
          .addColumn('void_reason', 'text')
          .execute();
        await db.schema.createIndex('invoices_paper').on('invoices').columns(['paper_status', 'created_at']).execute();
        await db.schema.createIndex('invoices_created').on('invoices').column('created_at').execute();

        // Money going back: the order's payment (before issuance) or an extra payment; each at most once.
        await db.schema
          .createTable('refunds')
          .addColumn('id', id, (c) => c.primaryKey().notNull())
          .addColumn('order_id', 'text', (c) => c.notNull().references('orders.id'))
          .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('order','extra')`))
          .addColumn('channel', 'text', (c) => c.notNull())
          .addColumn('trade_no', 'text', (c) => c.notNull())
          .addColumn('amount_fen', 'integer', (c) => c.notNull().check(sql`amount_fen > 0`))
          .addColumn('refund_reference', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('recorded_by', 'text', (c) => c.notNull())
          .addColumn('recorded_at', t.ms, (c) => c.notNull())
          .addUniqueConstraint('refunds_trade', ['channel', 'trade_no'])
          .execute();
        await db.schema.createIndex('refunds_order').on('refunds').column('order_id').execute();

        // Bank statement lines already processed: re-importing a statement records nothing twice.
        await db.schema
          .createTable('statement_imports')
          .addColumn('id', id, (c) => c.primaryKey().notNull())
          .addColumn('filename', 'text', (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('lines', 'integer', (c) => c.notNull())
          .addColumn('recorded', 'integer', (c) => c.notNull())
          .addColumn('unmatched', 'integer', (c) => c.notNull())
          .addColumn('imported_by', 'text', (c) => c.notNull())
          .addColumn('imported_at', t.ms, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('statement_lines')
          .addColumn('id', id, (c) => c.primaryKey().notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('transaction_id', 'text', (c) => c.notNull())
          .addColumn('import_id', 'integer', (c) => c.notNull().references('statement_imports.id'))
          .addColumn('line_date', 'text', (c) => c.notNull())
          .addColumn('amount_fen', 'integer', (c) => c.notNull())
          .addColumn('memo', 'text', (c) => c.notNull())
          .addColumn('payer', 'text', (c) => c.notNull())
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('order_id', 'text')
          .addColumn('processed_at', t.ms, (c) => c.notNull())
          .addUniqueConstraint('statement_lines_tx', ['source', 'transaction_id'])
          .execute();

        // The staff console's lists: newest orders, the offline-payment queue, audit filters.
        await db.schema.createIndex('orders_created').on('orders').column('created_at').execute();
        await db.schema
          .createIndex('orders_method_state')
          .on('orders')
          .columns(['payment_method', 'state', 'created_at'])
          .execute();
        await db.schema.createIndex('audit_action').on('audit_log').columns(['action', 'seq']).execute();
        await db.schema.createIndex('audit_actor').on('audit_log').columns(['actor', 'seq']).execute();
        await db.schema.createIndex('audit_at').on('audit_log').column('at').execute();
      },
    },
    '0004_orders_issued_serial': {
      async up(db: Kysely<unknown>) {
        // A holder logging in with the new certificate of an unfinished order finds that order by it.
        await db.schema.createIndex('orders_issued_serial').on('orders').columns(['issued_serial', 'state']).execute();
      },
    },
    '0005_orders_type_name_en': {
      async up(db: Kysely<unknown>) {
        // The English portal names the 证书种类 of an order in English: kept with the Chinese name.
        await db.schema
          .alterTable('orders')
          .addColumn('type_name_en', 'text', (c) => c.notNull().defaultTo(''))
          .execute();
        await sql`update orders set type_name_en = coalesce((select c.name_en from certificate_types c where c.code = orders.type_code), type_name)`.execute(
          db,
        );
      },
    },
    '0006_challenge_text_extra_payments': {
      async up(db: Kysely<unknown>) {
        // A login must sign exactly the text that was issued: its SHA-256 is kept with the nonce.
        // Challenges issued before this migration have none and can no longer be used (they live 2 minutes).
        await db.schema.alterTable('login_challenges').addColumn('text_sha256', 'text').execute();

        // Money an order did not need (a second trade for a paid order, a payment for a closed one):
        // one record per (channel, trade_no), like the order's own payment, so repeated notifications
        // of the same extra payment record it once.
        await db.schema
          .createTable('extra_payments')
          .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (c) => c.primaryKey().notNull())
          .addColumn('order_id', 'text', (c) => c.notNull().references('orders.id'))
          .addColumn('channel', 'text', (c) => c.notNull())
          .addColumn('trade_no', 'text', (c) => c.notNull())
          .addColumn('amount_fen', 'integer', (c) => c.notNull().check(sql`amount_fen > 0`))
          .addColumn('paid_at', t.ms, (c) => c.notNull())
          .addColumn('recorded_at', t.ms, (c) => c.notNull())
          .addColumn('recorded_by', 'text', (c) => c.notNull())
          .addColumn('raw', 'text', (c) => c.notNull())
          .addUniqueConstraint('extra_payments_trade', ['channel', 'trade_no'])
          .execute();
        await db.schema.createIndex('extra_payments_order').on('extra_payments').column('order_id').execute();
        // Extras recorded before (as order events only, possibly repeated): the first of each trade,
        // with a whole positive amount, becomes its record. The events stay as they are.
        const events = await sql<{ order_id: string; at: number | string; actor: string; detail: string }>`
          select order_id, at, actor, detail from order_events where type = 'payment.extra' order by id`.execute(db);
        const seen = new Set<string>();
        for (const e of events.rows) {
          const d = JSON.parse(e.detail) as { channel?: unknown; tradeNo?: unknown; amountFen?: unknown };
          if (typeof d.channel !== 'string' || typeof d.tradeNo !== 'string') continue;
          if (typeof d.amountFen !== 'number' || !Number.isSafeInteger(d.amountFen) || d.amountFen <= 0) continue;
          const key = JSON.stringify([d.channel, d.tradeNo]);
          if (seen.has(key)) continue;
          seen.add(key);
          await db
            .insertInto('extra_payments' as never)
            .values({
              order_id: e.order_id,
              channel: d.channel,
              trade_no: d.tradeNo,
              amount_fen: d.amountFen,
              paid_at: Number(e.at),
              recorded_at: Number(e.at),
              recorded_by: e.actor,
              raw: e.detail,
            } as never)
            .execute();
        }
      },
    },
    '0007_audit_log_no_truncate': {
      async up(db: Kysely<unknown>) {
        // PostgreSQL's TRUNCATE fires no row trigger, so the 0001 triggers let it empty the log at once.
        // (SQLite has no TRUNCATE: its DELETE without WHERE still runs the row trigger.)
        if (dialect === 'postgres')
          await sql`create trigger audit_log_no_truncate before truncate on audit_log
            for each statement execute function audit_log_append_only()`.execute(db);
      },
    },
    '0008_certificates_kept': {
      async up(db: Kysely<unknown>) {
        // A CA never loses the record of a certificate it issued: rows are never deleted, the issued
        // bytes and what identifies them never change, and revocation is final. Only the status
        // columns move (valid → revoked), whoever connects.
        if (dialect === 'postgres') {
          await sql`create function certificates_kept() returns trigger language plpgsql as $$
            begin
              if tg_op <> 'UPDATE' then raise exception 'certificates are kept: % refused', tg_op; end if;
              if new.serial is distinct from old.serial or new.ca_id is distinct from old.ca_id
                or new.der is distinct from old.der or new.spki_sha256 is distinct from old.spki_sha256
                or new.order_id is distinct from old.order_id or new.issued_at is distinct from old.issued_at then
                raise exception 'certificates are kept: an issued certificate record cannot change';
              end if;
              if old.status = 'revoked' and new.status is distinct from 'revoked' then
                raise exception 'certificates are kept: revocation is final';
              end if;
              return new;
            end $$`.execute(db);
          await sql`create trigger certificates_kept before update or delete on certificates
            for each row execute function certificates_kept()`.execute(db);
          await sql`create trigger certificates_no_truncate before truncate on certificates
            for each statement execute function certificates_kept()`.execute(db);
        } else {
          await sql`create trigger certificates_no_delete before delete on certificates
            begin select raise(abort, 'certificates are kept: DELETE refused'); end`.execute(db);
          await sql`create trigger certificates_record_fixed before update on certificates
            when new.serial is not old.serial or new.ca_id is not old.ca_id or new.der is not old.der
              or new.spki_sha256 is not old.spki_sha256 or new.order_id is not old.order_id
              or new.issued_at is not old.issued_at
            begin select raise(abort, 'certificates are kept: an issued certificate record cannot change'); end`.execute(db);
          await sql`create trigger certificates_revocation_final before update of status on certificates
            when old.status = 'revoked' and new.status is not 'revoked'
            begin select raise(abort, 'certificates are kept: revocation is final'); end`.execute(db);
        }
      },
    },
    '0009_sm2_dual_pair': {
      async up(db: Kysely<unknown>) {
        // The encryption certificate of an SM2 dual pair is an ordinary certificate row (OCSP, CRLs,
        // revocation and spki_sha256 work as for any), linked to its signing certificate — which
        // carries the order — by signing_serial. Unique: one order, one signing certificate, one
        // encryption certificate, however often issuance is retried.
        await db.schema
          .alterTable('certificates')
          .addColumn('signing_serial', 'text', (c) => c.references('certificates.serial'))
          .execute();
        await db.schema.createIndex('certificates_signing_serial').unique().on('certificates').column('signing_serial').execute();
        // The link is part of the issued record (0008): it never changes once written.
        if (dialect === 'postgres') {
          await sql`create or replace function certificates_kept() returns trigger language plpgsql as $$
            begin
              if tg_op <> 'UPDATE' then raise exception 'certificates are kept: % refused', tg_op; end if;
              if new.serial is distinct from old.serial or new.ca_id is distinct from old.ca_id
                or new.der is distinct from old.der or new.spki_sha256 is distinct from old.spki_sha256
                or new.order_id is distinct from old.order_id or new.issued_at is distinct from old.issued_at
                or new.signing_serial is distinct from old.signing_serial then
                raise exception 'certificates are kept: an issued certificate record cannot change';
              end if;
              if old.status = 'revoked' and new.status is distinct from 'revoked' then
                raise exception 'certificates are kept: revocation is final';
              end if;
              return new;
            end $$`.execute(db);
        } else {
          await sql`create trigger certificates_pair_fixed before update on certificates
            when new.signing_serial is not old.signing_serial
            begin select raise(abort, 'certificates are kept: an issued certificate record cannot change'); end`.execute(db);
        }

        // The dual-pair certificate type (a catalogue row the staff console edits like the others).
        const now = Date.now();
        await db
          .insertInto('certificate_types' as never)
          .values({
            code: 'org-identity-sm2',
            name: '单位身份证书（SM2 双证书）',
            name_en: 'Organisation identity certificate (SM2 dual)',
            profile: 'org-identity-sm2',
            renew_before_days: 92,
            renew_after_days: 92,
            online_renewal: 1,
            updated_at: now,
          } as never)
          .onConflict((oc) => oc.doNothing())
          .execute();
        await db
          .insertInto('prices' as never)
          .values([
            { type_code: 'org-identity-sm2', term_years: 1, price_fen: 40000 },
            { type_code: 'org-identity-sm2', term_years: 2, price_fen: 72000 },
            { type_code: 'org-identity-sm2', term_years: 3, price_fen: 100000 },
          ] as never)
          .onConflict((oc) => oc.doNothing())
          .execute();
      },
    },
    '0010_kmc_escrow': {
      async up(db: Kysely<unknown>) {
        // The key management centre's store (src/kmc/). Master keys are registered by id and check
        // value only (never the key), so a wrong or replaced key file is recognised before anything
        // is decrypted; escrowed keys are encrypted under one of them.
        await db.schema
          .createTable('kmc_master_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('algorithm', 'text', (c) => c.notNull().check(sql`algorithm in ('sm4')`))
          .addColumn('check_value', 'text', (c) => c.notNull())
          .addColumn('storage', 'text', (c) => c.notNull())
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .execute();
        // One key per request (order), one row per public key; the signing key it was first
        // delivered to, so a repeated request cannot send it to another key (that is a recovery).
        await db.schema
          .createTable('kmc_keys')
          .addColumn('key_id', 'text', (c) => c.primaryKey())
          .addColumn('request_id', 'text', (c) => c.notNull().unique())
          .addColumn('public_spki', t.bytes, (c) => c.notNull())
          .addColumn('spki_sha256', 'text', (c) => c.notNull().unique())
          .addColumn('encrypted_private_key', t.bytes, (c) => c.notNull())
          .addColumn('master_key_id', 'text', (c) => c.notNull().references('kmc_master_keys.id'))
          .addColumn('signing_spki_sha256', 'text', (c) => c.notNull())
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .execute();
        // Escrow is append-only, whoever connects: losing or rewriting an escrowed key loses every
        // ciphertext made to it.
        if (dialect === 'postgres') {
          await sql`create function kmc_append_only() returns trigger language plpgsql as $$
            begin raise exception 'KMC escrow is append-only: % on % refused', tg_op, tg_table_name; end $$`.execute(db);
          for (const table of ['kmc_master_keys', 'kmc_keys']) {
            await sql`create trigger ${sql.id(`${table}_no_change`)} before update or delete on ${sql.table(table)}
              for each row execute function kmc_append_only()`.execute(db);
            await sql`create trigger ${sql.id(`${table}_no_truncate`)} before truncate on ${sql.table(table)}
              for each statement execute function kmc_append_only()`.execute(db);
          }
        } else {
          for (const table of ['kmc_master_keys', 'kmc_keys']) {
            for (const op of ['update', 'delete']) {
              await sql`create trigger ${sql.id(`${table}_no_${op}`)} before ${sql.raw(op)} on ${sql.table(table)}
                begin select raise(abort, ${sql.lit(`KMC escrow is append-only: ${op.toUpperCase()} on ${table} refused`)}); end`.execute(
                db,
              );
            }
          }
        }
      },
    },
    '0011_job_runs_rate_limits': {
      async up(db: Kysely<unknown>) {
        // Many instances on one database: a scheduled job runs once per period across all of them
        // (the first to insert its (job, period) row runs it), and rate-limit counters are shared.
        await db.schema
          .createTable('job_runs')
          .addColumn('job', 'text', (c) => c.notNull())
          .addColumn('period', t.ms, (c) => c.notNull())
          .addColumn('instance', 'text', (c) => c.notNull())
          .addColumn('started_at', t.ms, (c) => c.notNull())
          .addColumn('finished_at', t.ms)
          .addColumn('error', 'text')
          .addPrimaryKeyConstraint('job_runs_pk', ['job', 'period'])
          .execute();
        await db.schema
          .createTable('rate_limits')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('window_start', t.ms, (c) => c.notNull())
          .addColumn('hits', 'integer', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('rate_limits_window').on('rate_limits').column('window_start').execute();
      },
    },
    '0012_service_orders': {
      async up(db: Kysely<unknown>) {
        // The holder's other services are orders too (upgrade, change of details, seal, relying
        // application), so they share payment, invoices and the state machine.
        await widenOrderKinds(db, dialect, ['renewal', 'upgrade', 'change', 'seal', 'app']);
        // Supporting documents holders upload (营业执照, 变更通知书, 公安备案 …): kept with their hash, never
        // served to anyone but the holder and staff.
        await db.schema
          .createTable('documents')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('holder_id', 'integer', (c) => c.references('holders.id'))
          .addColumn('purpose', 'text', (c) => c.notNull())
          .addColumn('file_name', 'text', (c) => c.notNull())
          .addColumn('media_type', 'text', (c) =>
            c.notNull().check(sql`media_type in ('application/pdf','image/jpeg','image/png')`),
          )
          .addColumn('size_bytes', 'integer', (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('content', t.bytes, (c) => c.notNull())
          .addColumn('uploaded_at', t.ms, (c) => c.notNull())
          .addColumn('uploaded_by', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('documents_holder').on('documents').columns(['holder_id', 'uploaded_at']).execute();
        // Relying applications (应用开通) and the holders who enabled their certificates for them. An
        // enablement belongs to the holder (唯一识别号), not to a certificate, so it survives renewal.
        await db.schema
          .createTable('relying_apps')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('name_en', 'text', (c) => c.notNull())
          .addColumn('description', 'text', (c) => c.notNull())
          /** JSON array of certificate type codes it accepts */
          .addColumn('accepted_types', 'text', (c) => c.notNull())
          .addColumn('fee_per_year_fen', 'integer', (c) => c.notNull().check(sql`fee_per_year_fen >= 0`))
          .addColumn('credential_id', 'text', (c) => c.notNull().unique())
          .addColumn('credential_hash', 'text', (c) => c.notNull())
          .addColumn('webhook_url', 'text')
          .addColumn('webhook_secret', 'text')
          .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('updated_at', t.ms, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('app_enablements')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('app_id', 'text', (c) => c.notNull().references('relying_apps.id'))
          .addColumn('holder_id', 'integer', (c) => c.notNull().references('holders.id'))
          .addColumn('order_id', 'text', (c) => c.unique().references('orders.id'))
          .addColumn('starts_at', t.ms, (c) => c.notNull())
          .addColumn('ends_at', t.ms, (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('active','ended')`))
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('ended_at', t.ms)
          .execute();
        await db.schema
          .createIndex('app_enablements_holder')
          .on('app_enablements')
          .columns(['holder_id', 'app_id', 'state'])
          .execute();
      },
    },
    '0013_seals': {
      async up(db: Kysely<unknown>) {
        // The seal-making unit (制章者) of an SM2 issuing CA: its own key and certificate. Not a CA (it
        // signs seals, never certificates or CRLs), so it lives beside the cas table, not in it.
        await db.schema
          .createTable('seal_makers')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('issuing_ca_id', 'text', (c) => c.notNull().references('cas.id'))
          .addColumn('cert_der', t.bytes, (c) => c.notNull())
          .addColumn('key_ref', 'text', (c) => c.notNull())
          .addColumn('key_type', 'text', (c) => c.notNull())
          .addColumn('not_before', t.ms, (c) => c.notNull())
          .addColumn('not_after', t.ms, (c) => c.notNull())
          .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .execute();
        // A seal: its current version (the one bound to the holder's current signing certificate).
        // Re-made on renewal with the same esID; every DER ever made is kept in seal_versions.
        await db.schema
          .createTable('seals')
          .addColumn('es_id', 'text', (c) => c.primaryKey())
          .addColumn('holder_id', 'integer', (c) => c.references('holders.id'))
          .addColumn('holder_unique_id', 'text')
          .addColumn('type_code', 'text', (c) => c.notNull())
          .addColumn('type_number', 'integer', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('picture_png', t.bytes, (c) => c.notNull())
          .addColumn('width_mm', 'integer', (c) => c.notNull())
          .addColumn('height_mm', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('valid','revoked')`))
          .addColumn('valid_start', t.ms, (c) => c.notNull())
          .addColumn('valid_end', t.ms, (c) => c.notNull())
          /** the end the holder paid for; valid_end is this or the bound certificate's end, the earlier */
          .addColumn('term_end', t.ms, (c) => c.notNull())
          .addColumn('bound_serial', 'text', (c) => c.notNull())
          .addColumn('maker_id', 'text', (c) => c.notNull().references('seal_makers.id'))
          .addColumn('generation', 'integer', (c) => c.notNull())
          .addColumn('der', t.bytes, (c) => c.notNull())
          .addColumn('order_id', 'text', (c) => c.unique().references('orders.id'))
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('updated_at', t.ms, (c) => c.notNull())
          .addColumn('revoked_at', t.ms)
          .addColumn('revoked_reason', 'text')
          .execute();
        await db.schema.createIndex('seals_bound').on('seals').columns(['bound_serial', 'status']).execute();
        await db.schema.createIndex('seals_holder').on('seals').columns(['holder_unique_id', 'created_at']).execute();
        await db.schema
          .createTable('seal_versions')
          .addColumn('es_id', 'text', (c) => c.notNull().references('seals.es_id'))
          .addColumn('generation', 'integer', (c) => c.notNull())
          .addColumn('bound_serial', 'text', (c) => c.notNull())
          .addColumn('der', t.bytes, (c) => c.notNull())
          .addColumn('made_at', t.ms, (c) => c.notNull())
          .addColumn('made_by', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('seal_versions_pk', ['es_id', 'generation'])
          .execute();
        await appendOnly(db, dialect, 'seal_versions', 'every seal the CA made is kept');
      },
    },
    '0014_seal_types': {
      async up(db: Kysely<unknown>) {
        // Electronic seal types (印章种类), staff-editable like the certificate types; an application
        // copies name and price, so an edit applies to new applications only.
        await db.schema
          .createTable('seal_types')
          .addColumn('code', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('name_en', 'text', (c) => c.notNull())
          .addColumn('price_fen', 'integer', (c) => c.notNull().check(sql`price_fen > 0`))
          .addColumn('validity_days', 'integer', (c) => c.notNull().check(sql`validity_days between 1 and 3660`))
          /** 1: the seal's name must be the organisation on the holder's certificate (单位公章) */
          .addColumn('name_is_organization', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('updated_at', t.ms, (c) => c.notNull())
          .execute();
        const now = Date.now();
        await db
          .insertInto('seal_types' as never)
          .values(
            (
              [
                ['official', '单位公章', 'Official seal', 30000, 1],
                ['contract', '合同专用章', 'Contract seal', 20000, 0],
                ['finance', '财务专用章', 'Finance seal', 20000, 0],
                ['invoice', '发票专用章', 'Invoice seal', 20000, 0],
                ['legal_rep', '法定代表人名章', "Legal representative's seal", 10000, 0],
              ] as const
            ).map(([code, name, name_en, price_fen, org]) => ({
              code,
              name,
              name_en,
              price_fen,
              validity_days: 365,
              name_is_organization: org,
              active: 1,
              updated_at: now,
            })) as never,
          )
          .execute();
        // One application per seal order: what the holder asked for, the document the reviewer
        // checks, the decision, and the seal made from it (es_id, set once).
        await db.schema
          .createTable('seal_applications')
          .addColumn('order_id', 'text', (c) => c.primaryKey().references('orders.id'))
          .addColumn('holder_id', 'integer', (c) => c.references('holders.id'))
          .addColumn('certificate_serial', 'text', (c) => c.notNull().references('certificates.serial'))
          .addColumn('type_code', 'text', (c) => c.notNull().references('seal_types.code'))
          .addColumn('type_name', 'text', (c) => c.notNull())
          .addColumn('seal_name', 'text', (c) => c.notNull())
          .addColumn('picture_png', t.bytes, (c) => c.notNull())
          .addColumn('picture_width_mm', 'integer', (c) => c.notNull())
          .addColumn('picture_height_mm', 'integer', (c) => c.notNull())
          .addColumn('picture_source', 'text', (c) => c.notNull().check(sql`picture_source in ('generated','uploaded')`))
          .addColumn('validity_days', 'integer', (c) => c.notNull())
          .addColumn('document_id', 'text', (c) => c.notNull().references('documents.id'))
          .addColumn('review_state', 'text', (c) => c.notNull().check(sql`review_state in ('pending','approved','rejected')`))
          .addColumn('reviewer', 'text')
          .addColumn('reviewed_at', t.ms)
          .addColumn('reason', 'text')
          .addColumn('es_id', 'text', (c) => c.unique())
          .addColumn('made_at', t.ms)
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('seal_applications_review')
          .on('seal_applications')
          .columns(['review_state', 'created_at'])
          .execute();
        await db.schema
          .createIndex('seal_applications_holder')
          .on('seal_applications')
          .columns(['holder_id', 'created_at'])
          .execute();
      },
    },
    '0015_upgrade_change': {
      async up(db: Kysely<unknown>) {
        // Upgrade paths (升级证书): which certificate type may become which, at what price, whether the
        // holder needs a new key (always when the algorithm changes) and whether the old certificate's
        // remaining validity carries over. Staff-editable like the rest of the catalogue.
        await db.schema
          .createTable('upgrade_paths')
          .addColumn('from_type', 'text', (c) => c.notNull().references('certificate_types.code'))
          .addColumn('to_type', 'text', (c) => c.notNull().references('certificate_types.code'))
          .addColumn('price_fen', 'integer', (c) => c.notNull().check(sql`price_fen >= 0`))
          .addColumn('term_years', 'integer', (c) => c.notNull().check(sql`term_years between 1 and 10`))
          .addColumn('new_key', 'integer', (c) =>
            c
              .notNull()
              .defaultTo(1)
              .check(sql`new_key in (0,1)`),
          )
          .addColumn('carry_over', 'integer', (c) =>
            c
              .notNull()
              .defaultTo(1)
              .check(sql`carry_over in (0,1)`),
          )
          .addColumn('active', 'integer', (c) =>
            c
              .notNull()
              .defaultTo(1)
              .check(sql`active in (0,1)`),
          )
          .addColumn('updated_at', t.ms, (c) => c.notNull())
          .addPrimaryKeyConstraint('upgrade_paths_pk', ['from_type', 'to_type'])
          .addCheckConstraint('upgrade_paths_not_same', sql`from_type <> to_type`)
          .execute();
        await db
          .insertInto('upgrade_paths' as never)
          .values({
            from_type: 'org-identity',
            to_type: 'org-identity-sm2',
            price_fen: 20000,
            term_years: 1,
            new_key: 1,
            carry_over: 1,
            active: 1,
            updated_at: Date.now(),
          } as never)
          .execute();
      },
    },
    '0016_revocation': {
      async up(db: Kysely<unknown>) {
        // What a revocation rests on: the holder's signed statement, or the staff decision on a loss
        // report. Evidence: never rewritten. nonce is unique, so one statement revokes once.
        await db.schema
          .createTable('revocation_statements')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('serial', 'text', (c) => c.notNull().references('certificates.serial'))
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('holder','staff')`))
          .addColumn('nonce', 'text', (c) => c.unique())
          .addColumn('statement', 'text', (c) => c.notNull())
          .addColumn('signature', t.bytes)
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('request_id', 'text')
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('revocation_statements_serial').on('revocation_statements').column('serial').execute();
        await appendOnly(db, dialect, 'revocation_statements', 'revocation evidence is kept as given');
        // 挂失/撤销申请 from someone without the key: matched_serial is known to staff only.
        await db.schema
          .createTable('revocation_requests')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('unique_id', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('contact', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('matched_serial', 'text')
          .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending','approved','rejected')`))
          .addColumn('reviewer', 'text')
          .addColumn('decision_reason', 'text')
          .addColumn('reviewed_at', t.ms)
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('revocation_requests_state')
          .on('revocation_requests')
          .columns(['state', 'created_at'])
          .execute();
        // whether an unused period is refunded on revocation; none unless staff say so
        await db.schema
          .alterTable('certificate_types')
          .addColumn('refund_unused', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      },
    },
    '0017_documents_kept': {
      async up(db: Kysely<unknown>) {
        // Supporting documents are evidence for a review decision: once uploaded, never rewritten or removed.
        await appendOnly(db, dialect, 'documents', 'supporting documents are kept as uploaded');
      },
    },
    '0018_upgrade_orders': {
      async up(db: Kysely<unknown>) {
        // 升级证书: what an upgrade order was sold as, snapshot at creation (a path edited or closed
        // later does not change an order already open): the path, its term and whether the old
        // certificate's remaining time carries over. One row per upgrade order, never rewritten.
        await db.schema
          .createTable('upgrade_orders')
          .addColumn('order_id', 'text', (c) => c.primaryKey().references('orders.id'))
          .addColumn('from_type', 'text', (c) => c.notNull())
          .addColumn('to_type', 'text', (c) => c.notNull())
          .addColumn('to_profile', 'text', (c) => c.notNull())
          .addColumn('term_years', 'integer', (c) => c.notNull().check(sql`term_years between 1 and 10`))
          .addColumn('carry_over', 'integer', (c) => c.notNull().check(sql`carry_over in (0,1)`))
          .addColumn('new_key', 'integer', (c) => c.notNull().check(sql`new_key in (0,1)`))
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .execute();
        await appendOnly(db, dialect, 'upgrade_orders', 'an order is what it was sold as');
      },
    },
    '0019_change_requests': {
      async up(db: Kysely<unknown>) {
        // 变更证书: what the holder asked to change (old and new subject as JSON attribute lists, the
        // plain 法定代表人, the reason, the supporting documents' ids), one row per order of kind
        // 'change', and the reviewer's decision, one row per request (the primary key makes a
        // second decision fail). Both are evidence: never rewritten.
        await db.schema
          .createTable('change_requests')
          .addColumn('order_id', 'text', (c) => c.primaryKey().references('orders.id'))
          .addColumn('holder_id', 'integer', (c) => c.references('holders.id'))
          .addColumn('certificate_serial', 'text', (c) => c.notNull().references('certificates.serial'))
          .addColumn('holder_kind', 'text', (c) => c.notNull().check(sql`holder_kind in ('org','person')`))
          .addColumn('old_subject', 'text', (c) => c.notNull())
          .addColumn('new_subject', 'text', (c) => c.notNull())
          .addColumn('changes', 'text', (c) => c.notNull())
          .addColumn('legal_representative', 'text')
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('document_ids', 'text', (c) => c.notNull())
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('change_requests_holder')
          .on('change_requests')
          .columns(['holder_id', 'created_at'])
          .execute();
        await db.schema
          .createIndex('change_requests_certificate')
          .on('change_requests')
          .columns(['certificate_serial', 'created_at'])
          .execute();
        await appendOnly(db, dialect, 'change_requests', 'a change request is kept as the holder made it');
        await db.schema
          .createTable('change_reviews')
          .addColumn('order_id', 'text', (c) => c.primaryKey().references('change_requests.order_id'))
          .addColumn('decision', 'text', (c) => c.notNull().check(sql`decision in ('approved','rejected')`))
          .addColumn('reason', 'text')
          .addColumn('reviewer', 'text', (c) => c.notNull())
          .addColumn('decided_at', t.ms, (c) => c.notNull())
          .execute();
        await appendOnly(db, dialect, 'change_reviews', 'a review decision is kept as made');
        // A seal whose name was the holder's old 名称 no longer names the holder once the change is
        // issued: it is re-made for the new certificate (so the key keeps working) and marked for
        // re-application with the change order that made its name stale.
        await db.schema.alterTable('seals').addColumn('reapply_order', 'text').execute();
        await db.schema.alterTable('seals').addColumn('reapply_at', t.ms).execute();
      },
    },
    '0020_outbox': {
      async up(db: Kysely<unknown>) {
        // The transactional outbox: a message is written in the transaction of the change that
        // causes it and delivered later by the notify job, at least once. The idempotency key is
        // unique so a second enqueue of the same message (a retried request, a reminder job run
        // twice) is a no-op.
        await db.schema
          .createTable('outbox')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
          .addColumn('channel', 'text', (c) => c.notNull().check(sql`channel in ('webhook','email','sms')`))
          .addColumn('recipient', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending','sent','dead')`))
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('next_attempt_at', t.ms, (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .addColumn('sent_at', t.ms)
          .execute();
        await db.schema.createIndex('outbox_due').on('outbox').columns(['state', 'next_attempt_at']).execute();
        // the holder's opt-out of expiry reminders (e-mail and phone are already on holders)
        await db.schema.alterTable('holders').addColumn('reminders_opt_out_at', t.ms).execute();
        // what the SMS sandbox gateway "sent", for tests and the demo
        await db.schema
          .createTable('sms_sandbox')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('phone', 'text', (c) => c.notNull())
          .addColumn('body', 'text', (c) => c.notNull())
          .addColumn('created_at', t.ms, (c) => c.notNull())
          .execute();
      },
    },
    '0021_crl_shards': {
      async up(db: Kysely<unknown>) {
        // CRL shards: each certificate names one shard's CRL in its CRL DP, chosen at issuance and
        // fixed for its lifetime (part of the issued record, 0008). Rows from before keep null: their
        // DP is the CA's full CRL.
        await db.schema.alterTable('certificates').addColumn('crl_shard', 'integer').execute();
        if (dialect === 'postgres') {
          await sql`create or replace function certificates_kept() returns trigger language plpgsql as $$
            begin
              if tg_op <> 'UPDATE' then raise exception 'certificates are kept: % refused', tg_op; end if;
              if new.serial is distinct from old.serial or new.ca_id is distinct from old.ca_id
                or new.der is distinct from old.der or new.spki_sha256 is distinct from old.spki_sha256
                or new.order_id is distinct from old.order_id or new.issued_at is distinct from old.issued_at
                or new.signing_serial is distinct from old.signing_serial
                or new.crl_shard is distinct from old.crl_shard then
                raise exception 'certificates are kept: an issued certificate record cannot change';
              end if;
              if old.status = 'revoked' and new.status is distinct from 'revoked' then
                raise exception 'certificates are kept: revocation is final';
              end if;
              return new;
            end $$`.execute(db);
        } else {
          await sql`create trigger certificates_shard_fixed before update on certificates
            when new.crl_shard is not old.crl_shard
            begin select raise(abort, 'certificates are kept: an issued certificate record cannot change'); end`.execute(db);
        }
        // The CRL entries in serial order without touching the table (keyset batches, crl-entries.ts):
        // per shard, and per CA for the full CRL. Partial, so issuing (status 'valid') never writes them.
        await sql`create index certificates_crl_shard_entries on certificates
          (ca_id, crl_shard, serial, revoked_at, revocation_reason) where status = 'revoked'`.execute(db);
        await sql`create index certificates_crl_entries on certificates
          (ca_id, serial, revoked_at, revocation_reason) where status = 'revoked'`.execute(db);

        await db.schema
          .createTable('shard_crls')
          .addColumn('ca_id', 'text', (c) => c.notNull().references('cas.id'))
          .addColumn('shard', 'integer', (c) => c.notNull())
          .addColumn('crl_number', t.ms, (c) => c.notNull())
          .addColumn('this_update', t.ms, (c) => c.notNull())
          .addColumn('next_update', t.ms, (c) => c.notNull())
          .addColumn('der', t.bytes, (c) => c.notNull())
          .addColumn('entries', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('shard_crls_pk', ['ca_id', 'shard', 'crl_number'])
          .execute();

        // Until the last certificate that names a CA's full CRL expires, that CRL is kept fresh.
        await db.schema
          .createTable('legacy_crl_scopes')
          .addColumn('ca_id', 'text', (c) => c.primaryKey().references('cas.id'))
          .addColumn('not_after', t.ms, (c) => c.notNull())
          .execute();
        await sql`insert into legacy_crl_scopes (ca_id, not_after)
          select ca_id, max(not_after) from certificates group by ca_id`.execute(db);
      },
    },
    '0022_certificate_list_indexes': {
      async up(db: Kysely<unknown>) {
        // The staff certificate list at millions of rows (bench:scale): newest first, optionally by
        // status, read from an index in list order — (issued_at, serial) replaces (issued_at), whose
        // ties needed a sort, and (status, issued_at, serial) serves the status filter and its count.
        await db.schema.dropIndex('certificates_issued').execute();
        await db.schema.createIndex('certificates_issued').on('certificates').columns(['issued_at', 'serial']).execute();
        await db.schema
          .createIndex('certificates_status_issued')
          .on('certificates')
          .columns(['status', 'issued_at', 'serial'])
          .execute();
      },
    },
    '0023_pki_urls': {
      async up(db: Kysely<unknown>) {
        // The PKI_URLs certificates name in their CRL DP: a shard CRL's IDP lists the shard's URL
        // under each, so certificates issued before a change of PKI_URL still match their CRL.
        await db.schema
          .createTable('pki_urls')
          .addColumn('url', 'text', (c) => c.primaryKey())
          .addColumn('first_used_at', t.ms, (c) => c.notNull())
          .execute();
      },
    },
    '0024_live_sessions_by_certificate': {
      async up(db: Kysely<unknown>) {
        // a certificate revoked by staff or the CA (挂失, key compromise) ends its live portal sessions
        await sql`create index portal_sessions_live_certificate on portal_sessions (certificate_serial)
          where ended_at is null`.execute(db);
      },
    },
    '0025_crls_owed': {
      async up(db: Kysely<unknown>) {
        // a revocation committed without its CRL is remembered until a CRL of its scope is published
        await db.schema
          .createTable('crls_owed')
          .addColumn('scope', 'text', (c) => c.primaryKey())
          .addColumn('ca_id', 'text', (c) => c.notNull().references('cas.id'))
          .addColumn('shard', 'integer')
          .addColumn('owed_since', t.ms, (c) => c.notNull())
          .execute();
      },
    },
    '0026_loss_report_serial': {
      async up(db: Kysely<unknown>) {
        // the serial a 挂失 names, as the requester typed it (normalised), whether or not it matched
        await db.schema.alterTable('revocation_requests').addColumn('given_serial', 'text').execute();
      },
    },
  };
}

/**
 * Refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) on a table, whoever connects: for records that
 * are evidence (documents, statements). `why` goes into the error a refused statement raises.
 */
export async function appendOnly(db: Kysely<unknown>, dialect: Dialect, table: string, why: string): Promise<void> {
  const message = `${table} is append-only (${why})`;
  if (dialect === 'postgres') {
    await sql`create function ${sql.id(`${table}_append_only`)}() returns trigger language plpgsql as $$
      begin raise exception '%: % refused', ${sql.lit(message)}, tg_op; end $$`.execute(db);
    await sql`create trigger ${sql.id(`${table}_no_change`)} before update or delete on ${sql.table(table)}
      for each row execute function ${sql.id(`${table}_append_only`)}()`.execute(db);
    await sql`create trigger ${sql.id(`${table}_no_truncate`)} before truncate on ${sql.table(table)}
      for each statement execute function ${sql.id(`${table}_append_only`)}()`.execute(db);
    return;
  }
  for (const op of ['update', 'delete']) {
    await sql`create trigger ${sql.id(`${table}_no_${op}`)} before ${sql.raw(op)} on ${sql.table(table)}
      begin select raise(abort, ${sql.lit(`${message}: ${op.toUpperCase()} refused`)}); end`.execute(db);
  }
}

/**
 * Widens the CHECK on orders.kind. PostgreSQL swaps the constraint; SQLite cannot alter a CHECK, so
 * the table is rebuilt (SQLite's documented 12-step procedure: foreign keys off, copy, rename,
 * indexes again, foreign_key_check) — migrations run outside a transaction there.
 */
async function widenOrderKinds(db: Kysely<unknown>, dialect: Dialect, kinds: string[]): Promise<void> {
  const list = kinds.map((k) => `'${k}'`).join(',');
  if (dialect === 'postgres') {
    await sql`alter table orders drop constraint if exists orders_kind_check`.execute(db);
    await sql`alter table orders add constraint orders_kind_check check (kind in (${sql.raw(list)}))`.execute(db);
    return;
  }
  const table = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = 'orders'`.execute(db);
  const create = table.rows[0]?.sql;
  const check = /check\s*\(\s*"?kind"?\s+in\s*\([^)]*\)\s*\)/i;
  if (!create || !check.test(create)) throw new Error('orders table has no kind CHECK to widen');
  const indexes = await sql<{
    sql: string;
  }>`select sql from sqlite_master where type = 'index' and tbl_name = 'orders' and sql is not null`.execute(db);
  const rebuilt = create
    .replace(check, `check ("kind" in (${list}))`)
    .replace(/^create table\s+"?orders"?/i, 'create table "orders_rebuilt"');
  // only what the rebuild breaks counts: rows that were already orphaned stay as they were
  const violations = async () => (await sql`pragma foreign_key_check`.execute(db)).rows.length;
  const before = await violations();
  await sql`pragma foreign_keys = off`.execute(db);
  try {
    await sql`begin immediate`.execute(db);
    try {
      await sql.raw(rebuilt).execute(db);
      await sql`insert into orders_rebuilt select * from orders`.execute(db);
      await sql`drop table orders`.execute(db);
      await sql`alter table orders_rebuilt rename to orders`.execute(db);
      for (const i of indexes.rows) await sql.raw(i.sql).execute(db);
      const broken = (await violations()) - before;
      if (broken > 0) throw new Error(`rebuilding orders broke ${broken} foreign keys`);
      await sql`commit`.execute(db);
    } catch (e) {
      await sql`rollback`.execute(db);
      throw e;
    }
  } finally {
    await sql`pragma foreign_keys = on`.execute(db);
  }
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: () => Promise.resolve(migrations(dialect)) };
}
