// Keeps every issuing CA's delegated OCSP responder certificate current: a responder within
// RESPONDER_RENEW_BEFORE_DAYS of its end is replaced by a new key and certificate (same key type,
// same place, same validity), and responders rotated by another process are picked up. Every
// instance reloads the CA rows each interval; the rotation itself runs once across instances.
import type { LoadedCa } from '../ca/authority.js';
import { CaError } from '../ca/errors.js';
import type { Runtime } from '../runtime.js';
import type { KeyRef } from '../signer/signer.js';
import { runPeriodically } from './periodic.js';

const DAY_MS = 86_400_000;

/** Rotates the responder of `issuingId` now; the new certificate is valid as long as the old one was (or `days`). */
export async function rotateResponder(rt: Runtime, issuingId: string, actor: string, days?: number): Promise<LoadedCa> {
  const issuing = rt.ca.cas.get(issuingId);
  if (!issuing || issuing.record.kind !== 'issuing')
    throw new CaError('not_found', `no issuing CA ${issuingId}; see \`certdesk ca chain\``, 'issuing');
  const like = rt.ca.responderFor(issuingId) ?? issuing;
  const validity = days ?? (like === issuing ? 365 : Math.round((like.record.not_after - like.record.not_before) / DAY_MS));
  const key = await rt.newKeyLike(JSON.parse(like.record.key_ref) as KeyRef, like.signer.keyType, 'ocsp');
  try {
    return await rt.ca.rotateResponder(issuingId, key, { days: validity, actor });
  } catch (e) {
    await key.close();
    throw e;
  }
}

/** One pass: pick up other processes' changes, then rotate every responder that is due. */
export async function rotateDueResponders(rt: Runtime, actor: string, now = Date.now()): Promise<LoadedCa[]> {
  await rt.ca.reloadCas();
  const rotated: LoadedCa[] = [];
  for (const ca of [...rt.ca.cas.values()]) {
    if (ca.record.kind !== 'issuing' || !ca.record.active || !rt.ca.responderDue(ca.record.id, now)) continue;
    try {
      rotated.push(await rotateResponder(rt, ca.record.id, actor));
    } catch (e) {
      if (!(e instanceof CaError && e.code === 'conflict')) throw e; // another instance rotated it: picked up by the reload
    }
  }
  return rotated;
}

export function startResponderRotation(rt: Runtime, log: (msg: string, err?: unknown) => void, intervalMs = 60_000): () => void {
  // every instance: see a responder another instance rotated (its OCSP answers switch to it)
  const stopReload = runPeriodically(
    intervalMs,
    async () => void (await rt.ca.reloadCas()),
    (e) => log('reloading the CAs failed', e),
  );
  const stopRotation = runPeriodically(
    intervalMs,
    async () => {
      for (const r of await rotateDueResponders(rt, 'system:responder-rotation'))
        log(
          `OCSP responder rotated: ${r.record.id} for ${r.record.parent_id}, valid until ${new Date(r.record.not_after).toISOString()}`,
        );
      // the seal maker's certificate is kept current the same way
      if (await rt.sealService.makerDue()) {
        const m = await rt.sealService.rotateMaker('system:responder-rotation');
        log(`seal maker rotated: ${m.id}, valid until ${new Date(m.not_after).toISOString()}`);
      }
    },
    (e) => log('OCSP responder rotation failed', e),
    { atStart: true, once: { storage: rt.storage, job: 'responder-rotation', instance: rt.instanceId } },
  );
  return () => {
    stopReload();
    stopRotation();
  };
}
