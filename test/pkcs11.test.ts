// PKCS#11 layer and signer against a throwaway SoftHSM2 token.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as graphene from 'graphene-pk11';
import pkcs11js from 'pkcs11js';
import { keyIdentifier, keyTypeOfSpki, type KeyType } from '../src/pki/algorithms.js';
import { parseCertificate } from '../src/pki/certificate.js';
import * as der from '../src/pki/der.js';
import { OID } from '../src/pki/oids.js';
import { fromPem } from '../src/pki/pem.js';
import {
  closeAllModules,
  deleteKeyPair,
  findKeyPair,
  findKeyPairs,
  generateKeyPair,
  listObjects,
  listTokens,
  openModule,
  openTokenSession,
  Pkcs11Error,
  readCertificate,
  readCertificates,
  setLabel,
  unwrapEcPoint,
  writeCertificate,
  type TokenSession,
} from '../src/pkcs11/index.js';
import { openSigner } from '../src/signer/open-signer.js';
import { Pkcs11Signer } from '../src/signer/pkcs11-signer.js';
import { SoftwareSigner } from '../src/signer/software-signer.js';
import type { Signer } from '../src/signer/signer.js';
import { requireTool } from './helpers/requirements.js';
import { createSoftHsm, type SoftHsm } from './helpers/softhsm.js';

const skip = requireTool('softhsm2');

function assertVerifies(signer: Signer, data: Buffer, sig: Buffer): void {
  const { key } = keyTypeOfSpki(signer.spki);
  assert.ok(verify(signer.algorithm.digest, data, key, sig), `${signer.keyType} signature must verify against the exported SPKI`);
}

async function expectPkcs11Error(p: Promise<unknown>, code: string): Promise<Pkcs11Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof Pkcs11Error, `expected Pkcs11Error, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected Pkcs11Error ${code}, but the call succeeded`);
}

/** Raw attribute read, to check what the token itself stores. */
async function privateKeyAttrs(session: TokenSession, id: string): Promise<Record<string, unknown>> {
  return session.run((s) => {
    const [obj] = [...s.find({ class: graphene.ObjectClass.PRIVATE_KEY, id: Buffer.from(id, 'hex') })];
    assert.ok(obj, 'private key object exists');
    const get = (name: string): unknown => obj.getAttribute(name) as unknown;
    return {
      token: get('token'),
      private: get('private'),
      sensitive: get('sensitive'),
      extractable: get('extractable'),
      neverExtractable: get('neverExtractable'),
      alwaysSensitive: get('alwaysSensitive'),
      sign: get('sign'),
    };
  });
}

