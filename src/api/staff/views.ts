// The JSON shapes of the staff API (docs/STAFF.md). Money is integer fen, times ISO 8601.
import type { InvoiceSummary, InvoiceItem } from '../../sa/invoices.js';
import type { OrderRow, CertificateRow, Refund } from '../../sa/backoffice.js';
import type { Order, OrderEvent } from '../../sa/orders.js';
import type { Payment } from '../../sa/payments.js';
import type { AuditTable } from '../../sa/schema.js';
import { reasonName } from '../../shared/revocation-reasons.js';
import type {
  AuditEntryView,
  CertificateRowView,
  InvoiceView,
  OrderEventView,
  PaymentView,
  RefundView,
  StaffOrderView,
} from './shapes.js';

const iso = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

export function orderView(o: Order & Partial<Pick<OrderRow, 'holder_unique_id' | 'holder_name'>>): StaffOrderView {
  return {
    id: o.id,
    state: o.state,
    reference: o.reference,
    organization: o.organization,
    holderName: o.holder_name ?? null,
    uniqueId: o.holder_unique_id ?? null,
    certificateSerial: o.certificate_serial,
    certificateTypeName: o.type_name,
    certificateTypeNameEn: o.type_name_en || o.type_name,
    termYears: o.term_years,
    amountFen: o.amount_fen,
    paymentMethod: o.payment_method,
    recipient: o.recipient,
    phone: o.phone,
    address: o.address,
    postcode: o.postcode,
    createdAt: iso(o.created_at)!,
    updatedAt: iso(o.updated_at)!,
    expiresAt: iso(o.expires_at)!,
    paidAt: iso(o.paid_at),
    issuedSerial: o.issued_serial,
  };
}

export function eventView(e: OrderEvent): OrderEventView {
  return { at: iso(e.at)!, type: e.type, actor: e.actor, detail: JSON.parse(e.detail) as Record<string, unknown> };
}

export function paymentView(p: Payment): PaymentView {
  return {
    channel: p.channel,
    tradeNo: p.trade_no,
    amountFen: p.amount_fen,
    paidAt: iso(p.paid_at)!,
    recordedAt: iso(p.recorded_at)!,
    recordedBy: p.recorded_by,
  };
}

export function refundView(r: Refund): RefundView {
  return {
    kind: r.kind,
    channel: r.channel,
    tradeNo: r.trade_no,
    amountFen: r.amount_fen,
    refundReference: r.refund_reference,
    reason: r.reason,
    recordedBy: r.recorded_by,
    recordedAt: iso(r.recorded_at)!,
  };
}

export function invoiceView(
  i: InvoiceSummary & Partial<{ recipient: string; address: string; postcode: string; phone: string }>,
): InvoiceView {
  return {
    number: i.number,
    orderId: i.order_id,
    status: i.status,
    issuerName: i.issuer_name,
    buyerName: i.buyer_name,
    buyerUniqueId: i.buyer_unique_id,
    items: JSON.parse(i.items) as InvoiceItem[],
    amountFen: i.amount_fen,
    paidAt: iso(i.paid_at)!,
    paymentChannel: i.payment_channel,
    paymentTradeNo: i.payment_trade_no,
    paperStatus: i.paper_status,
    carrier: i.carrier,
    trackingNo: i.tracking_no,
    mailedAt: iso(i.mailed_at),
    mailedBy: i.mailed_by,
    pdfSha256: i.pdf_sha256,
    createdAt: iso(i.created_at)!,
    voidedAt: iso(i.voided_at),
    voidReason: i.void_reason,
    ...(i.address !== undefined
      ? { mailTo: { recipient: i.recipient ?? '', address: i.address, postcode: i.postcode ?? '', phone: i.phone ?? '' } }
      : {}),
  };
}

export function certificateRowView(c: CertificateRow): CertificateRowView {
  return {
    serial: c.serial,
    subject: c.subject,
    profile: c.profile,
    status: c.status,
    notBefore: iso(c.not_before)!,
    notAfter: iso(c.not_after)!,
    revokedAt: iso(c.revoked_at),
    revocationReason: c.revocation_reason === null ? null : reasonName(c.revocation_reason),
    holderName: c.holder_name,
    uniqueId: c.holder_unique_id,
    orderId: c.order_id,
    issuedAt: iso(c.issued_at)!,
  };
}

export function auditView(a: AuditTable): AuditEntryView {
  return {
    seq: a.seq,
    at: iso(a.at)!,
    actor: a.actor,
    action: a.action,
    target: a.target,
    details: JSON.parse(a.details) as unknown,
    hash: a.hash,
  };
}
