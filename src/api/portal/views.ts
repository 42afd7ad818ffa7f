// The JSON shapes of docs/PORTAL-API.md.
import type { Runtime } from '../../runtime.js';
import { summarise, type CertificateSummary } from '../../ra/certificate-summary.js';
import type { RemittanceInfo } from '../../sa/catalogue.js';
import type { CertificateRecord } from '../../sa/certificates.js';
import type { Holder } from '../../sa/holders.js';
import type { Order, OrderEvent } from '../../sa/orders.js';
import { attributeValue } from '../../pki/name.js';
import { parseCertificate } from '../../pki/certificate.js';
import { renewedNotAfter } from '../../ra/renewal-window.js';

export function certificateView(rt: Runtime, rec: CertificateRecord): CertificateSummary {
  const profile = rt.ca.profiles.get(rec.profile);
  return summarise(rec, profile?.name ?? rec.profile, rt.config.uniqueIdOid);
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
  opts: { events?: OrderEvent[]; remittance?: RemittanceInfo | undefined; oldNotAfter?: number } = {},
) {
  return {
    id: order.id,
    state: order.state,
    certificateSerial: order.certificate_serial,
    certificateTypeName: order.type_name,
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
    newNotAfter:
      opts.oldNotAfter !== undefined ? renewedNotAfter(new Date(opts.oldNotAfter), order.term_years).toISOString() : null,
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
    events: (opts.events ?? []).map((e) => ({
      at: new Date(e.at).toISOString(),
      type: e.type,
      actor: e.actor,
      detail: JSON.parse(e.detail) as unknown,
    })),
  };
}
