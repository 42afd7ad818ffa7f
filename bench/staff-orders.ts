// `npm run bench:staff` — the staff console's lists with 100,000 orders: seeds a throwaway SQLite
// database (and PostgreSQL when TEST_DATABASE_URL is set) through the real migrations, then times
// the queries the console runs (the offline-payment queue, order search by each filter, deep pages,
// certificates, audit) against a primary-key lookup as the baseline. Printed figures only: no
// timed assertions. BENCH_ORDERS changes the count.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { offlineQueue, searchAudit, searchCertificates, searchOrders } from '../src/sa/backoffice.js';
import { openDatabase, writeTransaction, type Storage } from '../src/sa/database.js';
import { appendAudit } from '../src/sa/audit.js';
import { listInvoices } from '../src/sa/invoices.js';
import { getOrder } from '../src/sa/orders.js';
import type { OrderState, PaymentMethod } from '../src/sa/schema.js';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 100_000);
const HOLDERS = Math.max(1, Math.floor(ORDERS / 4));
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 40);
const STATES: OrderState[] = [
  'completed',
  'completed',
  'completed',
  'completed',
  'cancelled',
  'expired',
  'awaiting_payment',
  'paid',
  'issued',
  'refunded',
];
const METHODS: PaymentMethod[] = ['online', 'online', 'online', 'bank', 'postal'];
const NAMES = ['上海', '北京', '广州', '深圳', '杭州', '南京', '苏州', '成都'];
const KINDS = ['信息技术', '贸易', '建设工程', '医药', '物流', '咨询', '电子', '教育'];

const pick = <T>(a: readonly T[], i: number): T => a[i % a.length]!;