describe('PKCS#11 signer on SoftHSM2', { skip }, () => {
  let hsm: SoftHsm;

  before(() => {
    hsm = createSoftHsm({ tokens: ['ca-token', { label: 'other-token', pin: '654321' }] });
  });
  after(async () => {
    await hsm.cleanup();
  });

  it('lists the tokens with their flags', () => {
    const tokens = listTokens(hsm.module).filter((t) => t.flags.initialized);
    assert.deepEqual(tokens.map((t) => t.label).sort(), ['ca-token', 'other-token']);
    const ca = tokens.find((t) => t.label === 'ca-token')!;
    assert.equal(ca.serial, hsm.tokens[0]!.serial);
    assert.equal(ca.model.trim(), 'SoftHSM v2');
    assert.equal(ca.flags.loginRequired, true);
    assert.equal(ca.flags.userPinInitialized, true);
    assert.equal(ca.flags.userPinLocked, false);
    // one instance per library file, however it is named
    assert.equal(openModule(hsm.module), openModule(realpathSync(hsm.module)));
  });

  for (const keyType of ['ec-p256', 'ec-p384', 'rsa-2048'] satisfies KeyType[]) {
    it(`${keyType}: generates on the token, signs verifiably, reopens by ref`, async () => {
      const label = `CA key ${keyType}`;
      const signer = await Pkcs11Signer.generate({ module: hsm.module, token: hsm.token, pin: hsm.pin, label, keyType });
      let ref;
      try {
        assert.equal(signer.keyType, keyType);
        assert.equal(keyTypeOfSpki(signer.spki).keyType, keyType);
        assert.equal(signer.ref.kind, 'pkcs11');
        ref = signer.ref;
        assert.deepEqual(Object.keys(ref).sort(), ['id', 'kind', 'label', 'module', 'token']);
        assert.equal(ref.label, label);
        assert.match(ref.id, /^[0-9a-f]{32}$/);
        const data = Buffer.from(`to be signed by ${keyType}`);
        // SoftHSM 2.6 has no ECDSA_SHA256/384, so EC exercises the host-hash path and RSA the hash-and-sign one
        const session = await openTokenSession({ module: hsm.module, token: hsm.token, pin: hsm.pin });
        try {
          const pair = await findKeyPair(session, { id: ref.id });
          const mechs = await session.mechanisms();
          const expected = keyType.startsWith('ec-')
            ? mechs.has(keyType === 'ec-p256' ? 'ECDSA_SHA256' : 'ECDSA_SHA384')
              ? { name: keyType === 'ec-p256' ? 'ECDSA_SHA256' : 'ECDSA_SHA384', prehash: false }
              : { name: 'ECDSA', prehash: true }
            : { name: 'SHA256_RSA_PKCS', prehash: false };
          assert.deepEqual(await pair.signMechanism(), expected);
        } finally {
          await session.close();
        }
        const sig = await signer.sign(data);
        if (keyType.startsWith('ec-')) assert.equal(sig[0], 0x30, 'ECDSA signature is DER SEQUENCE');
        else assert.equal(sig.length, 256);
        assertVerifies(signer, data, sig);
      } finally {
        await signer.close();
      }
      // A fresh process would have the module loaded anew: simulate it.
      closeAllModules();
      const reopened = await Pkcs11Signer.open(ref, hsm.pin);
      try {
        assert.deepEqual(reopened.spki, signer.spki);
        assert.deepEqual(reopened.ref, ref);
        const data = randomBytes(100);
        assertVerifies(signer, data, await reopened.sign(data));
      } finally {
        await reopened.close();
      }
    });
  }

  it('the private key is sensitive, not extractable and listed by pkcs11-tool', async () => {
    const signer = await Pkcs11Signer.generate({
      module: hsm.module,
      token: hsm.token,
      pin: hsm.pin,
      label: 'sealed-key',
      keyType: 'ec-p256',
    });
    await signer.close();
    const session = await openTokenSession({ module: hsm.module, token: hsm.token, pin: hsm.pin });
    try {
      assert.equal(signer.ref.kind, 'pkcs11');
      const id = signer.ref.kind === 'pkcs11' ? signer.ref.id : '';
      assert.deepEqual(await privateKeyAttrs(session, id), {
        token: true,
        private: true,
        sensitive: true,
        extractable: false,
        neverExtractable: true,
        alwaysSensitive: true,
        sign: true,
      });
      const listed = await listObjects(session, { id });
      assert.deepEqual(listed.map((o) => [o.class, o.label, o.keyType]).sort(), [
        ['private-key', 'sealed-key', 'EC'],
        ['public-key', 'sealed-key', 'EC'],
      ]);
      const priv = listed.find((o) => o.class === 'private-key')!;
      assert.equal(priv.sensitive, true);
      assert.equal(priv.extractable, false);
      // the token refuses to reveal the key value or to make it extractable later
      await session.run((s) => {
        const [obj] = [...s.find({ class: graphene.ObjectClass.PRIVATE_KEY, id: Buffer.from(id, 'hex') })];
        assert.ok(obj);
        assert.throws(() => obj.getAttribute(pkcs11js.CKA_VALUE), /CKR_ATTRIBUTE_SENSITIVE/);
        assert.throws(() => obj.setAttribute({ extractable: true }), /CKR_ATTRIBUTE_READ_ONLY/);
      });
    } finally {
      await session.close();
    }
    const out = hsm.pkcs11Tool(['--list-objects', '--login', '--pin', hsm.pin, '--token-label', hsm.token]);
    assert.match(out, /Private Key Object; EC/);
    assert.match(out, /label:\s+sealed-key/);
  });

  it('a wrong PIN is PIN_INCORRECT and the PIN is not in the error', async () => {
    const wrongPin = 'wrong-PIN-4711';
    const ref = { kind: 'pkcs11' as const, module: hsm.module, token: hsm.token, id: '00', label: 'x' };
    const err = await expectPkcs11Error(Pkcs11Signer.open(ref, wrongPin), 'PIN_INCORRECT');
    assert.equal(err.ckr, 'CKR_PIN_INCORRECT');
    assert.match(err.message, /login to token "ca-token" failed: incorrect PIN/);
    assert.ok(!err.message.includes(wrongPin) && !String(err.stack).includes(wrongPin), 'PIN must not appear in the error');
  });

  it('a wrong PIN is refused even while another signer of this process is logged in', async () => {
    const a = await Pkcs11Signer.generate({
      module: hsm.module,
      token: hsm.token,
      pin: hsm.pin,
      label: 'shared-login',
      keyType: 'ec-p256',
    });
    try {
      assert.equal(a.ref.kind, 'pkcs11');
      if (a.ref.kind !== 'pkcs11') return;
      await expectPkcs11Error(Pkcs11Signer.open(a.ref, '999999'), 'PIN_INCORRECT');
      // the right PIN still works, and closing the second signer does not log out the first
      const b = await Pkcs11Signer.open(a.ref, hsm.pin);
      await b.close();
      const data = Buffer.from('still logged in');
      assertVerifies(a, data, await a.sign(data));
    } finally {
      await a.close();
    }
  });

  it('serializes concurrent signatures on one session', async () => {
    const signer = await Pkcs11Signer.generate({
      module: hsm.module,
      token: hsm.token,
      pin: hsm.pin,
      label: 'busy',
      keyType: 'ec-p256',
    });
    try {
      const inputs = Array.from({ length: 25 }, (_, i) => Buffer.from(`message ${i}`));
      const sigs = await Promise.all(inputs.map((d) => signer.sign(d)));
      sigs.forEach((sig, i) => assertVerifies(signer, inputs[i]!, sig));
    } finally {
      await signer.close();
    }
  });

  it('reports a missing key, a missing token and a duplicate id', async () => {
    const ref = { kind: 'pkcs11' as const, module: hsm.module, token: hsm.token, id: 'deadbeef', label: 'gone' };
    const e1 = await expectPkcs11Error(Pkcs11Signer.open(ref, hsm.pin), 'KEY_NOT_FOUND');
    assert.match(e1.message, /no private key with id deadbeef on token "ca-token"/);
    const e2 = await expectPkcs11Error(Pkcs11Signer.open({ ...ref, token: 'no-such-token' }, hsm.pin), 'TOKEN_NOT_FOUND');
    assert.match(e2.message, /tokens present: .*"ca-token"/);
    const first = await Pkcs11Signer.generate({
      module: hsm.module,
      token: hsm.token,
      pin: hsm.pin,
      label: 'dup',
      keyType: 'ec-p256',
      id: 'c0ffee',
    });
    await first.close();
    await expectPkcs11Error(
      Pkcs11Signer.generate({
        module: hsm.module,
        token: hsm.token,
        pin: hsm.pin,
        label: 'dup2',
        keyType: 'ec-p256',
        id: 'c0ffee',
      }),
      'OBJECT_EXISTS',
    );
    await expectPkcs11Error(openTokenSession({ module: '/nonexistent/libpkcs11.so', token: 'x' }), 'MODULE_LOAD_FAILED');
  });

  it('keeps tokens apart and selects by serial', async () => {
    const other = hsm.tokens[1]!;
    const s = await openTokenSession({ module: hsm.module, token: { serial: other.serial }, pin: other.pin });
    try {
      assert.equal(s.token.label, 'other-token');
      const pair = await generateKeyPair(s, { keyType: 'ec-p256', label: 'on-other', id: '0102' });
      assert.equal(pair.id, '0102');
      assert.deepEqual(
        (await findKeyPairs(s)).map((k) => k.label),
        ['on-other'],
      );
    } finally {
      await s.close();
    }
    // the CA token's PIN does not open the other token
    await expectPkcs11Error(openTokenSession({ module: hsm.module, token: 'other-token', pin: hsm.pin }), 'PIN_INCORRECT');
  });

  it('stores a certificate object and reads it back byte-identical', async () => {
    const certDer = selfSignedWithOpenssl(hsm.dir, 'a');
    const parsed = parseCertificate(certDer);
    const session = await openTokenSession({ module: hsm.module, token: hsm.token, pin: hsm.pin });
    try {
      const stored = await writeCertificate(session, { der: certDer, label: 'test cert', id: 'abcdef01' });
      assert.equal(stored.id, 'abcdef01');
      // writing the same certificate again is a no-op; a different one under the id is refused
      await writeCertificate(session, { der: certDer, label: 'test cert', id: 'abcdef01' });
      assert.equal((await readCertificates(session, { id: 'abcdef01' })).length, 1);
      const second = selfSignedWithOpenssl(hsm.dir, 'b');
      await expectPkcs11Error(writeCertificate(session, { der: second, label: 'other', id: 'abcdef01' }), 'OBJECT_EXISTS');

      const back = await readCertificate(session, { id: 'abcdef01' });
      assert.ok(back);
      assert.ok(back.equals(certDer), 'certificate read back byte-identical');
      assert.ok((await readCertificate(session, { label: 'test cert' }))?.equals(certDer));

      // the attributes other applications search by
      const attrs = await session.run((s) => {
        const [o] = [...s.find({ class: graphene.ObjectClass.CERTIFICATE, id: Buffer.from('abcdef01', 'hex') })];
        assert.ok(o);
        return {
          subject: o.getAttribute('subject') as Buffer,
          issuer: o.getAttribute('issuer') as Buffer,
          serial: o.getAttribute('serial') as Buffer,
          certType: o.getAttribute('certType') as number,
          token: o.getAttribute('token') as boolean,
        };
      });
      assert.ok(attrs.subject.equals(parsed.subjectDer));
      assert.ok(attrs.issuer.equals(parsed.issuerDer));
      assert.equal(attrs.serial[0], 0x02, 'CKA_SERIAL_NUMBER is a DER INTEGER');
      assert.equal(attrs.certType, graphene.CertificateType.X_509);
      assert.equal(attrs.token, true);

      // an independent reader sees the same bytes
      const viaTool = path.join(hsm.dir, 'cert-from-token.der');
      hsm.pkcs11Tool([
        '--read-object',
        '--type',
        'cert',
        '--id',
        'abcdef01',
        '--token-label',
        hsm.token,
        '--output-file',
        viaTool,
      ]);
      assert.ok(readFileSync(viaTool).equals(certDer));

      // without an id, the SHA-1 key identifier of the certificate's key is used
      const other = await writeCertificate(session, { der: certDer, label: 'no id given' });
      assert.equal(other.id, keyIdentifier(parsed.spki).toString('hex'));
      assert.equal(await setLabel(session, { id: other.id }, 'renamed'), 1);
      assert.deepEqual(
        (await listObjects(session, { id: other.id })).map((o) => [o.class, o.label]),
        [['certificate', 'renamed']],
      );
    } finally {
      await session.close();
    }
  });

  it('a certificate defaults to the id of the key pair it belongs to; key pairs can be renamed and deleted', async () => {
    const session = await openTokenSession({ module: hsm.module, token: hsm.token, pin: hsm.pin });
    const softDir = mkdtempSync(path.join(tmpdir(), 'certdesk-soft-'));
    try {
      const pair = await generateKeyPair(session, { keyType: 'ec-p256', label: 'holder key' });
      // A certificate for the token key, signed by a throwaway software CA key.
      const ca = await SoftwareSigner.generate(softDir, 'ca.p8', 'ec-p256', 'pass');
      const certDer = makeCertificate(pair.spki, ca);
      const stored = await writeCertificate(session, { der: certDer, label: 'holder cert' });
      assert.equal(stored.id, pair.id);

      assert.equal(await setLabel(session, { id: pair.id }, 'holder renamed'), 3);
      const found = await findKeyPair(session, { label: 'holder renamed' });
      assert.equal(found.id, pair.id);
      assert.deepEqual(found.spki, pair.spki);

      assert.equal(await deleteKeyPair(session, pair.id, { certificates: true }), 3);
      await expectPkcs11Error(findKeyPair(session, { id: pair.id }), 'KEY_NOT_FOUND');
      assert.deepEqual(await listObjects(session, { id: pair.id }), []);
    } finally {
      await session.close();
      rmSync(softDir, { recursive: true, force: true });
    }
  });

  it('openSigner dispatches on the ref kind and asks only for the secret it needs', async () => {
    const softDir = mkdtempSync(path.join(tmpdir(), 'certdesk-soft-'));
    const noPin = (): string => assert.fail('software keys must not ask for the PKCS#11 PIN');
    const noPass = (): string => assert.fail('token keys must not ask for the key passphrase');
    try {
      const soft = await SoftwareSigner.generate(softDir, 'keys/a.p8', 'ec-p256', 'pass');
      const s1 = await openSigner(soft.ref, { dataDir: softDir, passphrase: () => 'pass', pkcs11Pin: noPin });
      assert.ok(s1 instanceof SoftwareSigner);
      assert.deepEqual(s1.spki, soft.spki);

      const hw = await Pkcs11Signer.generate({
        module: hsm.module,
        token: hsm.token,
        pin: hsm.pin,
        label: 'via-factory',
        keyType: 'rsa-2048',
      });
      await hw.close();
      const s2 = await openSigner(hw.ref, { dataDir: softDir, passphrase: noPass, pkcs11Pin: () => hsm.pin });
      try {
        assert.ok(s2 instanceof Pkcs11Signer);
        const data = Buffer.from('factory');
        assertVerifies(s2, data, await s2.sign(data));
      } finally {
        await s2.close();
      }
    } finally {
      rmSync(softDir, { recursive: true, force: true });
    }
  });

  it('a closed signer refuses to sign', async () => {
    const signer = await Pkcs11Signer.generate({
      module: hsm.module,
      token: hsm.token,
      pin: hsm.pin,
      label: 'closed',
      keyType: 'ec-p256',
    });
    await signer.close();
    await signer.close(); // idempotent
    await expectPkcs11Error(signer.sign(Buffer.from('x')), 'CLOSED');
  });
});

