// The seal codec against OpenSSL: a GB/T 38540 seal we make carries an SM2 signature that OpenSSL
// verifies over the SES_SealInfo bytes `asn1parse -strparse` extracts (with the maker's key and the
// default ID); every broken seal fails verification naming the check; GM/T 0031-2014 seals parse.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as der from '../src/pki/der.js';
import { toPem } from '../src/pki/pem.js';
import { sm2SignSync } from '../src/pki/sm2.js';
import {
  assembleLegacySeal,
  assembleSeal,
  encodeLegacySealInfo,
  encodeSealInfo,
  legacySignedBytes,
  parseSeal,
  type SealInfoInput,
} from '../src/pki/ses-seal.js';
import { verifySeal } from '../src/pki/ses-verify.js';
import { renderSealPicture } from '../src/seal/seal-picture.js';
import { opensslSm2, scratch, SM2_DISTID } from './helpers/sm2.js';

const s = scratch('seal-codec');
after(() => s.cleanup());

const maker = opensslSm2(s, 'maker', '/CN=制章单位/O=Test CA/C=CN');
const holder = opensslSm2(s, 'holder', '/CN=国密演示单位/O=国密演示单位/C=CN');
const picture = renderSealPicture({ name: '国密演示单位', typeLabel: '合同专用章' });
const DAY = 86_400_000;

function info(over: Partial<SealInfoInput> = {}): SealInfoInput {
  const now = Date.now();
  return {
    vendorId: 'certdesk',
    esId: '11010000000001',
    type: 2,
    name: '国密演示单位合同专用章',
    holderCerts: [holder.certDer],
    createDate: new Date(now - 1000),
    validStart: new Date(now - 1000),
    validEnd: new Date(now + 365 * DAY),
    picture: { type: 'png', data: picture.png, widthMm: picture.widthMm, heightMm: picture.heightMm },
    ...over,
  };
}

function makeSeal(over: Partial<SealInfoInput> = {}, signer = maker): Buffer {
  const sealInfo = encodeSealInfo(info(over));
  return assembleSeal(sealInfo, signer.certDer, sm2SignSync(signer.key, sealInfo));
}

