// The OCSP status read (CertificateStatusReader) answers from committed rows only. A write
// transaction can wait with its rows written — a revocation signing its CRL with an HSM key waits
// for the token — and other requests run meanwhile; the responder must not tell a relying party of
// a revocation before it is committed (durable), nor of one whose transaction then fails.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CertificateStatusReader } from '../src/sa/certificate-status.js';
import { markRevoked } from '../src/sa/certificates.js';
import { writeTransaction } from '../src/sa/database.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { createHolder } from './helpers/holder.js';

let ca: TestCa;
before(async () => {
  ca = await createTestCa();
});
after(async () => {
  await ca.cleanup();
});

/** Runs a transaction that revokes `serial` and then waits for `gate`; resolves `written` once the row is written. */
function revokeAndWait(serial: string, gate: Promise<void>, fail = false) {
  let written!: () => void;
  const inside = new Promise<void>((resolve) => (written = resolve));
  const done = writeTransaction(ca.rt.storage, async (tx) => {
    await markRevoked(tx, serial, Date.now(), 1);
    written();
    await gate;
    if (fail) throw new Error('the CRL could not be signed');
  });
  return { inside, done };
}

test('a revocation is answered revoked once committed, not while its transaction waits', async () => {
  const { serial } = await createHolder(ca);
  const reader = new CertificateStatusReader(ca.rt.storage);
  let open!: () => void;
  const { inside, done } = revokeAndWait(serial, new Promise<void>((resolve) => (open = resolve)));
  await inside;
  assert.equal((await reader.read([serial])).get(serial)?.status, 'valid', 'not before the COMMIT');
  open();
  await done;
  assert.equal((await reader.read([serial])).get(serial)?.status, 'revoked', 'at once after it');
});

test('a revocation whose transaction fails is never answered revoked', async () => {
  const { serial } = await createHolder(ca);
  const reader = new CertificateStatusReader(ca.rt.storage);
  let open!: () => void;
  const { inside, done } = revokeAndWait(serial, new Promise<void>((resolve) => (open = resolve)), true);
  await inside;
  assert.equal((await reader.read([serial])).get(serial)?.status, 'valid');
  open();
  await assert.rejects(done, /could not be signed/);
  assert.equal((await reader.read([serial])).get(serial)?.status, 'valid');
});