describe('CKA_EC_POINT decoding', () => {
  const point = Buffer.concat([Buffer.from([0x04]), randomBytes(64)]);
  it('unwraps the DER OCTET STRING SoftHSM returns', () => {
    const wrapped = Buffer.concat([Buffer.from([0x04, 0x41]), point]);
    assert.deepEqual(unwrapEcPoint(wrapped, 32), point);
  });
  it('accepts a bare uncompressed point', () => {
    assert.deepEqual(unwrapEcPoint(point, 32), point);
  });
  it('rejects compressed points', () => {
    assert.throws(() => unwrapEcPoint(Buffer.concat([Buffer.from([0x04, 0x21, 0x02]), randomBytes(32)]), 32), /uncompressed/);
  });
});

function selfSignedWithOpenssl(dir: string, name: string): Buffer {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.pem`);
  const args = [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=test',
    '-days',
    '1',
  ];
  execFileSync('openssl', [...args, '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  return fromPem(readFileSync(certFile, 'utf8'), 'CERTIFICATE');
}

/** A minimal certificate for `spki` issued by `ca` (built from DER parts: this test must not depend on the CA core). */
function makeCertificate(spki: Buffer, ca: SoftwareSigner): Buffer {
  const name = (cn: string): Buffer => der.seq(der.setOf(der.seq(der.oid(OID.commonName), der.utf8String(cn))));
  const now = Date.now();
  const tbs = der.seq(
    der.explicit(0, der.int(2)),
    der.intFromUnsigned(randomBytes(16)),
    ca.algorithm.algId,
    name('test CA'),
    der.seq(der.time(new Date(now - 60_000)), der.time(new Date(now + 86_400_000))),
    name('holder'),
    spki,
  );
  return der.seq(tbs, ca.algorithm.algId, der.bitString(ca.signSync(tbs)));
}
