// SES_Signature (GB/T 38540 电子签章) made with a seal: OpenSSL verifies the holder's SM2 signature
// over TBS_Sign, and `certdesk seal verify-signature` (the built CLI) exits 0 only for a valid
// signature over the given document, naming the failed check otherwise.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { fromPem } from '../src/pki/pem.js';
import { assembleSeal, encodeSealInfo, type SealInfoInput } from '../src/pki/ses-seal.js';
import { assembleSignature, encodeTbsSign, parseSignature, verifySignature } from '../src/pki/ses-signature.js';
import { Sm2PrivateKey, sm2SignSync } from '../src/pki/sm2.js';
import { sm3 } from '../src/pki/sm3.js';
import { renderSealPicture } from '../src/seal/seal-picture.js';
import { cli } from './helpers/cli.js';
import { scratch, SM2_DISTID } from './helpers/sm2.js';

const s = scratch('seal-signature');
after(() => s.cleanup());

function opensslSm2(name: string, subject: string): { key: Sm2PrivateKey; certDer: Buffer; certFile: string } {
  const keyFile = `${s.dir}/${name}.key`;
  const certFile = `${s.dir}/${name}.pem`;
  s.ok([
    'req',
    '-x509',
    '-newkey',
    'sm2',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-sm3',
    '-sigopt',
    SM2_DISTID,
    '-subj',
    subject,
    '-days',
    '30',
  ]);
  return {
    key: Sm2PrivateKey.fromPem(s.read(`${name}.key`).toString()),
    certDer: fromPem(s.read(`${name}.pem`).toString(), 'CERTIFICATE'),
    certFile,
  };
}

const maker = opensslSm2('maker', '/CN=制章单位/O=Test CA/C=CN');
const holder = opensslSm2('holder', '/CN=国密演示单位/O=国密演示单位/C=CN');
const stranger = opensslSm2('stranger', '/CN=Someone Else/C=CN');
const picture = renderSealPicture({ name: '国密演示单位', typeLabel: '合同专用章' });
const DAY = 86_400_000;

function makeSeal(over: Partial<SealInfoInput> = {}): Buffer {
  const now = Date.now();
  const info = encodeSealInfo({
    vendorId: 'certdesk',
    esId: '11010000000042',
    type: 2,
    name: '国密演示单位合同专用章',
    holderCerts: [holder.certDer],
    createDate: new Date(now - 1000),
    validStart: new Date(now - 1000),
    validEnd: new Date(now + 365 * DAY),
    picture: { type: 'png', data: picture.png, widthMm: picture.widthMm, heightMm: picture.heightMm },
    ...over,
  });
  return assembleSeal(info, maker.certDer, sm2SignSync(maker.key, info));
}

const document = Buffer.from('%PDF-1.4\n合同正文 …\n%%EOF\n');
const docFile = s.write('contract.pdf', document);

function sign(seal: Buffer, signer = holder, data = document): { der: Buffer; tbs: Buffer; sig: Buffer } {
  const tbs = encodeTbsSign({ seal, timeInfo: new Date(), dataHash: sm3(data), propertyInfo: 'contract.pdf:whole-file' });
  const sig = sm2SignSync(signer.key, tbs);
  return { der: assembleSignature(tbs, signer.certDer, sig), tbs, sig };
}

const verifyCli = (file: string, data = docFile) => cli(['seal', 'verify-signature', file, '--data', data], { ...process.env });

describe('SES_Signature v4', () => {
  const seal = makeSeal();

  test('round-trips; OpenSSL verifies the holder signature over TBS_Sign; the CLI says VALID (DER and base64)', () => {
    const { der, tbs, sig } = sign(seal);
    const p = parseSignature(der);
    assert.equal(p.version, 4);
    assert.equal(p.seal.esId, '11010000000042');
    assert.deepEqual(p.dataHash, sm3(document));
    assert.deepEqual(p.tbsDer, tbs);
    const pub = s.write('holder.pub', s.ok(['x509', '-in', holder.certFile, '-pubkey', '-noout']));
    const out = s.ok([
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      pub,
      '-rawin',
      '-digest',
      'sm3',
      '-pkeyopt',
      SM2_DISTID,
      '-in',
      s.write('tbs.der', tbs),
      '-sigfile',
      s.write('sig.bin', sig),
    ]);
    assert.match(out, /Signature Verified Successfully/);
    assert.equal(verifySignature(der, { data: document }).ok, true);
    const r = verifyCli(s.write('ok.der', der));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^VALID: seal 11010000000042/);
    const b64 = verifyCli(s.write('ok.b64', der.toString('base64') + '\n'));
    assert.equal(b64.status, 0, b64.stdout + b64.stderr);
  });

  test('another document: exit 1, data-hash', () => {
    const r = verifyCli(s.write('ok2.der', sign(seal).der), s.write('other.pdf', Buffer.concat([document, Buffer.from(' ')])));
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^INVALID: data-hash/);
  });

  test('a signer not in the seal: exit 1, signer-in-seal', () => {
    const r = verifyCli(s.write('stranger.der', sign(seal, stranger).der));
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^INVALID: signer-in-seal/);
  });

  test('a flipped bit in the signed TBS: exit 1, signer-signature or format', () => {
    const { der, tbs } = sign(seal);
    const bad = Buffer.from(der);
    // flip a byte inside the propertyInfo (the last IA5String of TBS_Sign)
    const at = der.indexOf(Buffer.from('whole-file'));
    assert.ok(at > 0 && at < tbs.length + 8);
    bad[at] = 'W'.charCodeAt(0);
    const r = verifyCli(s.write('flipped.der', bad));
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^INVALID: signer-signature/);
  });

  test('an expired seal: exit 1, seal-seal-validity; garbage: format', () => {
    const old = makeSeal({
      createDate: new Date(Date.now() - 3 * DAY),
      validStart: new Date(Date.now() - 3 * DAY),
      validEnd: new Date(Date.now() - DAY),
    });
    const r = verifyCli(s.write('expired.der', sign(old).der));
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^INVALID: seal-seal-validity/);
    const g = verifyCli(s.write('garbage.der', Buffer.from([0x30, 0x03, 1, 2, 3])));
    assert.equal(g.status, 1);
    assert.match(g.stdout, /^INVALID: format/);
  });

  test('bad input to the encoder names the field', () => {
    assert.throws(() => encodeTbsSign({ seal, timeInfo: new Date(), dataHash: Buffer.alloc(20), propertyInfo: 'x' }), /dataHash/);
    assert.throws(
      () => encodeTbsSign({ seal, timeInfo: new Date(), dataHash: sm3(document), propertyInfo: '合同' }),
      /propertyInfo/,
    );
  });
});