async function seed(
  storage: Storage,
): Promise<{ sampleId: string; sampleRef: string; sampleUid: string; sampleName: string; sampleSerial: string }> {
  const db = storage.db;
  const t0 = Date.now();
  const now = Date.now();
  const day = 86_400_000;
  await db
    .insertInto('cas')
    .values({
      id: 'bench-ca',
      kind: 'issuing',
      parent_id: null,
      name: 'bench',
      cert_der: Buffer.from([0]),
      key_ref: '{}',
      key_type: 'ec-p256',
      not_before: 0,
      not_after: now + 3650 * day,
      active: 0,
      created_at: now,
    })
    .execute();
  const chunk = async <T>(rows: T[], size: number, insert: (batch: T[]) => Promise<unknown>): Promise<void> => {
    for (let i = 0; i < rows.length; i += size) await insert(rows.slice(i, i + size));
  };
  await db.transaction().execute(async (tx) => {
    const holders = Array.from({ length: HOLDERS }, (_, i) => ({
      kind: 'org' as const,
      name: `${pick(NAMES, i)}${pick(KINDS, Math.floor(i / 8))}第${i}有限公司`,
      unique_id: `9131${String(i).padStart(14, '0')}`,
      contact_name: null,
      phone: null,
      email: null,
      address: null,
      postcode: null,
      created_at: now - (i % 1000) * day,
    }));
    await chunk(holders, 1000, (b) => tx.insertInto('holders').values(b).execute());
    const certs = Array.from({ length: HOLDERS }, (_, i) => ({
      serial: (0x10000000 + i).toString(16) + randomBytes(6).toString('hex'),
      ca_id: 'bench-ca',
      holder_id: i + 1,
      profile: 'org-identity',
      subject: `CN=${holders[i]!.name},O=${holders[i]!.name},C=CN`,
      not_before: now - 300 * day,
      not_after: now + 65 * day,
      status: 'valid' as const,
      revoked_at: null,
      revocation_reason: null,
      renews_serial: null,
      order_id: null,
      spki_sha256: 'x',
      der: Buffer.from([0]),
      issued_at: now - (i % 1000) * day,
    }));
    await chunk(certs, 1000, (b) => tx.insertInto('certificates').values(b).execute());
    const orders = Array.from({ length: ORDERS }, (_, i) => {
      const h = i % HOLDERS;
      const created = now - Math.floor((i / ORDERS) * 730 * day) - (i % 997) * 1000;
      const state = pick(STATES, i * 7 + (i >> 3));
      return {
        id: `R${new Date(created).toISOString().slice(0, 10).replace(/-/g, '')}-${i.toString(36).toUpperCase().padStart(6, '0')}`,
        kind: 'renewal' as const,
        holder_id: h + 1,
        certificate_serial: certs[h]!.serial,
        type_code: 'org-identity',
        type_name: '单位身份证书',
        type_name_en: 'Organisation identity certificate',
        organization: holders[h]!.name,
        term_years: 1 + (i % 3),
        amount_fen: [30000, 55000, 78000][i % 3]!,
        payment_method: pick(METHODS, i * 3 + (i >> 2)),
        recipient: '经办人',
        phone: '021-962600',
        address: '上海市虹口区四川北路1601室',
        postcode: '200080',
        reference: `CD${i.toString(36).toUpperCase().padStart(8, '0')}`,
        state,
        created_at: created,
        updated_at: created,
        expires_at: created + 30 * day,
        paid_at: ['completed', 'paid', 'issued', 'refunded'].includes(state) ? created + 3600_000 : null,
        issued_serial: null,
      };
    });
    await chunk(orders, 500, (b) => tx.insertInto('orders').values(b).execute());
    const invoices = orders
      .filter((o) => o.paid_at !== null)
      .map((o, i) => ({
        order_id: o.id,
        number: `INV-${o.id.slice(1)}`,
        issuer_name: 'bench CA',
        issuer_tax_id: '',
        buyer_name: o.organization,
        buyer_unique_id: null,
        items: '[]',
        amount_fen: o.amount_fen,
        paid_at: o.paid_at!,
        payment_channel: o.payment_method === 'online' ? 'sandbox' : o.payment_method,
        payment_trade_no: `T${i}`,
        status: 'issued' as const,
        paper_status: i % 20 === 0 ? ('to_mail' as const) : ('mailed' as const),
        carrier: null,
        tracking_no: null,
        mailed_at: null,
        mailed_by: null,
        pdf: null,
        pdf_sha256: null,
        created_at: o.paid_at!,
        voided_at: null,
        void_reason: null,
      }));
    await chunk(invoices, 500, (b) => tx.insertInto('invoices').values(b).execute());
  });
  // audit entries through the real chain (one per order would take long; 20,000 is plenty to page through)
  const entries = Array.from({ length: Math.min(ORDERS / 5, 20_000) }, (_, i) => ({
    actor: i % 10 === 0 ? 'staff:li.operator' : `holder:${i}`,
    action: pick(['order.created', 'payment.recorded', 'invoice.created', 'certificate.issued', 'staff.login'], i),
    target: `R${i}`,
    details: { i },
  }));
  for (let i = 0; i < entries.length; i += 2000)
    await writeTransaction(storage, (tx) => appendAudit(tx, entries.slice(i, i + 2000)));
  const mid = Math.floor(ORDERS / 2);
  const sample = await db
    .selectFrom('orders')
    .innerJoin('holders', 'holders.id', 'orders.holder_id')
    .select(['orders.id', 'orders.reference', 'holders.unique_id', 'holders.name', 'orders.certificate_serial'])
    .orderBy('orders.created_at')
    .offset(mid)
    .limit(1)
    .executeTakeFirstOrThrow();
  process.stdout.write(
    `  seeded ${ORDERS} orders, ${HOLDERS} holders and certificates, ${entries.length} audit entries in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  return {
    sampleId: sample.id,
    sampleRef: sample.reference,
    sampleUid: sample.unique_id,
    sampleName: sample.name.slice(0, 6),
    sampleSerial: sample.certificate_serial,
  };
}

async function time(fn: () => Promise<unknown>): Promise<{ median: number; p95: number; rows: number }> {
  let rows = 0;
  for (let i = 0; i < 3; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t = process.hrtime.bigint();
    const r = (await fn()) as { rows?: unknown[]; total?: number } | unknown[] | undefined;
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    rows = Array.isArray(r) ? r.length : (r?.total ?? (r ? 1 : 0));
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)]!, p95: samples[Math.floor(samples.length * 0.95)]!, rows };
}

async function run(name: string, storage: Storage): Promise<void> {
  process.stdout.write(`\n== ${name} (${storage.location})\n`);
  const s = await seed(storage);
  const db = storage.db;
  // PostgreSQL's autovacuum analyses a freshly filled table within a minute; do it now. SQLite runs
  // without statistics (as a deployment that never ran ANALYZE would).
  if (storage.dialect === 'postgres') await sql`analyze`.execute(db);
  const page = { limit: 20, offset: 0 };
  const cases: [string, () => Promise<unknown>][] = [
    ['baseline: order by primary key', () => getOrder(db, s.sampleId)],
    ['offline-payment queue, page 1', () => offlineQueue(db, 20, 0)],
    ['all orders, newest first, page 1', () => searchOrders(db, page)],
    ['all orders, page 2,500 (offset 49,980)', () => searchOrders(db, { limit: 20, offset: 49_980 })],
    ['state = completed, page 1', () => searchOrders(db, { ...page, states: ['completed'] })],
    [
      'state = refunded, last 90 days',
      () => searchOrders(db, { ...page, states: ['refunded'], from: Date.now() - 90 * 86_400_000 }),
    ],
    [
      'created in one month',
      () => searchOrders(db, { ...page, from: Date.now() - 400 * 86_400_000, to: Date.now() - 370 * 86_400_000 }),
    ],
    ['order number', () => searchOrders(db, { ...page, order: s.sampleId })],
    ['reference code', () => searchOrders(db, { ...page, order: s.sampleRef })],
    ['holder unique ID (唯一识别号)', () => searchOrders(db, { ...page, uniqueId: s.sampleUid })],
    [`holder name contains "${s.sampleName}"`, () => searchOrders(db, { ...page, name: s.sampleName })],
    ['holder name, no match (full scan)', () => searchOrders(db, { ...page, name: '不存在的单位' })],
    ['paper invoices to mail, page 1', () => listInvoices(db, { paperStatus: 'to_mail', limit: 20, offset: 0 })],
    ['certificate by serial', () => searchCertificates(db, { ...page, serial: s.sampleSerial })],
    ['certificates, newest first, page 1', () => searchCertificates(db, page)],
    ['audit, newest 50', () => searchAudit(db, { limit: 50, order: 'desc' })],
    ['audit, actor filter', () => searchAudit(db, { actor: 'staff:li.operator', limit: 50, order: 'desc' })],
  ];
  const results: [string, { median: number; p95: number; rows: number }][] = [];
  for (const [label, fn] of cases) results.push([label, await time(fn)]);
  const base = results[0]![1].median;
  process.stdout.write(
    `  ${'query'.padEnd(44)} ${'median ms'.padStart(10)} ${'p95 ms'.padStart(9)} ${'× baseline'.padStart(11)} ${'matches'.padStart(9)}\n`,
  );
  for (const [label, r] of results) {
    process.stdout.write(
      `  ${label.padEnd(44)} ${r.median.toFixed(2).padStart(10)} ${r.p95.toFixed(2).padStart(9)} ${(r.median / base).toFixed(1).padStart(11)} ${String(r.rows).padStart(9)}\n`,
    );
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-bench-staff-'));
try {
  const sqlite = await openDatabase({ dataDir: dir });
  try {
    await run('SQLite', sqlite);
  } finally {
    await sqlite.close();
  }
  const base = process.env.TEST_DATABASE_URL;
  if (base) {
    const name = `certdesk_bench_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(base);
    u.pathname = `/${name}`;
    const storage = await openDatabase({ dataDir: dir, databaseUrl: u.toString() });
    try {
      await run('PostgreSQL', storage);
    } finally {
      await storage.close();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    }
  } else process.stdout.write('\n(PostgreSQL skipped: set TEST_DATABASE_URL to include it)\n');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
