// The SM2 dual pair on a soft token through the key assistant's HTTP API (contract §3 of issue 9):
// the journaled install of a new signing certificate + encryption certificate + KMC envelope, with
// the assistant SIGKILLed after every step; an envelope for another signing key refused before
// anything is written; the reuse policy (no envelope); the old encryption key kept as retired.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DUAL_RENEWAL_STEPS, JournalStore } from '../src/agent/install/journal.js';
import { labelState, SEAL_APPLICATION } from '../src/agent/tokens/driver.js';
import { parseSeal } from '../src/pki/ses-seal.js';
import { verifySeal } from '../src/pki/ses-verify.js';
import { RenewalEngine } from '../src/agent/install/renewal.js';
import { SoftToken } from '../src/agent/tokens/soft-token.js';
import { keyTypeOfSpki, signatureAlgorithmFor, verifyWithAlgId } from '../src/pki/algorithms.js';
import { parseCertificate } from '../src/pki/certificate.js';
import * as der from '../src/pki/der.js';
import { certificateUsage } from '../src/pki/key-usage.js';
import { verifyRenewalProof } from '../src/pki/renewal-proof.js';
import { sm2Encrypt } from '../src/pki/sm2-encrypt.js';
import { makeSm2EnvelopedKey } from '../src/pki/sm2-envelope.js';
import { Sm2PrivateKey, Sm2PublicKey } from '../src/pki/sm2.js';
import { AgentClient, AgentGone, driveRenewal, PORTAL, startAgentProcess, type AgentProcess } from './helpers/agent.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { dualIssuer, encryptionCertificateFor, sealOnToken, sm2DualToken, type Sm2DualHolder } from './helpers/sm2-holder.js';

const PIN = '246810';

interface TokenState {
  /** working signing pairs: serial:label (signed and verified with the default SM2 ID) */
  signing: string[];
  /** working encryption pairs: serial:label (encrypted to the certificate, decrypted in the token) */
  encryption: string[];
  objects: { class: string; label: string; id: string }[];
  /** seal data objects: label and the serial of the certificate in its certList */
  seals: { label: string; serial: string; der: Buffer }[];
}

/** What is on the token and really works, read without the assistant. */
async function inspect(file: string): Promise<TokenState> {
  const s = await new SoftToken(file).login(PIN);
  try {
    const keys = await s.listKeys();
    const out: TokenState = { signing: [], encryption: [], objects: [], seals: [] };
    for (const c of await s.readCertificates()) {
      const cert = parseCertificate(c.der);
      const key = keys.find((k) => k.spki.equals(cert.spki));
      if (!key) continue;
      const data = randomBytes(32);
      const name = `${cert.serialHex.toUpperCase()}:${c.label}`;
      if (certificateUsage(cert) === 'encryption') {
        const plain = await s.decrypt(key.id, sm2Encrypt(Sm2PublicKey.fromSpki(cert.spki), data));
        if (plain.equals(data)) out.encryption.push(name);
      } else {
        const { key: pub } = keyTypeOfSpki(cert.spki);
        if (verifyWithAlgId(der.parse(signatureAlgorithmFor('sm2').algId), pub, data, await s.sign(key.id, data)))
          out.signing.push(name);
      }
    }
    out.objects = (await s.listObjects()).map((o) => ({ class: o.class, label: o.label, id: o.id }));
    out.seals = (await s.readData(SEAL_APPLICATION)).map((d) => ({
      label: d.label,
      serial: serialOf(parseSeal(d.value).certList[0]!),
      der: d.value,
    }));
    return out;
  } finally {
    await s.close();
  }
}

const serialOf = (d: Buffer): string => parseCertificate(d).serialHex.toUpperCase();