describe('GB/T 38540 seals', () => {
  test('a seal we make round-trips, verifies, and OpenSSL verifies its signature over SES_SealInfo', () => {
    const seal = makeSeal();
    const p = parseSeal(seal);
    assert.equal(p.version, 4);
    assert.equal(p.layout, 'v4');
    assert.equal(p.esId, '11010000000001');
    assert.equal(p.name, '国密演示单位合同专用章');
    assert.equal(p.certListType, 1);
    assert.deepEqual(p.certList, [holder.certDer]);
    assert.deepEqual(p.picture.data, picture.png);
    assert.equal(p.picture.type, 'png');
    assert.deepEqual(p.makerCert, maker.certDer);
    const v = verifySeal(seal, { makerIssuers: [maker.certDer] });
    assert.ok(v.ok, v.ok ? '' : `${v.failedCheck}: ${v.reason}`);

    // OpenSSL: SES_SealInfo is the first element; the signature the fourth (a BIT STRING)
    const file = s.write('seal.der', seal);
    const [sealInfo, , , sig] = der.children(der.parse(seal));
    const dump = s.ok(['asn1parse', '-inform', 'DER', '-in', file]);
    assert.match(dump, /IA5STRING\s+:ES/, 'header id ES');
    assert.match(dump, /GENERALIZEDTIME/, 'dates are GeneralizedTime');
    assert.match(dump, /OBJECT\s+:1\.2\.156\.10197\.1\.501|OBJECT\s+:SM2-with-SM3/, 'SM2-with-SM3');
    s.ok([
      'asn1parse',
      '-inform',
      'DER',
      '-in',
      file,
      '-strparse',
      String(sealInfo!.start),
      '-noout',
      '-out',
      `${s.dir}/sealinfo.der`,
    ]);
    assert.deepEqual(s.read('sealinfo.der'), der.raw(sealInfo!), 'asn1parse extracts exactly SES_SealInfo');
    s.write('seal.sig', der.decodeBitString(sig!));
    const pub = s.write('maker.pub', s.ok(['x509', '-in', `${s.dir}/maker.pem`, '-pubkey', '-noout']));
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
      `${s.dir}/sealinfo.der`,
      '-sigfile',
      `${s.dir}/seal.sig`,
    ]);
    assert.match(out, /Signature Verified Successfully/);
  });

  test('a flipped byte fails verification with the check that failed', () => {
    const seal = makeSeal();
    const nameAt = seal.indexOf(Buffer.from('合同专用章', 'utf8'));
    assert.ok(nameAt > 0);
    const flipped = Buffer.from(seal);
    flipped.writeUInt8(flipped.readUInt8(nameAt) ^ 0x01, nameAt);
    const v = verifySeal(flipped);
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.failedCheck, 'maker-signature');

    const broken = Buffer.from(seal);
    broken[0] = 0x31; // no longer a SEQUENCE
    const b = verifySeal(broken);
    assert.equal(!b.ok && b.failedCheck, 'format');
    assert.equal(verifySeal(seal.subarray(0, seal.length - 3)).ok, false, 'a truncated seal fails');
  });

  test('expired, not-yet-valid, foreign-maker seals fail their checks', () => {
    const past = makeSeal({ validStart: new Date(Date.now() - 10 * DAY), validEnd: new Date(Date.now() - DAY) });
    const v = verifySeal(past);
    assert.equal(!v.ok && v.failedCheck, 'seal-validity');
    const other = opensslSm2(s, 'other', '/CN=Someone else/C=CN');
    const foreign = makeSeal({}, other);
    assert.ok(verifySeal(foreign).ok, 'self-consistent');
    const f = verifySeal(foreign, { makerIssuers: [maker.certDer] });
    assert.equal(!f.ok && f.failedCheck, 'maker-issuer');
    // a maker certificate swapped in after signing: the signature no longer matches its key
    const [sealInfo, , , sig] = der.children(der.parse(makeSeal()));
    const swapped = assembleSeal(Buffer.from(der.raw(sealInfo!)), other.certDer, der.decodeBitString(sig!));
    assert.equal(((r) => !r.ok && r.failedCheck)(verifySeal(swapped)), 'maker-signature');
  });

  test('bad input to the encoder is refused before anything is signed', () => {
    assert.throws(() => encodeSealInfo(info({ esId: '' })), /esID/);
    assert.throws(() => encodeSealInfo(info({ holderCerts: [] })), /at least one holder certificate/);
    assert.throws(() => encodeSealInfo(info({ validEnd: new Date(0) })), /validStart must be before validEnd/);
  });

  test('GM/T 0031-2014 seals (version 2 layout, UTCTime) parse and verify', () => {
    const i = info({ esId: 'LEGACY-0031-0001' });
    const sealInfo = encodeLegacySealInfo(i);
    const signed = legacySignedBytes(sealInfo, maker.certDer);
    const legacy = assembleLegacySeal(sealInfo, maker.certDer, sm2SignSync(maker.key, signed));
    const p = parseSeal(legacy);
    assert.equal(p.layout, 'v2');
    assert.equal(p.version, 2);
    assert.equal(p.esId, 'LEGACY-0031-0001');
    assert.deepEqual(p.certList, [holder.certDer]);
    assert.ok(verifySeal(legacy).ok);
    const flipped = Buffer.from(legacy);
    const at = flipped.indexOf(Buffer.from('LEGACY'));
    flipped.writeUInt8(flipped.readUInt8(at) ^ 0x02, at);
    assert.equal(((r) => !r.ok && r.failedCheck)(verifySeal(flipped)), 'maker-signature');
    assert.ok(toPem('CERTIFICATE', p.makerCert).includes('BEGIN CERTIFICATE'));
  });
});
