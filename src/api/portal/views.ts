// The JSON shapes of docs/PORTAL-API.md.
import type { Runtime } from '../../runtime.js';
import { summarise, type CertificateSummary } from '../../ra/certificate-summary.js';
import type { RemittanceInfo } from '../../sa/catalogue.js';
import { getCertificate, getEncryptionPartners, type CertificateRecord } from '../../sa/certificates.js';
import type { Holder } from '../../sa/holders.js';
import { CERTIFICATE_ORDER_KINDS, type Order, type OrderEvent } from '../../sa/orders.js';
import type { InvoiceSummary } from '../../sa/invoices.js';
import { attributeValue } from '../../pki/name.js';
import { parseCertificate } from '../../pki/certificate.js';
import { issueTarget } from '../../ra/order-targets.js';
import type { OrderInvoiceView, OrderView } from './shapes.js';

export function certificateView(rt: Runtime, rec: CertificateRecord): CertificateSummary {
  const profile = rt.ca.profiles.get(rec.profile);
  return summarise(rec, profile ?? { name: rec.profile, nameEn: rec.profile }, rt.config.uniqueIdOid);
}

/**
 * Views of signing certificates, each with its encryption partner when it has one (an SM2 dual
 * pair). Encryption certificates are shown with their partner, not on their own.
 */
export async function pairedCertificateViews(rt: Runtime, recs: CertificateRecord[]): Promise<CertificateSummary[]> {
  const signing = recs.filter((r) => r.signing_serial === null);
  const partners = await getEncryptionPartners(
    rt.storage.db,
    signing.map((r) => r.serial),
  );
  return signing.map((r) => {
    const enc = partners.get(r.serial);
    return enc ? { ...certificateView(rt, r), encryption: certificateView(rt, enc) } : certificateView(rt, r);
  });
}

/** One certificate's view with its pair (an encryption certificate's view names its signing one). */
export async function pairedCertificateView(rt: Runtime, rec: CertificateRecord): Promise<CertificateSummary> {
  if (rec.signing_serial !== null) return certificateView(rt, rec);
  return (await pairedCertificateViews(rt, [rec]))[0]!;
}

export function holderView(
  rt: Runtime,
  holder: Holder | undefined,
  cert: CertificateRecord,
): { name: string; uniqueId: string | null; kind: 'org' | 'person' } {
  if (holder) return { name: holder.name, uniqueId: holder.unique_id, kind: holder.kind };
  const subject = parseCertificate(cert.der).subject;
  const profile = rt.ca.profiles.get(cert.profile);
  return {
    name: attributeValue(subject, 'O') ?? attributeValue(subject, 'CN') ?? cert.subject,
    uniqueId: certificateView(rt, cert).uniqueId,
    kind: profile?.holderKind ?? 'org',
  };
}

export function orderView(
  order: Order,
  opts: {
    events?: OrderEvent[];
    remittance?: RemittanceInfo | undefined;
    /** the new certificate's end: issued, or what issuing now would give (issueTarget) */
    newNotAfter?: Date | null;
    /** 升级证书: the key type the assistant makes (null: as the old certificate's) */
    newKeyType?: string | null;
    /** the order's invoice (null: none yet); left out of lists that do not load it */
    invoice?: InvoiceSummary | null;
    /** a change order's review (review undefined: pending); left out of lists that do not load it */
    change?: { review: { decision: 'approved' | 'rejected'; reason: string | null } | undefined };
  } = {},
): OrderView {
  return {
    id: order.id,
    kind: order.kind,
    state: order.state,
    certificateSerial: order.certificate_serial,
    certificateTypeName: order.type_name,
    certificateTypeNameEn: order.type_name_en || order.type_name,
    organization: order.organization,
    termYears: order.term_years,
    months: order.term_years * 12,
    amountFen: order.amount_fen,
    paymentMethod: order.payment_method,
    recipient: order.recipient,
    phone: order.phone,
    address: order.address,
    postcode: order.postcode,
    reference: order.reference,
    createdAt: new Date(order.created_at).toISOString(),
    expiresAt: new Date(order.expires_at).toISOString(),
    paidAt: order.paid_at ? new Date(order.paid_at).toISOString() : null,
    newNotAfter: opts.newNotAfter ? opts.newNotAfter.toISOString() : null,
    newKeyType: opts.newKeyType ?? null,
    issuedSerial: order.issued_serial,
    remittance:
      order.payment_method !== 'online' && opts.remittance
        ? {
            payee: opts.remittance.payee,
            bank: order.payment_method === 'bank' ? opts.remittance.bank : null,
            account: order.payment_method === 'bank' ? opts.remittance.account : null,
            postalAddress: order.payment_method === 'postal' ? opts.remittance.postalAddress : null,
            postcode: order.payment_method === 'postal' ? opts.remittance.postcode : null,
            reference: order.reference,
            note: opts.remittance.note,
          }
        : null,
    invoice: opts.invoice === undefined ? undefined : opts.invoice && invoiceView(order, opts.invoice),
    ...(opts.change
      ? { review: { state: opts.change.review?.decision ?? 'pending', reason: opts.change.review?.reason ?? null } }
      : {}),
    events: (opts.events ?? []).map((e) => ({
      at: new Date(e.at).toISOString(),
      type: e.type,
      actor: e.actor,
      detail: JSON.parse(e.detail) as unknown,
    })),
  };
}

/** What the holder sees of an order's invoice: its number, the e-invoice PDF, the paper invoice's mailing. */
function invoiceView(order: Order, inv: InvoiceSummary): OrderInvoiceView {
  return {
    number: inv.number,
    status: inv.status,
    amountFen: inv.amount_fen,
    pdfUrl: `/api/portal/orders/${encodeURIComponent(order.id)}/invoice.pdf`,
    paper: inv.paper_status,
    carrier: inv.carrier,
    trackingNo: inv.tracking_no,
    mailedAt: inv.mailed_at ? new Date(inv.mailed_at).toISOString() : null,
  };
}

/**
 * The new certificate's end for an order that issues one: the issued certificate's, else what
 * issuing now would give. `known`: records the caller has in hand (the issued or the renewed
 * certificate), which are not read again.
 */
export async function newNotAfterOf(rt: Runtime, order: Order, known: readonly CertificateRecord[] = []): Promise<Date | null> {
  if (!CERTIFICATE_ORDER_KINDS.includes(order.kind)) return null;
  const db = rt.storage.db;
  const read = async (serial: string) => known.find((c) => c.serial === serial) ?? (await getCertificate(db, serial));
  if (order.issued_serial) {
    const issued = await read(order.issued_serial);
    if (issued) return new Date(issued.not_after);
  }
  const old = await read(order.certificate_serial);
  if (!old) return null;
  // a change keeps the old end, approved or not yet
  if (order.kind === 'change') return new Date(old.not_after);
  try {
    return (await issueTarget(db, rt.ca, order, old)).notAfter;
  } catch {
    return null; // e.g. a change not yet approved: nothing to say yet
  }
}
