// Electronic seals on the key through the assistant's HTTP API: a seal the CA made written beside its
// certificate (write-seal), listed without a PIN, refused when damaged or for another certificate;
// a document stamped with it (sign-with-seal, the PIN window showing the seal's picture and the
// document's name), the SES_Signature checked by `certdesk seal verify-signature`. And the PKCS#11
// side: seals as CKO_DATA objects labelled with the esID on a SoftHSM2 token, as pkcs11-tool lists them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pkcs11Driver } from '../src/agent/tokens/pkcs11-driver.js';
import { SEAL_APPLICATION } from '../src/agent/tokens/driver.js';
import { parseCertificate } from '../src/pki/certificate.js';
import { parseSignature } from '../src/pki/ses-signature.js';
import { sm3 } from '../src/pki/sm3.js';
import { renderSealPicture } from '../src/seal/seal-picture.js';
import { AgentClient, startAgentProcess, type AgentProcess } from './helpers/agent.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { cli } from './helpers/cli.js';
import { requireTool } from './helpers/requirements.js';
import { createSoftHsm, SOFTHSM_MODULE } from './helpers/softhsm.js';
import { sm2DualToken, type Sm2DualHolder } from './helpers/sm2-holder.js';

const PIN = '246810';

describe('seals on a soft token through the assistant', () => {
  let ca: TestCa;
  let dir: string;
  let holder: Sm2DualHolder;
  let other: Sm2DualHolder;
  let agent: AgentProcess;
  let c: AgentClient;
  let seal: Buffer;
  let esId: string;

  before(async () => {
    ca = await createTestCa({ keyType: 'sm2' });
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-agent-seals-'));
    holder = await sm2DualToken(ca, path.join(dir, 'holder.token.json'), { pin: PIN });
    other = await sm2DualToken(ca, path.join(dir, 'other.token.json'), { pin: PIN });
    const made = await ca.rt.sealService.makeSeal({
      holderSigningCertDer: holder.signing,
      type: '合同专用章',
      name: '企业测试',
      picture: renderSealPicture({ name: '企业测试', typeLabel: '合同专用章' }),
      days: 365,
    });
    seal = Buffer.from(made.der);
    esId = made.es_id;
    agent = await startAgentProcess(['--soft-token', holder.file, '--journal-dir', path.join(dir, 'journal')]);
    c = new AgentClient(agent.url);
  });
  after(async () => {
    await agent?.stop();
    await ca?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const seals = async () => {
    const r = await c.call('GET', `/v1/tokens/${holder.tokenId}/seals`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.seals as {
      esId: string;
      label: string;
      state: string;
      valid: boolean;
      certificate: { serial: string; id: string | null };
    }[];
  };

  it('refuses a damaged seal and a seal for a certificate not on the key, before any PIN', async () => {
    assert.deepEqual(await seals(), []);
    const flipped = Buffer.from(seal);
    flipped[flipped.length - 10]! ^= 0x01; // inside the maker's signature
    const bad = await c.createRequest({ op: 'write-seal', tokenId: holder.tokenId, seal: flipped.toString('base64') });
    assert.equal(bad.status, 422, JSON.stringify(bad.body));
    assert.equal(bad.body.error, 'seal_invalid');
    assert.equal(bad.body.failedCheck, 'maker-signature');

    const foreign = await ca.rt.sealService.makeSeal({
      holderSigningCertDer: other.signing,
      type: '合同专用章',
      name: '企业测试',
      picture: renderSealPicture({ name: '企业测试', typeLabel: '合同专用章' }),
    });
    const wrong = await c.createRequest({
      op: 'write-seal',
      tokenId: holder.tokenId,
      seal: Buffer.from(foreign.der).toString('base64'),
    });
    assert.equal(wrong.status, 422, JSON.stringify(wrong.body));
    assert.equal(wrong.body.error, 'seal_certificate_missing');
    assert.equal((await c.createRequest({ op: 'write-seal', tokenId: holder.tokenId, seal: '***' })).status, 400);
    assert.deepEqual(await seals(), [], 'nothing was written');
  });

  it('writes the seal beside its certificate after the PIN; writing it again changes nothing', async () => {
    for (let i = 0; i < 2; i++) {
      const req = await c.createRequest({ op: 'write-seal', tokenId: holder.tokenId, seal: seal.toString('base64') });
      assert.equal(req.status, 201, JSON.stringify(req.body));
      const a = await c.approve(req.approveUrl, PIN);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      const shown = a.info.body.display as { seal: { esId: string; name: string; picture: { type: string; data: string } } };
      assert.equal(shown.seal.esId, esId, 'the PIN window names the seal');
      assert.equal(shown.seal.picture.type, 'png');
      assert.ok(
        Buffer.from(shown.seal.picture.data, 'base64').subarray(1, 4).equals(Buffer.from('PNG')),
        'and shows its picture',
      );
      const done = await c.request(req.requestId, req.sessionToken);
      assert.equal(done.body.status, 'done', JSON.stringify(done.body));
    }
    const list = await seals();
    assert.equal(list.length, 1);
    assert.equal(list[0]!.esId, esId);
    assert.equal(list[0]!.label, esId, 'the data object is labelled with the esID');
    assert.equal(list[0]!.state, 'current');
    assert.ok(list[0]!.valid);
    assert.equal(list[0]!.certificate.serial, parseCertificate(holder.signing).serialHex.toUpperCase());
    assert.ok(list[0]!.certificate.id, 'bound to a certificate on this key');
  });

  it('stamps a document: the SES_Signature verifies with certdesk seal verify-signature, and fails for another document', async () => {
    const doc = Buffer.from('%PDF-1.7\n购销合同 No. 2026-118\n');
    const r = await c.createRequest({
      op: 'sign-with-seal',
      tokenId: holder.tokenId,
      esId,
      digest: sm3(doc).toString('hex'),
      documentName: '购销合同.pdf',
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const a = await c.approve(r.approveUrl, PIN);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const shown = a.info.body.display as { documentName: string; digest: string; seal: { picture: { data: string } } };
    assert.equal(shown.documentName, '购销合同.pdf', 'the PIN window shows the document name');
    assert.equal(shown.digest, sm3(doc).toString('hex'));
    assert.ok(shown.seal.picture.data.length > 100, 'and the seal picture');
    const done = await c.request(r.requestId, r.sessionToken);
    assert.equal(done.body.status, 'done', JSON.stringify(done.body));
    const sig = Buffer.from((done.body.result as { signature: string }).signature, 'base64');
    assert.equal(parseSignature(sig).seal.esId, esId);

    writeFileSync(path.join(dir, 'sig.der'), sig);
    writeFileSync(path.join(dir, 'contract.pdf'), doc);
    writeFileSync(path.join(dir, 'other.pdf'), Buffer.concat([doc, Buffer.from(' ')]));
    const ok = cli(
      ['seal', 'verify-signature', path.join(dir, 'sig.der'), '--data', path.join(dir, 'contract.pdf')],
      process.env,
    );
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^VALID: seal /);
    assert.match(ok.stdout, /matches the document/);
    const no = cli(['seal', 'verify-signature', path.join(dir, 'sig.der'), '--data', path.join(dir, 'other.pdf')], process.env);
    assert.notEqual(no.status, 0);
    assert.match(no.stdout + no.stderr, /data-hash/);
  });

  it('refuses to stamp with a seal that is not on the key, or a digest that is not SM3', async () => {
    const missing = await c.createRequest({
      op: 'sign-with-seal',
      tokenId: holder.tokenId,
      esId: 'CD20260101NOPE',
      digest: '00'.repeat(32),
      documentName: 'x.pdf',
    });
    assert.equal(missing.status, 404, JSON.stringify(missing.body));
    assert.equal(missing.body.error, 'seal_not_found');
    const short = await c.createRequest({
      op: 'sign-with-seal',
      tokenId: holder.tokenId,
      esId,
      digest: 'abcd',
      documentName: 'x.pdf',
    });
    assert.equal(short.status, 400);
    assert.equal(short.body.field, 'digest');
  });
});

describe('seals on a PKCS#11 token: CKO_DATA labelled with the esID', () => {
  it(
    'writes, lists (without login too), relabels and deletes a data object, as pkcs11-tool sees it',
    { skip: requireTool('softhsm2') },
    async () => {
      const hsm = createSoftHsm({ tokens: ['seals'] });
      try {
        const driver = new Pkcs11Driver([SOFTHSM_MODULE]);
        const [token] = await driver.list();
        assert.ok(token);
        const value = Buffer.from('3082seal-bytes', 'utf8');
        const s = await driver.openSession(token.id, hsm.pin);
        try {
          await s.writeData({ application: SEAL_APPLICATION, label: 'CD20261203ABCDEF0123', value });
          await s.writeData({ application: SEAL_APPLICATION, label: 'CD20261203ABCDEF0123', value }); // no-op
          await assert.rejects(
            s.writeData({ application: SEAL_APPLICATION, label: 'CD20261203ABCDEF0123', value: Buffer.from('other') }),
            (e: unknown) => (e as { code?: string }).code === 'OBJECT_EXISTS',
          );
        } finally {
          await s.close();
        }
        const listed = await driver.readData(token.id, SEAL_APPLICATION);
        assert.deepEqual(
          listed.map((d) => [d.label, d.value.toString()]),
          [['CD20261203ABCDEF0123', value.toString()]],
          'public: read without a PIN',
        );
        const tool = hsm.pkcs11Tool(['--list-objects', '--type', 'data']);
        assert.match(tool, /Data object/);
        assert.match(tool, /label:\s+'CD20261203ABCDEF0123'/);
        assert.ok(tool.includes(`'${SEAL_APPLICATION}'`), 'with the seal application');

        const s2 = await driver.openSession(token.id, hsm.pin);
        try {
          assert.equal(await s2.relabelData(listed[0]!, 'retired:seal:CD20261203ABCDEF0123'), 1);
          assert.deepEqual(
            (await s2.readData(SEAL_APPLICATION)).map((d) => d.label),
            ['retired:seal:CD20261203ABCDEF0123'],
          );
          assert.equal(await s2.deleteData({ ...listed[0]!, label: 'retired:seal:CD20261203ABCDEF0123' }), 1);
          assert.deepEqual(await s2.readData(SEAL_APPLICATION), []);
        } finally {
          await s2.close();
        }
      } finally {
        await hsm.cleanup();
      }
    },
  );
});
