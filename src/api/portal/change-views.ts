// ChangeRequest rows → the shared views (src/shared/change-views.ts), for the portal and the console.
import type { Runtime } from '../../runtime.js';
import type { ChangeTerms } from '../../ra/change-requests.js';
import { subjectsOf, MAX_CHANGE_DOCUMENTS } from '../../ra/change-requests.js';
import { renamedBy, type ChangedField } from '../../ra/change-subject.js';
import { MAX_DOCUMENT_BYTES } from '../../ra/documents.js';
import { uniqueIdOf } from '../../ra/certificate-summary.js';
import { getCertificate } from '../../sa/certificates.js';
import type { ChangeRequestRow } from '../../sa/change-requests.js';
import { getDocumentsByIds } from '../../sa/documents.js';
import { getOrder } from '../../sa/orders.js';
import { sealsNamed, sealsToReapply } from '../../sa/seals.js';
import type { ChangeRequestView, ChangeTermsView, SealToReapplyView } from '../../shared/change-views.js';

const iso = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

/** The seals the change marked, or — before its certificate is issued — those it will mark. */
async function sealsOf(rt: Runtime, row: ChangeRequestRow, changes: ChangedField[]): Promise<SealToReapplyView[]> {
  const marked = await sealsToReapply(rt.storage.db, row.order_id);
  if (marked.length) return marked.map((s) => ({ esId: s.es_id, name: s.name, typeCode: s.type_code, marked: true }));
  const renamed = renamedBy(changes);
  if (!renamed || row.review?.decision === 'rejected' || row.order_state === 'cancelled') return [];
  return (await sealsNamed(rt.storage.db, row.certificate_serial, renamed.from)).map((s) => ({
    esId: s.es_id,
    name: s.name,
    typeCode: s.type_code,
    marked: false,
  }));
}

/** `documentUrl` says where this audience downloads a document (the holder's portal or the console). */
export async function changeRequestView(
  rt: Runtime,
  row: ChangeRequestRow,
  documentUrl: (orderId: string, documentId: string) => string,
): Promise<ChangeRequestView> {
  const db = rt.storage.db;
  const [order, old, docs] = await Promise.all([
    getOrder(db, row.order_id),
    getCertificate(db, row.certificate_serial),
    getDocumentsByIds(db, JSON.parse(row.document_ids) as string[]),
  ]);
  const changes = JSON.parse(row.changes) as ChangedField[];
  const subjects = subjectsOf(row);
  const ids = JSON.parse(row.document_ids) as string[];
  return {
    orderId: row.order_id,
    orderState: row.order_state,
    amountFen: order?.amount_fen ?? 0,
    paymentMethod: order?.payment_method ?? 'online',
    certificateSerial: row.certificate_serial,
    holderKind: row.holder_kind,
    uniqueId: old ? uniqueIdOf(old.der, rt.config.uniqueIdOid) : null,
    oldSubject: subjects.old,
    newSubject: subjects.new,
    changes: changes.map((c) => ({ field: c.field, attribute: c.attribute ?? null, old: c.old, new: c.new })),
    legalRepresentative: row.legal_representative,
    reason: row.reason,
    // in the order they were uploaded
    documents: ids
      .map((id) => docs.find((d) => d.id === id))
      .filter((d) => d !== undefined)
      .map((d) => ({
        id: d.id,
        fileName: d.file_name,
        mediaType: d.media_type,
        sizeBytes: d.size_bytes,
        sha256: d.sha256,
        url: documentUrl(row.order_id, d.id),
      })),
    reviewState: row.review?.decision ?? 'pending',
    reviewReason: row.review?.reason ?? null,
    reviewedAt: iso(row.review?.decided_at),
    notAfter: iso(old?.not_after),
    issuedSerial: order?.issued_serial ?? null,
    sealsToReapply: await sealsOf(rt, row, changes),
    createdAt: new Date(row.created_at).toISOString(),
  };
}

export function changeTermsView(t: ChangeTerms): ChangeTermsView {
  return {
    certificateSerial: t.certificate.serial,
    holderKind: t.kind,
    fields: t.fields,
    current: t.current,
    uniqueId: t.uniqueId,
    notAfter: new Date(t.certificate.not_after).toISOString(),
    priceFen: t.priceFen,
    paymentMethods: t.paymentMethods,
    openOrder: t.openOrder ? { id: t.openOrder.id, kind: t.openOrder.kind, state: t.openOrder.state } : null,
    maxDocuments: MAX_CHANGE_DOCUMENTS,
    maxDocumentBytes: MAX_DOCUMENT_BYTES,
  };
}
