// Invoices: one per paid order (UNIQUE order_id), created inside the transaction that records the
// payment, with its content (issuer, buyer, items, amount) frozen then. The electronic PDF is
// rendered from that frozen content and stored on first use; the paper 定额发票 is tracked until
// it is mailed.
import type { Selectable } from 'kysely';
import { appendAudit } from './audit.js';
import { getSetting } from './catalogue.js';
import { PreparedQuery } from './compiled.js';
import type { Executor, Tx } from './database.js';
import { getHolder, type Holder } from './holders.js';
import type { Order } from './orders.js';
import type { InvoiceTable } from './schema.js';
import { escapeLike, likeText } from './text-match.js';

export type Invoice = Selectable<InvoiceTable>;

export interface InvoiceItem {
  name: string;
  quantity: number;
  amountFen: number;
}

/** Settings key `invoice_issuer`: who issues the invoices (the CA's legal name) and whether paper invoices are mailed. */
export interface InvoiceIssuer {
  name: string;
  taxId: string;
  address: string;
  phone: string;
  /** mail a paper 定额发票 to the order's 发票邮寄地址 */
  paper: boolean;
}

export async function invoiceIssuer(db: Executor): Promise<InvoiceIssuer> {
  const remittance = await getSetting<{ payee?: string } | undefined>(db, 'remittance', undefined);
  const fallback: InvoiceIssuer = { name: remittance?.payee ?? 'certdesk CA', taxId: '', address: '', phone: '', paper: true };
  return { ...fallback, ...(await getSetting<Partial<InvoiceIssuer>>(db, 'invoice_issuer', {})) };
}

export const invoiceNumberFor = (orderId: string): string => `INV-${orderId.replace(/^R/, '')}`;

/** What was bought, as the invoice and the payment gateway say it: the service, and the term where it has one (a change has none). */
export function orderItemName(order: Pick<Order, 'kind' | 'type_name' | 'term_years'>): string {
  if (order.kind === 'change') return `${order.type_name} 变更证书`;
  if (order.kind === 'seal') return `${order.type_name} 印章申请`;
  if (order.kind === 'upgrade') return `升级为 ${order.type_name} ${order.term_years} 年`;
  return `${order.type_name} 更新 ${order.term_years} 年`;
}

/**
 * Creates the invoice record for an order that has just been paid (call inside the payment's
 * transaction). Idempotent: an order that has one keeps it.
 */
export async function createInvoiceForPayment(
  tx: Tx,
  order: Order,
  p: { channel: string; tradeNo: string; amountFen: number; paidAt: number; actor: string },
  /** the order's holder as the caller's transaction has just read it (not read again) */
  known?: Holder,
): Promise<InvoiceSummary> {
  const existing = await invoiceForOrder(tx, order.id);
  if (existing) return existing;
  const issuer = await invoiceIssuer(tx);
  const holder = await getHolder(tx, order.holder_id, known);
  const items: InvoiceItem[] = [{ name: orderItemName(order), quantity: 1, amountFen: p.amountFen }];
  const now = Date.now();
  await tx
    .insertInto('invoices')
    .values({
      order_id: order.id,
      number: invoiceNumberFor(order.id),
      issuer_name: issuer.name,
      issuer_tax_id: issuer.taxId,
      buyer_name: order.organization,
      buyer_unique_id: holder?.unique_id ?? null,
      items: JSON.stringify(items),
      amount_fen: p.amountFen,
      paid_at: p.paidAt,
      payment_channel: p.channel,
      payment_trade_no: p.tradeNo,
      status: 'issued',
      paper_status: issuer.paper ? 'to_mail' : 'not_required',
      carrier: null,
      tracking_no: null,
      mailed_at: null,
      mailed_by: null,
      pdf: null,
      pdf_sha256: null,
      created_at: now,
      voided_at: null,
      void_reason: null,
    })
    .execute();
  await appendAudit(tx, [
    {
      actor: p.actor,
      action: 'invoice.created',
      target: order.id,
      details: { number: invoiceNumberFor(order.id), amountFen: p.amountFen },
    },
  ]);
  return (await invoiceForOrder(tx, order.id))!;
}

const WITHOUT_PDF = [
  'id',
  'order_id',
  'number',
  'issuer_name',
  'issuer_tax_id',
  'buyer_name',
  'buyer_unique_id',
  'items',
  'amount_fen',
  'paid_at',
  'payment_channel',
  'payment_trade_no',
  'status',
  'paper_status',
  'carrier',
  'tracking_no',
  'mailed_at',
  'mailed_by',
  'pdf_sha256',
  'created_at',
  'voided_at',
  'void_reason',
] as const;
export type InvoiceSummary = Omit<Invoice, 'pdf'>;

const invoiceByOrder = new PreparedQuery(['orderId'], (db, p) =>
  db.selectFrom('invoices').select(WITHOUT_PDF).where('order_id', '=', p.orderId),
);

export async function invoiceForOrder(db: Executor, orderId: string): Promise<InvoiceSummary | undefined> {
  return invoiceByOrder.first(db, { orderId });
}

export async function invoicePdf(db: Executor, orderId: string): Promise<Buffer | null> {
  const r = await db.selectFrom('invoices').select('pdf').where('order_id', '=', orderId).executeTakeFirst();
  return r?.pdf ?? null;
}

/** Stores the rendered PDF unless one is stored already (the first rendering wins; it never changes). */
export async function storeInvoicePdf(db: Executor, orderId: string, pdf: Buffer, sha256: string): Promise<void> {
  await db
    .updateTable('invoices')
    .set({ pdf, pdf_sha256: sha256 })
    .where('order_id', '=', orderId)
    .where('pdf', 'is', null)
    .execute();
}

export interface InvoiceFilter {
  paperStatus?: InvoiceTable['paper_status'];
  status?: InvoiceTable['status'];
  /** order id, invoice number or buyer name (prefix) */
  q?: string;
  limit: number;
  offset: number;
}

export async function listInvoices(
  db: Executor,
  f: InvoiceFilter,
): Promise<{
  rows: (InvoiceSummary & { recipient: string; address: string; postcode: string; phone: string })[];
  total: number;
}> {
  let q = db.selectFrom('invoices').innerJoin('orders', 'orders.id', 'invoices.order_id');
  if (f.paperStatus) q = q.where('invoices.paper_status', '=', f.paperStatus);
  if (f.status) q = q.where('invoices.status', '=', f.status);
  if (f.q) {
    const term = f.q.trim();
    q = q.where((eb) =>
      eb.or([
        eb('invoices.order_id', '=', term),
        eb('invoices.number', '=', term),
        likeText('invoices.buyer_name', `${escapeLike(term)}%`),
      ]),
    );
  }
  const total = Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const rows = await q
    .select(WITHOUT_PDF.map((c) => `invoices.${c}` as const))
    .select(['orders.recipient', 'orders.address', 'orders.postcode', 'orders.phone'])
    .orderBy('invoices.created_at', f.paperStatus === 'to_mail' ? 'asc' : 'desc')
    .orderBy('invoices.id')
    .limit(f.limit)
    .offset(f.offset)
    .execute();
  return { rows, total };
}