describe('SM2 dual pair: the journaled install on a soft token', () => {
  let ca: TestCa;
  let dir: string;
  let n = 0;

  before(async () => {
    ca = await createTestCa({ keyType: 'sm2' });
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-agent-sm2-'));
  });
  after(async () => {
    await ca?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function fixture(o: { seal?: boolean } = {}): Promise<Sm2DualHolder & { journalDir: string; esId?: string }> {
    const name = `d${++n}`;
    const h = await sm2DualToken(ca, path.join(dir, `${name}.token.json`), { pin: PIN });
    const seal = o.seal ? await sealOnToken(ca, h.file, PIN, h.signing) : undefined;
    return { ...h, journalDir: path.join(dir, `journal-${name}`), esId: seal?.esId };
  }

  /** 印章更新 invariant: exactly one current seal per esID, and its certificate is current on the key and signs. */
  function assertSealsWithCertificate(st: TokenState, esId: string, when: string): void {
    const current = st.seals.filter((x) => labelState(x.label) === 'current');
    assert.deepEqual(
      current.map((x) => x.label),
      [esId],
      `${when}: one current seal`,
    );
    assert.ok(
      st.signing.includes(`${current[0]!.serial}:identity`),
      `${when}: the current seal's certificate is current and signs`,
    );
  }

  const start = (f: { file: string; journalDir: string }, env: NodeJS.ProcessEnv = {}): Promise<AgentProcess> =>
    startAgentProcess(['--soft-token', f.file, '--journal-dir', f.journalDir], { env });

  /** The portal + RA + KMC: checks the SM2 renewal proof by the old key, then issues the pair once per order. */
  const portal = (f: Sm2DualHolder, orderId: string, kmc = dualIssuer(ca, { renews: f.signing })) => ({
    kmc,
    issue: async (csr: Buffer, proof: Buffer) => {
      assert.ok(
        verifyRenewalProof({ orderId, csrDer: csr, signature: proof, oldCertificateDer: f.signing }),
        'the SM2 renewal proof by the old key verifies (default ID)',
      );
      return kmc.issue(orderId, csr);
    },
  });

  /** After the renewal: the new pair current and paired, the old encryption pair retired and still decrypting, old signing gone. */
  async function assertFinal(f: Sm2DualHolder & { esId?: string }, agent: AgentProcess, orderId: string): Promise<void> {
    const c = new AgentClient(agent.url);
    const view = (await c.renewal(orderId))!;
    assert.equal(view.status, 'done');
    assert.ok(view.newEncryptionSerial, 'the renewal view names the new encryption certificate');
    const certs = (await c.call('GET', `/v1/tokens/${f.tokenId}/certificates`)).body.certificates as {
      id: string;
      serial: string;
      label: string;
      state: string;
      usage: string;
      pairedWith: string | null;
      keyType: string;
      profile: { id: string | null };
    }[];
    assert.deepEqual(
      certs.map((x) => `${x.serial}:${x.label}:${x.state}:${x.usage}`).sort(),
      [
        `${view.newSerial}:identity:current:signing`,
        `${view.newEncryptionSerial}:identity:enc:current:encryption`,
        `${serialOf(f.encryption)}:retired:${orderId}:enc:retired:encryption`,
      ].sort(),
    );
    const sign = certs.find((x) => x.usage === 'signing')!;
    const enc = certs.find((x) => x.serial === view.newEncryptionSerial)!;
    assert.equal(sign.pairedWith, enc.id, 'the signing certificate is paired with the new encryption certificate');
    assert.equal(sign.keyType, 'sm2');
    assert.equal(sign.profile.id, 'org-identity-sm2');
    await agent.stop();

    const st = await inspect(f.file);
    assert.deepEqual(st.signing, [`${view.newSerial}:identity`]);
    assert.deepEqual(
      st.encryption.sort(),
      [`${view.newEncryptionSerial}:identity:enc`, `${serialOf(f.encryption)}:retired:${orderId}:enc`].sort(),
      'the new encryption key and the kept old one both decrypt',
    );
    assert.ok(
      st.objects.every((o) => !o.label.startsWith('pending:')),
      'no pending object is left',
    );
    assert.equal(st.objects.filter((o) => o.class === 'private-key').length, 3, 'new signing key + new and old encryption keys');
    if (f.esId) {
      assertSealsWithCertificate(st, f.esId, 'after the renewal');
      assert.equal(st.seals.length, 1, 'the old seal is gone with the old certificate');
      const seal = st.seals[0]!;
      assert.equal(seal.serial, view.newSerial, "the seal's certList is the new certificate");
      const parsed = parseSeal(seal.der);
      assert.equal(parsed.certList.length, 1, 'exactly the new certificate');
      const v = verifySeal(seal.der, { makerIssuers: [Buffer.from(ca.rt.ca.issuingFor('sm2').cert.der)] });
      assert.ok(v.ok, v.ok ? '' : `${v.failedCheck}: ${v.reason}`);
      assert.deepEqual(view.seals, [f.esId], 'the renewal view names the seal re-made');
    }
  }

  for (const step of DUAL_RENEWAL_STEPS) {
    it(`SIGKILL right after "${step}": the key keeps a working pair and a seal that goes with it, and the dual install resumes to the end`, async () => {
      const f = await fixture({ seal: true });
      const orderId = `sm2-${step}`;
      const p = portal(f, orderId, dualIssuer(ca, { renews: f.signing, remakeSeals: true }));
      let agent = await start(f, { CERTDESK_AGENT_CRASH_AFTER: step });
      try {
        await assert.rejects(
          driveRenewal(new AgentClient(agent.url), { tokenId: f.tokenId, orderId, pin: PIN, issue: p.issue }),
          AgentGone,
        );
        assert.equal((await agent.exited).signal, 'SIGKILL');
      } finally {
        await agent.stop(); // a no-op once killed; stops it when the renewal failed otherwise
      }

      const mid = await inspect(f.file);
      assert.ok(mid.signing.length >= 1, `after a crash at ${step} the key still has a working signing certificate`);
      assert.ok(
        mid.encryption.some((e) => e.startsWith(`${serialOf(f.encryption)}:`)),
        `after a crash at ${step} the old encryption key still decrypts`,
      );
      assertSealsWithCertificate(mid, f.esId!, `after a crash at ${step}`);

      agent = await start(f);
      try {
        const c = new AgentClient(agent.url);
        assert.equal((await c.renewal(orderId))?.step, step, 'the journal records the step the crash followed');
        const done = await driveRenewal(c, { tokenId: f.tokenId, orderId, pin: PIN, issue: p.issue });
        assert.equal(done.step, 'old-retired');
        assert.deepEqual(
          done.history.map((h) => h.step),
          ['started', ...DUAL_RENEWAL_STEPS],
          'every step once, in order',
        );
        await assertFinal(f, agent, orderId);
      } finally {
        await agent.stop();
      }
    });
  }

  /** Approves a renewal up to csr-built and returns the client, session token and the CSR. */
  async function upToCsr(agent: AgentProcess, f: Sm2DualHolder, orderId: string) {
    const c = new AgentClient(agent.url);
    const req = await c.createRequest({ op: 'renew', tokenId: f.tokenId, orderId });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    assert.equal((await c.approve(req.approveUrl, PIN)).status, 200);
    const view = (await c.renewal(orderId))!;
    assert.equal(view.step, 'csr-built');
    return { c, token: req.sessionToken, csr: Buffer.from(view.csr!, 'base64') };
  }

  const post = (
    c: AgentClient,
    token: string,
    orderId: string,
    certificate: Buffer,
    enc: { certificate: Buffer; envelope: Buffer | null },
  ) =>
    c.call('POST', `/v1/renewals/${orderId}/certificate`, {
      token,
      body: {
        certificate: certificate.toString('base64'),
        encryption: { certificate: enc.certificate.toString('base64'), envelope: enc.envelope?.toString('base64') ?? null },
      },
    });

  it('refuses an envelope made for another signing key before anything is written, then takes the right one', async () => {
    const f = await fixture();
    const orderId = 'sm2-wrong-envelope';
    const agent = await start(f);
    try {
      const { c, token, csr } = await upToCsr(agent, f, orderId);
      const right = await dualIssuer(ca, { renews: f.signing }).issue(orderId, csr);
      // the same encryption key and certificate, enveloped to a stranger's signing key
      const encKey = Sm2PrivateKey.generate();
      const encCert = await encryptionCertificateFor(ca, {
        subjectDer: parseCertificate(right.certificate).subjectDer,
        spki: encKey.publicKey.toSpki(),
        notAfter: new Date(Date.now() + 300 * 86_400_000),
      });
      const wrongEnvelope = makeSm2EnvelopedKey({ protectionKey: Sm2PrivateKey.generate().publicKey, encryptionKey: encKey });
      const fileBefore = readFileSync(f.file, 'utf8');
      // the signing certificate alone: a dual pair is renewed as a pair
      const alone = await c.call('POST', `/v1/renewals/${orderId}/certificate`, {
        token,
        body: { certificate: right.certificate.toString('base64') },
      });
      assert.equal(alone.status, 422, JSON.stringify(alone.body));
      assert.equal(alone.body.error, 'encryption_required');
      assert.equal(readFileSync(f.file, 'utf8'), fileBefore, 'nothing written for a signing certificate alone');
      assert.equal((await c.renewal(orderId))!.step, 'csr-built');
      const r = await post(c, token, orderId, right.certificate, { certificate: encCert, envelope: wrongEnvelope });
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal(r.body.error, 'envelope_wrong_key');
      assert.match(String(r.body.message), /not for this signing key.*nothing was written/s);
      assert.equal(readFileSync(f.file, 'utf8'), fileBefore, 'the token file is byte for byte unchanged');
      const afterRefusal = (await c.renewal(orderId))!;
      assert.equal(afterRefusal.step, 'csr-built', 'the journal did not move');
      assert.ok(
        !afterRefusal.history.some((x) => x.step === 'certificate-received'),
        'refused before anything was journaled: the envelope was opened in the token at once',
      );

      // an envelope that opens but carries another key than the encryption certificate's
      const otherKey = makeSm2EnvelopedKey({
        protectionKey: Sm2PublicKey.fromSpki(parseCertificate(right.certificate).spki),
        encryptionKey: Sm2PrivateKey.generate(),
      });
      const m = await post(c, token, orderId, right.certificate, { certificate: encCert, envelope: otherKey });
      assert.equal(m.status, 422, JSON.stringify(m.body));
      assert.equal(m.body.error, 'encryption_key_mismatch');
      assert.equal(readFileSync(f.file, 'utf8'), fileBefore);

      // an encryption certificate for another subject
      const stranger = await encryptionCertificateFor(ca, {
        subjectDer: parseCertificate(ca.rt.ca.issuing.cert.der).subjectDer,
        spki: parseCertificate(right.encryption!.certificate).spki,
        notAfter: new Date(Date.now() + 300 * 86_400_000),
      });
      const s = await post(c, token, orderId, right.certificate, { certificate: stranger, envelope: right.encryption!.envelope });
      assert.equal(s.status, 422, JSON.stringify(s.body));
      assert.equal(s.body.error, 'encryption_subject_mismatch');
      // a signing-usage certificate offered as the encryption one
      const u = await post(c, token, orderId, right.certificate, {
        certificate: f.signing,
        envelope: right.encryption!.envelope,
      });
      assert.equal(u.status, 422, JSON.stringify(u.body));
      assert.equal(u.body.error, 'encryption_certificate_usage');
      assert.equal(readFileSync(f.file, 'utf8'), fileBefore);

      const ok = await post(c, token, orderId, right.certificate, right.encryption!);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.step, 'labels-switched');
    } finally {
      await agent.stop();
    }
  });

  it('after a restart: a wrong envelope in the renew approval is refused there, nothing written, the right pair finishes it', async () => {
    const f = await fixture();
    const orderId = 'sm2-wrong-envelope-later';
    let agent = await start(f);
    try {
      const { csr } = await upToCsr(agent, f, orderId);
      await agent.stop();
      agent = await start(f); // the token session is gone with the process
      const c = new AgentClient(agent.url);
      const right = await dualIssuer(ca, { renews: f.signing }).issue(orderId, csr);
      const wrong = makeSm2EnvelopedKey({
        protectionKey: Sm2PrivateKey.generate().publicKey,
        encryptionKey: Sm2PrivateKey.generate(),
      });
      const fileBefore = readFileSync(f.file, 'utf8');
      const enc = (envelope: Buffer | null) => ({
        certificate: right.encryption!.certificate.toString('base64'),
        envelope: envelope?.toString('base64') ?? null,
      });
      const req = await c.createRequest({
        op: 'renew',
        tokenId: f.tokenId,
        orderId,
        certificate: right.certificate.toString('base64'),
        encryption: enc(wrong),
        confirm: true,
      });
      assert.equal(req.status, 201, JSON.stringify(req.body));
      const a = await c.approve(req.approveUrl, PIN);
      assert.equal(a.status, 409, JSON.stringify(a.body));
      assert.equal(a.body.error, 'envelope_wrong_key');
      assert.equal(readFileSync(f.file, 'utf8'), fileBefore, 'nothing was written to the key');
      const back = (await c.renewal(orderId))!;
      assert.equal(back.step, 'csr-built', 'back at csr-built for the right pair');
      assert.equal(back.newSerial, null);

      const again = await c.createRequest({
        op: 'renew',
        tokenId: f.tokenId,
        orderId,
        certificate: right.certificate.toString('base64'),
        encryption: enc(right.encryption!.envelope),
        confirm: true,
      });
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.equal((await c.approve(again.approveUrl, PIN)).status, 200);
      const done = (await c.request(again.requestId, again.sessionToken)).body.result as { step: string };
      assert.equal(done.step, 'old-retired');
      await assertFinal(f, agent, orderId);
    } finally {
      await agent.stop();
    }
  });

  it('an envelope journaled without a token session and refused at "encryption-key-stored" sends the renewal back to csr-built, the key untouched', async () => {
    const f = await fixture();
    const orderId = 'sm2-refused-at-step';
    const engine = new RenewalEngine(new JournalStore(f.journalDir), { keepOld: false });
    const session = await new SoftToken(f.file).login(PIN);
    try {
      const token = { id: f.tokenId, label: '企业测试', kind: 'soft' as const, source: f.file };
      let j = await engine.begin({ orderId, origin: PORTAL, token, session });
      j = await engine.advance(j, session);
      assert.equal(j.step, 'csr-built');
      const right = await dualIssuer(ca, { renews: f.signing }).issue(orderId, Buffer.from(j.csr!, 'base64'));
      const wrong = makeSm2EnvelopedKey({
        protectionKey: Sm2PrivateKey.generate().publicKey,
        encryptionKey: Sm2PrivateKey.generate(),
      });
      const fileBefore = readFileSync(f.file, 'utf8');
      // no session: nothing can open the envelope yet, so it is journaled
      j = await engine.receiveCertificate(j, right.certificate, {
        encryption: { certificate: right.encryption!.certificate, envelope: wrong },
      });
      assert.equal(j.step, 'certificate-received');
      await assert.rejects(engine.advance(j, session), (e: Error & { code?: string }) => e.code === 'envelope_wrong_key');
      assert.equal(readFileSync(f.file, 'utf8'), fileBefore, 'nothing was written to the key');
      const back = engine.get(orderId)!;
      assert.equal(back.step, 'csr-built');
      assert.equal(back.certificate, undefined);
      assert.equal(back.lastError?.code, 'envelope_wrong_key');
      j = await engine.receiveCertificate(back, right.certificate, { encryption: right.encryption }, session);
      j = await engine.advance(j, session);
      assert.equal(j.step, 'labels-switched');
    } finally {
      await session.close();
    }
  });

  it('reuse policy (envelope null): the encryption certificate for the key already on the token; a key not there is refused', async () => {
    const f = await fixture();
    const orderId = 'sm2-reuse';
    const agent = await start(f);
    try {
      const { c, token, csr } = await upToCsr(agent, f, orderId);
      const fresh = await dualIssuer(ca, { renews: f.signing }).issue(`${orderId}-x`, csr);
      const fileBefore = readFileSync(f.file, 'utf8');
      const missing = await post(c, token, orderId, fresh.certificate, {
        certificate: fresh.encryption!.certificate,
        envelope: null,
      });
      assert.equal(missing.status, 422, JSON.stringify(missing.body));
      assert.equal(missing.body.error, 'encryption_key_missing');
      assert.equal(readFileSync(f.file, 'utf8'), fileBefore);

      const reused = await dualIssuer(ca, { renews: f.signing, reuse: f.encryptionKey }).issue(orderId, csr);
      const r = await post(c, token, orderId, reused.certificate, reused.encryption!);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const done = await c.call('POST', `/v1/renewals/${orderId}/confirm`, { token });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.step, 'old-retired');
      const certs = (await c.call('GET', `/v1/tokens/${f.tokenId}/certificates`)).body.certificates as {
        serial: string;
        label: string;
        usage: string;
        id: string;
        pairedWith: string | null;
      }[];
      const newEnc = serialOf(reused.encryption!.certificate);
      assert.deepEqual(
        certs.map((x) => `${x.serial}:${x.label}:${x.usage}`).sort(),
        [`${serialOf(reused.certificate)}:identity:signing`, `${newEnc}:identity:enc:encryption`].sort(),
        'the old encryption certificate is gone, its key carries the new one',
      );
      assert.equal(certs.find((x) => x.usage === 'signing')!.pairedWith, certs.find((x) => x.usage === 'encryption')!.id);
      await agent.stop();
      const st = await inspect(f.file);
      assert.deepEqual(st.encryption, [`${newEnc}:identity:enc`]);
      assert.equal(st.objects.filter((o) => o.class === 'private-key').length, 2, 'the reused encryption key was not duplicated');
    } finally {
      await agent.stop();
    }
  });
});
