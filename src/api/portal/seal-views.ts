// SealApplication rows → the shared views (src/shared/seal-views.ts).
import type { Runtime } from '../../runtime.js';
import { getDocument } from '../../sa/documents.js';
import { getOrder } from '../../sa/orders.js';
import { getSealApplication, type SealApplicationRow } from '../../sa/seal-applications.js';
import { getSeal } from '../../sa/seals.js';
import type { SealApplicationView } from '../../shared/seal-views.js';

export { sealTypeView } from '../../shared/seal-views.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export async function sealApplicationView(rt: Runtime, row: SealApplicationRow): Promise<SealApplicationView> {
  const full = await getSealApplication(rt.storage.db, row.order_id);
  const order = await getOrder(rt.storage.db, row.order_id);
  const doc = await getDocument(rt.storage.db, row.document_id);
  const seal = row.es_id ? await getSeal(rt.storage.db, row.es_id) : undefined;
  return {
    orderId: row.order_id,
    orderState: order?.state ?? 'unknown',
    typeCode: row.type_code,
    typeName: row.type_name,
    sealName: row.seal_name,
    picture: `data:image/png;base64,${Buffer.from(full!.picture_png).toString('base64')}`,
    widthMm: row.picture_width_mm,
    heightMm: row.picture_height_mm,
    pictureSource: row.picture_source,
    validityDays: row.validity_days,
    reviewState: row.review_state,
    reason: row.reason,
    reviewedAt: iso(row.reviewed_at),
    esId: row.es_id,
    madeAt: iso(row.made_at),
    validUntil: row.made_at === null ? null : iso(row.made_at + row.validity_days * 86_400_000),
    amountFen: order?.amount_fen ?? 0,
    createdAt: new Date(row.created_at).toISOString(),
    certificateSerial: row.certificate_serial,
    document: doc ? { id: doc.id, fileName: doc.file_name, mediaType: doc.media_type, sizeBytes: doc.size_bytes } : null,
    reapply:
      seal?.reapply_order && seal.status === 'valid'
        ? { orderId: seal.reapply_order, at: new Date(seal.reapply_at ?? seal.updated_at).toISOString() }
        : null,
  };
}
