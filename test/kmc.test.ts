// The key management centre (issue 9): SM2 encryption keys made and escrowed under the SM4 master
// key, delivered in SM2EnvelopedKeys that our code and OpenSSL open with the signing key; one key
// per request even when several processes ask at once (SQLite and PostgreSQL); escrow at rest is
// not the key; append-only tables; a wrong or missing master key refused at start; and recovery
// (`certdesk kmc recover`, POST /api/staff/kmc/recover) for the kmc role only, audited.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { KmcError } from '../src/kmc/errors.js';
import { openPrivateKey, sealPrivateKey } from '../src/kmc/escrow-cipher.js';
import { KeyManagementCentre, kmcOptionsFrom } from '../src/kmc/key-management-centre.js';
import { loadConfig } from '../src/config/config.js';
import { openDatabase } from '../src/sa/database.js';
import { readMasterKeyFile } from '../src/kmc/master-key.js';
import * as der from '../src/pki/der.js';
import { toPem } from '../src/pki/pem.js';
import { openSm2EnvelopedKey } from '../src/pki/sm2-envelope.js';
import { Sm2PrivateKey, Sm2PublicKey } from '../src/pki/sm2.js';
import { verifyAuditChain } from '../src/sa/audit.js';
import { checkRoles } from '../src/staff/accounts.js';
import { permissionsOf, ROLES } from '../src/staff/roles.js';
import { BACKENDS } from './helpers/backends.js';
import { createTestCa, opensslCsr, type TestCa } from './helpers/ca.js';
import { cli, ROOT } from './helpers/cli.js';
import { serveTestCa, type ServedCa } from './helpers/holder.js';
import { requireTool } from './helpers/requirements.js';
import { createSoftHsm, type SoftHsm } from './helpers/softhsm.js';
import { scratch } from './helpers/sm2.js';
import { createStaff, StaffClient, type TestStaff } from './helpers/staff.js';

const DISTID = 'distid:1234567812345678';
const s = scratch('kmc');
after(() => s.cleanup());

const sha256 = (b: Buffer): string => hash('sha256', b, 'hex');

/** Asks the KMC for `requestId`'s key from a separate process (the built dist/, its own DB connection). */
function issueInChild(env: NodeJS.ProcessEnv, requestId: string, signingSpki: Buffer): Promise<{ keyId: string; spki: string }> {
  const script = `
    import { loadConfig } from ${JSON.stringify(path.join(ROOT, 'dist/config/config.js'))};
    import { openDatabase } from ${JSON.stringify(path.join(ROOT, 'dist/sa/database.js'))};
    import { KeyManagementCentre } from ${JSON.stringify(path.join(ROOT, 'dist/kmc/key-management-centre.js'))};
    const config = loadConfig();
    const storage = await openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
    const kmc = await KeyManagementCentre.open(storage, { masterKeyFile: config.kmcMasterKeyFile });
    const r = await kmc.issueEncryptionKey({ requestId: process.argv[1], signingSpki: Buffer.from(process.argv[2], 'hex'), actor: 'test:child' });
    process.stdout.write(JSON.stringify({ keyId: r.keyId, spki: r.publicSpki.toString('hex') }));
    await storage.close();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, requestId, signingSpki.toString('hex')], { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

/** An SM2 certificate for `key` from the test CA (OpenSSL makes the CSR, signed with the default ID). */
async function certify(
  ca: TestCa,
  key: Sm2PrivateKey,
  subject: string,
  uniqueId: string,
): Promise<{ serial: string; pem: string }> {
  const keyFile = s.write(`k-${Math.random().toString(36).slice(2)}.pem`, key.toPem());
  const { csr } = opensslCsr(s.dir, subject, ['-key', keyFile, '-sm3', '-sigopt', DISTID]);
  const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', uniqueId, actor: 'test' });
  return { serial: issued.record.serial, pem: toPem('CERTIFICATE', issued.der) };
}

async function auditOf(ca: TestCa, action: string) {
  return (await ca.rt.storage.db.selectFrom('audit_log').selectAll().where('action', '=', action).orderBy('seq').execute()).map(
    (r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }),
  );
}

for (const backend of BACKENDS) {
  describe(`KMC escrow (${backend.name})`, { skip: backend.skip }, () => {
    let ca: TestCa;
    before(async () => {
      ca = await createTestCa({ keyType: 'sm2', postgres: backend.postgres });
    });
    after(async () => {
      await ca?.cleanup();
    });

    test('a key per request: the envelope opens with the signing key to the private key of publicSpki; asking again gives the same key', async () => {
      const signing = Sm2PrivateKey.generate();
      const r = await ca.rt.kmc.issueEncryptionKey({
        requestId: 'order-1',
        signingSpki: signing.publicKey.toSpki(),
        actor: 'test',
      });
      const opened = openSm2EnvelopedKey(r.envelope, signing);
      assert.ok(opened.encryptionKey.publicKey.equals(Sm2PublicKey.fromSpki(r.publicSpki)));
      const again = await ca.rt.kmc.issueEncryptionKey({
        requestId: 'order-1',
        signingSpki: signing.publicKey.toSpki(),
        actor: 'test',
      });
      assert.equal(again.keyId, r.keyId);
      assert.deepEqual(again.publicSpki, r.publicSpki);
      assert.equal(openSm2EnvelopedKey(again.envelope, signing).encryptionKey.d, opened.encryptionKey.d);
      const other = await ca.rt.kmc.issueEncryptionKey({
        requestId: 'order-2',
        signingSpki: signing.publicKey.toSpki(),
        actor: 'test',
      });
      assert.notEqual(other.keyId, r.keyId);
      const generated = await auditOf(ca, 'kmc.key_generated');
      const mine = generated.filter((e) => e.details.requestId === 'order-1');
      assert.equal(mine.length, 1, 'one kmc.key_generated entry per key, none for the repeat');
      assert.equal(mine[0]!.target, r.keyId);
      assert.equal(mine[0]!.details.spkiSha256, sha256(r.publicSpki));
      assert.equal(mine[0]!.details.signingSpkiSha256, sha256(signing.publicKey.toSpki()));
      assert.ok(!JSON.stringify(generated).includes(opened.encryptionKey.d.toString(16)), 'the audit log never holds the key');
    });

    test('the same request with another signing key is refused: only a recovery sends a key elsewhere', async () => {
      const signing = Sm2PrivateKey.generate();
      await ca.rt.kmc.issueEncryptionKey({ requestId: 'order-3', signingSpki: signing.publicKey.toSpki(), actor: 'test' });
      await assert.rejects(
        ca.rt.kmc.issueEncryptionKey({
          requestId: 'order-3',
          signingSpki: Sm2PrivateKey.generate().publicKey.toSpki(),
          actor: 'test',
        }),
        (e: Error) => e instanceof KmcError && e.code === 'conflict' && /delivered to another signing key/.test(e.message),
      );
      await assert.rejects(
        ca.rt.kmc.issueEncryptionKey({ requestId: 'order-4', signingSpki: Buffer.from('junk'), actor: 'test' }),
        (e: Error) => e instanceof KmcError && e.field === 'signingSpki' && /not an SM2 public key/.test(e.message),
      );
      await assert.rejects(
        ca.rt.kmc.issueEncryptionKey({ requestId: ' ', signingSpki: signing.publicKey.toSpki(), actor: 'test' }),
        (e: Error) => e instanceof KmcError && e.field === 'requestId',
      );
    });

    test('parallel requests for one order, in one process and from four processes, give one key', async () => {
      const signing = Sm2PrivateKey.generate();
      const spki = signing.publicKey.toSpki();
      const inProcess = await Promise.all(
        Array.from({ length: 6 }, () =>
          ca.rt.kmc.issueEncryptionKey({ requestId: 'order-par-1', signingSpki: spki, actor: 'test' }),
        ),
      );
      assert.equal(new Set(inProcess.map((r) => r.keyId)).size, 1);
      for (const r of inProcess)
        assert.equal(
          openSm2EnvelopedKey(r.envelope, signing).encryptionKey.publicKey.toSpki().toString('hex'),
          r.publicSpki.toString('hex'),
        );

      const children = await Promise.all(Array.from({ length: 4 }, () => issueInChild(ca.env, 'order-par-2', spki)));
      assert.equal(new Set(children.map((r) => r.keyId)).size, 1, JSON.stringify(children));
      assert.equal(new Set(children.map((r) => r.spki)).size, 1);
      const rows = await ca.rt.storage.db
        .selectFrom('kmc_keys')
        .select('key_id')
        .where('request_id', 'in', ['order-par-1', 'order-par-2'])
        .execute();
      assert.equal(rows.length, 2);
      const generated = (await auditOf(ca, 'kmc.key_generated')).filter((e) =>
        String(e.details.requestId).startsWith('order-par-'),
      );
      assert.equal(generated.length, 2);
      assert.equal((await verifyAuditChain(ca.rt.storage.db)).ok, true);
    });

    test('escrow at rest is the key under the master key, not the key; the MAC binds it to its row', async () => {
      const signing = Sm2PrivateKey.generate();
      const r = await ca.rt.kmc.issueEncryptionKey({
        requestId: 'order-rest',
        signingSpki: signing.publicKey.toSpki(),
        actor: 'test',
      });
      const d = Buffer.from(openSm2EnvelopedKey(r.envelope, signing).encryptionKey.d.toString(16).padStart(64, '0'), 'hex');
      const row = await ca.rt.storage.db
        .selectFrom('kmc_keys')
        .selectAll()
        .where('key_id', '=', r.keyId)
        .executeTakeFirstOrThrow();
      assert.equal(row.spki_sha256, sha256(r.publicSpki));
      assert.ok(!row.encrypted_private_key.includes(d), 'the stored blob does not contain d');
      assert.ok(!row.encrypted_private_key.includes(d.subarray(0, 16)) && !row.encrypted_private_key.includes(d.subarray(16)));
      if (!backend.postgres) {
        for (const f of readdirSync(ca.dir).filter((n) => n.startsWith('certdesk.sqlite'))) {
          assert.ok(!readFileSync(path.join(ca.dir, f)).includes(d), `${f} does not contain d`);
        }
      }
      // With the master key, the blob opens to d — and only for its own row.
      const mk = readMasterKeyFile(ca.config.kmcMasterKeyFile)!;
      const bound = { keyId: row.key_id, spkiSha256: row.spki_sha256 };
      assert.deepEqual(openPrivateKey(mk, row.encrypted_private_key, bound), d);
      assert.equal(row.master_key_id, mk.id);
      assert.throws(
        () => openPrivateKey(mk, row.encrypted_private_key, { ...bound, keyId: 'kmc-other' }),
        (e: Error) => e instanceof KmcError && e.code === 'escrow_damaged' && /integrity check/.test(e.message),
      );
      const flipped = Buffer.from(row.encrypted_private_key);
      flipped[20]! ^= 1;
      assert.throws(() => openPrivateKey(mk, flipped, bound), /integrity check/);
      const resealed = sealPrivateKey(mk, d, bound);
      assert.ok(!resealed.equals(row.encrypted_private_key), 'a fresh IV every time');
    });

    test('escrow rows and master key registrations cannot be changed or deleted, whoever connects', async () => {
      const db = ca.rt.storage.db;
      await ca.rt.kmc.issueEncryptionKey({
        requestId: 'order-kept',
        signingSpki: Sm2PrivateKey.generate().publicKey.toSpki(),
        actor: 'test',
      });
      const before = (await sql`select * from kmc_keys order by key_id`.execute(db)).rows;
      await assert.rejects(sql`update kmc_keys set encrypted_private_key = ${Buffer.from('x')}`.execute(db), /append-only/);
      await assert.rejects(
        sql`update kmc_keys set request_id = 'other' where request_id = 'order-kept'`.execute(db),
        /append-only/,
      );
      await assert.rejects(sql`delete from kmc_keys where request_id = 'order-kept'`.execute(db), /append-only/);
      await assert.rejects(sql`delete from kmc_keys`.execute(db), /append-only/);
      await assert.rejects(sql`update kmc_master_keys set check_value = 'x'`.execute(db), /append-only/);
      await assert.rejects(sql`delete from kmc_master_keys`.execute(db), /append-only/);
      if (backend.postgres) {
        await assert.rejects(sql`truncate kmc_keys`.execute(db), /append-only/);
        await assert.rejects(sql`truncate kmc_master_keys cascade`.execute(db), /append-only/);
      }
      assert.deepEqual((await sql`select * from kmc_keys order by key_id`.execute(db)).rows, before);
    });

    test('a wrong, missing or world-readable master key file is refused at start, naming the file', async () => {
      const right = ca.config.kmcMasterKeyFile;
      const wrong = s.write(`wrong-${backend.name}.key`, '00112233445566778899aabbccddeeff\n');
      chmodSync(wrong, 0o600);
      await assert.rejects(
        KeyManagementCentre.open(ca.rt.storage, { masterKeyFile: wrong, create: true }),
        (e: Error) => e instanceof KmcError && e.code === 'master_key' && /not its key file/.test(e.message),
      );
      const missing = path.join(s.dir, `missing-${backend.name}.key`);
      await assert.rejects(
        KeyManagementCentre.open(ca.rt.storage, { masterKeyFile: missing, create: true }),
        /is missing, but the escrow store holds \d+ key\(s\)/,
      );
      assert.equal(existsSync(missing), false, 'no new key is made while the store has one');
      // The runtime every command and `certdesk serve` open refuses to start with them.
      const r = cli(['staff', 'list'], { ...ca.env, KMC_MASTER_KEY_FILE: wrong });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /KMC_MASTER_KEY_FILE holds master key mk-[0-9a-f]{16}, but the escrow store is under mk-/);
      const loose = path.join(s.dir, `loose-${backend.name}.key`);
      copyFileSync(right, loose);
      chmodSync(loose, 0o644);
      const st = cli(['kmc', 'status'], { ...ca.env, KMC_MASTER_KEY_FILE: loose });
      assert.notEqual(st.status, 0);
      assert.match(st.stderr, /may be read by other users \(mode 0644\): chmod 600/);
      writeFileSync(loose, 'not a key\n');
      chmodSync(loose, 0o600);
      assert.match(
        cli(['kmc', 'status'], { ...ca.env, KMC_MASTER_KEY_FILE: loose }).stderr,
        /is not a KMC master key \(expected 32 hex digits/,
      );
      const ok = cli(['kmc', 'status', '--json'], ca.env);
      assert.equal(ok.status, 0, ok.stderr);
      const status = JSON.parse(ok.stdout) as { masterKeyId: string; escrowed: number };
      assert.equal(status.masterKeyId, readMasterKeyFile(right)!.id);
      const n = await ca.rt.storage.db
        .selectFrom('kmc_keys')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      assert.equal(status.escrowed, Number(n.n));
      assert.ok(!ok.stdout.includes(readFileSync(right, 'utf8').trim()), 'status never shows the key');
    });
  });
}

describe('master key on an empty store', () => {
  test('`certdesk kmc init` creates it once (0600, directory 0700), prints its id, never the key', () => {
    const dir = path.join(s.dir, 'init-data');
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dir, CA_KEY_PASSPHRASE: 'kmc-init' };
    delete env.DATABASE_URL;
    delete env.KMC_MASTER_KEY_FILE;
    const st = cli(['kmc', 'status'], env);
    assert.notEqual(st.status, 0);
    assert.match(st.stderr, /no KMC master key yet .*run certdesk kmc init/);
    const first = cli(['kmc', 'init'], env);
    assert.equal(first.status, 0, first.stderr);
    const file = path.join(dir, 'kmc', 'master.key');
    const key = readFileSync(file, 'utf8').trim();
    assert.match(key, /^[0-9a-f]{32}$/);
    assert.equal((statSync(file).mode & 0o777).toString(8), '600');
    assert.equal((statSync(path.dirname(file)).mode & 0o777).toString(8), '700');
    const id = /KMC master key (mk-[0-9a-f]{16}) created/.exec(first.stdout)?.[1];
    assert.ok(id, first.stdout);
    assert.ok(!first.stdout.includes(key) && !first.stderr.includes(key));
    const second = cli(['kmc', 'init'], env);
    assert.equal(second.status, 0);
    assert.match(second.stdout, new RegExp(`${id} exists already`));
    assert.equal(readFileSync(file, 'utf8').trim(), key, 'init never replaces a key');
  });
});

describe('the kmc role', () => {
  test('only kmc holds kmc.recover (not admin); kmc and admin never on one account', () => {
    assert.ok(ROLES.includes('kmc'));
    for (const role of ROLES) assert.equal(permissionsOf([role]).has('kmc.recover'), role === 'kmc', role);
    assert.equal(permissionsOf(['operator', 'reviewer', 'auditor', 'admin']).has('kmc.recover'), false);
    assert.throws(() => checkRoles(['admin', 'kmc']), /cannot hold both the admin and the kmc role/);
    assert.deepEqual(checkRoles(['kmc', 'auditor']), ['kmc', 'auditor']);
    assert.throws(() => checkRoles(['keymaster']), /one or more of operator, reviewer, auditor, admin, kmc/);
  });
});

describe('key recovery', () => {
  let served: ServedCa;
  let ca: TestCa;
  const holder = { subject: '/CN=企业测试/O=企业测试/C=CN', uniqueId: '001120438184130111' };
  let oldSigning: Sm2PrivateKey;
  let newSigning: Sm2PrivateKey;
  let encryptionKey: Sm2PrivateKey;
  let enc: { serial: string; pem: string };
  let oldCert: { serial: string; pem: string };
  let newCert: { serial: string; pem: string };
  let newCertFile: string;

  const recoverCli = (who: TestStaff, args: string[], code = who.nextCode()) =>
    cli(['kmc', 'recover', '--staff', who.username, ...args], {
      ...ca.env,
      CERTDESK_STAFF_PASSWORD: who.password,
      CERTDESK_STAFF_TOTP: code,
    });

  before(async () => {
    served = await serveTestCa({ keyType: 'sm2' });
    ca = served.ca;
    // The dual pair of an order: signing key on the holder's key, encryption key from the KMC.
    oldSigning = Sm2PrivateKey.generate();
    oldCert = await certify(ca, oldSigning, holder.subject, holder.uniqueId);
    const issued = await ca.rt.kmc.issueEncryptionKey({
      requestId: 'order-dual',
      signingSpki: oldSigning.publicKey.toSpki(),
      actor: 'test',
    });
    encryptionKey = openSm2EnvelopedKey(issued.envelope, oldSigning).encryptionKey;
    enc = await certify(ca, encryptionKey, holder.subject, holder.uniqueId);
    // The holder's key was lost; a new signing certificate was issued on a new key.
    newSigning = Sm2PrivateKey.generate();
    newCert = await certify(ca, newSigning, holder.subject, holder.uniqueId);
    newCertFile = s.write('new-signing.pem', newCert.pem);
    const encRow = await ca.rt.storage.db
      .selectFrom('certificates')
      .select('spki_sha256')
      .where('serial', '=', enc.serial)
      .executeTakeFirstOrThrow();
    assert.equal(encRow.spki_sha256, sha256(issued.publicSpki), "the encryption certificate's spki_sha256 is the escrowed key's");
  });
  after(async () => {
    await served?.close();
  });

  test('operator and admin are refused (and the attempt audited); nothing is written', async () => {
    for (const role of ['operator', 'admin'] as const) {
      const who = await createStaff(ca.rt, [role]);
      const out = path.join(s.dir, `refused-${role}.env`);
      const r = recoverCli(who, ['--serial', enc.serial, '--to', newCertFile, '--reason', 'key lost', '--out', out]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /key recovery needs the kmc role; your roles \((operator|admin)\) do not allow it/);
      assert.equal(existsSync(out), false);
    }
    const refused = await auditOf(ca, 'kmc.recovery_refused');
    assert.equal(refused.length, 2);
    assert.deepEqual(
      refused.map((e) => e.details.roles),
      [['operator'], ['admin']],
    );
    assert.equal((await auditOf(ca, 'kmc.key_recovered')).length, 0);
  });

  test('kmc: the envelope to the new signing key opens (ours and OpenSSL) to the same private key; audited with actor and reason', async () => {
    const officer = await createStaff(ca.rt, ['kmc']);
    const out = path.join(s.dir, 'recovered.env');
    const r = recoverCli(officer, [
      '--serial',
      enc.serial,
      '--to',
      newCertFile,
      '--reason',
      '用户 UKey 丢失，恢复加密密钥',
      '--out',
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`encryption certificate ${enc.serial}\\) to signing certificate ${newCert.serial}`));
    assert.equal((statSync(out).mode & 0o777).toString(8), '600');
    const envelope = readFileSync(out);
    assert.equal(openSm2EnvelopedKey(envelope, newSigning).encryptionKey.d, encryptionKey.d);
    assert.throws(() => openSm2EnvelopedKey(envelope, oldSigning), /not for this signing key/);

    // OpenSSL: pkeyutl -decrypt of the SM2Cipher with the new signing key, then SM4-ECB.
    const [, cipher, , encPriv] = der.children(der.parse(envelope));
    s.write('rec-cipher.der', der.raw(cipher!));
    const keyFile = s.write('rec-signing.pem', newSigning.toPem());
    s.ok(['pkeyutl', '-decrypt', '-inkey', keyFile, '-in', `${s.dir}/rec-cipher.der`, '-out', `${s.dir}/rec-sym.bin`]);
    s.write('rec-encpriv.bin', der.decodeBitString(encPriv!));
    s.ok([
      'enc',
      '-d',
      '-sm4-ecb',
      '-K',
      s.read('rec-sym.bin').toString('hex'),
      '-nopad',
      '-in',
      `${s.dir}/rec-encpriv.bin`,
      '-out',
      `${s.dir}/rec-d.bin`,
    ]);
    assert.equal(s.read('rec-d.bin').toString('hex'), encryptionKey.d.toString(16).padStart(64, '0'));

    const recovered = await auditOf(ca, 'kmc.key_recovered');
    assert.equal(recovered.length, 1);
    const e = recovered[0]!;
    assert.equal(e.actor, `staff:${officer.username}`);
    assert.match(String(e.details.reason), /用户 UKey 丢失，恢复加密密钥/);
    assert.match(
      String(e.details.reason),
      new RegExp(`encryption certificate ${enc.serial} → signing certificate ${newCert.serial}`),
    );
    assert.equal(e.details.encSpkiSha256, sha256(encryptionKey.publicKey.toSpki()));
    assert.equal(e.details.signingSpkiSha256, sha256(newSigning.publicKey.toSpki()));
    const keyId = (
      await ca.rt.storage.db
        .selectFrom('kmc_keys')
        .select('key_id')
        .where('request_id', '=', 'order-dual')
        .executeTakeFirstOrThrow()
    ).key_id;
    assert.equal(e.target, keyId);
    assert.equal((await verifyAuditChain(ca.rt.storage.db)).ok, true);
    // The file is never overwritten.
    const again = recoverCli(await createStaff(ca.rt, ['kmc']), [
      '--serial',
      enc.serial,
      '--to',
      newCertFile,
      '--reason',
      'again',
      '--out',
      out,
    ]);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /--out .* exists already/);
  });

  test('refused: a target not issued here, revoked, of another holder, not SM2; a serial unknown or not escrowed; a wrong TOTP code', async () => {
    // The checks, through the API (one login); the CLI runs the same StaffKeyRecovery.
    const officer = new StaffClient(served.base, served.origin);
    assert.equal((await officer.login(await createStaff(ca.rt, ['kmc']))).status, 200);
    const refuse = async (serial: string, pem: string, status: number, why: RegExp): Promise<void> => {
      const r = await officer.call('POST', '/api/staff/kmc/recover', { serial, signingCertificate: pem, reason: 'test' });
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.match(String(r.body.message), why);
    };
    await refuse(enc.serial, (await createForeignSm2Cert()).pem, 400, /the signing certificate was not issued by this CA/);
    const other = await certify(ca, Sm2PrivateKey.generate(), '/CN=别的公司/O=别的公司/C=CN', '91310000MA1FL00000');
    await refuse(enc.serial, other.pem, 400, /belongs to another holder/);
    const revoked = await certify(ca, Sm2PrivateKey.generate(), holder.subject, holder.uniqueId);
    await ca.rt.ca.revoke(revoked.serial, 'keyCompromise', 'test');
    await refuse(enc.serial, revoked.pem, 400, /is revoked: recover to the holder’s current one/);
    await refuse(enc.serial, enc.pem, 400, /not the encryption certificate itself/);
    const { csr } = opensslCsr(s.dir, holder.subject);
    const ecdsa = await ca.rt.ca.issue({ csr, profileId: 'org-identity', uniqueId: holder.uniqueId, actor: 'test' });
    await refuse(enc.serial, toPem('CERTIFICATE', ecdsa.der), 400, /does not have an SM2 key/);
    await refuse(enc.serial, 'not a certificate', 400, /not an X\.509 certificate/);
    await refuse('abcdef0123', newCert.pem, 404, /no certificate with serial abcdef0123 was issued here/);
    await refuse(oldCert.serial, newCert.pem, 404, /no escrowed key has the public key .*not made by this KMC/);
    await refuse('not-hex!', newCert.pem, 400, /serial must be the certificate serial in hex/);
    // longer than any serial (RFC 5280: 20 octets), not a lookup that finds nothing
    await refuse('ab'.repeat(21), newCert.pem, 400, /serial must be the certificate serial in hex/);
    // as OpenSSL prints it (0x…, or colons, upper case): the same certificate, found
    const printed = `0x${enc.serial.toUpperCase().replace(/(..)(?=.)/g, '$1:')}`;
    await refuse(printed, revoked.pem, 400, /is revoked: recover to the holder’s current one/);

    const cliOfficer = await createStaff(ca.rt, ['kmc']);
    const out = path.join(s.dir, 'wrong-code.env');
    const wrongCode = recoverCli(
      cliOfficer,
      ['--serial', enc.serial, '--to', newCertFile, '--reason', 'x', '--out', out],
      '000000',
    );
    assert.notEqual(wrongCode.status, 0);
    assert.match(wrongCode.stderr, /the code is wrong or was used already/);
    assert.equal(existsSync(out), false);
    const noReason = cli(
      ['kmc', 'recover', '--staff', cliOfficer.username, '--serial', enc.serial, '--to', newCertFile, '--out', out],
      ca.env,
    );
    assert.notEqual(noReason.status, 0);
    assert.match(noReason.stderr, /required option '--reason <text>' not specified/);
    assert.equal((await auditOf(ca, 'kmc.key_recovered')).length, 1, 'only the one recovery above');
  });

  test('POST /api/staff/kmc/recover: kmc only; the envelope opens with the new signing key', async () => {
    const login = async (roles: Parameters<typeof createStaff>[1]): Promise<StaffClient> => {
      const c = new StaffClient(served.base, served.origin);
      const r = await c.login(await createStaff(ca.rt, roles));
      assert.equal(r.status, 200);
      return c;
    };
    const body = { serial: enc.serial, signingCertificate: newCert.pem, reason: 'API recovery test' };
    const admin = await login(['admin']);
    const refused = await admin.call('POST', '/api/staff/kmc/recover', body);
    assert.equal(refused.status, 403);
    assert.match(String(refused.body.message), /needs the kmc role/);
    const officer = await login(['kmc']);
    const missing = await officer.call('POST', '/api/staff/kmc/recover', { ...body, reason: '' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.field, 'reason');
    const r = await officer.call<{ keyId: string; envelope: string; signingSerial: string }>(
      'POST',
      '/api/staff/kmc/recover',
      body,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.signingSerial, newCert.serial);
    assert.equal(openSm2EnvelopedKey(Buffer.from(r.body.envelope, 'base64'), newSigning).encryptionKey.d, encryptionKey.d);
    const der64 = await officer.call('POST', '/api/staff/kmc/recover', {
      ...body,
      signingCertificate: Buffer.from(newCert.pem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64'),
    });
    assert.equal(der64.status, 200);
  });
});

/** A self-signed SM2 certificate made by OpenSSL: not one this CA issued. */
async function createForeignSm2Cert(): Promise<{ pem: string }> {
  const key = s.write('foreign-key.pem', Sm2PrivateKey.generate().toPem());
  const out = path.join(s.dir, 'foreign-cert.pem');
  s.ok([
    'req',
    '-new',
    '-x509',
    '-key',
    key,
    '-sm3',
    '-sigopt',
    DISTID,
    '-subj',
    '/CN=企业测试/O=企业测试/C=CN',
    '-utf8',
    '-days',
    '30',
    '-out',
    out,
  ]);
  return { pem: readFileSync(out, 'utf8') };
}

describe('master key wrapped by a PKCS#11 token (SoftHSM2)', { skip: requireTool('softhsm2') }, () => {
  let hsm: SoftHsm;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  before(() => {
    hsm = createSoftHsm({ tokens: ['kmc-a', 'kmc-b'] });
    dir = path.join(s.dir, 'p11-data');
    env = {
      ...hsm.env,
      DATA_DIR: dir,
      CA_KEY_PASSPHRASE: 'kmc-p11',
      KMC_PKCS11_MODULE: hsm.module,
      KMC_PKCS11_TOKEN: 'kmc-a',
      PKCS11_PIN: hsm.pin,
    };
    delete env.DATABASE_URL;
    delete env.KMC_MASTER_KEY_FILE;
  });
  after(async () => {
    await hsm?.cleanup();
  });

  test('kmc init wraps the SM4 key with a non-extractable AES key on the token; the file alone is not the key; another token is refused', async () => {
    const init = cli(['kmc', 'init'], env);
    assert.equal(init.status, 0, init.stderr);
    assert.match(init.stdout, /created in .*master\.key, wrapped by AES key certdesk-kmc-master-wrap on token kmc-a/);
    const file = path.join(dir, 'kmc', 'master.key');
    assert.match(readFileSync(file, 'utf8'), /^pkcs11-aes-cbc-pad:v1:certdesk-kmc-master-wrap:[0-9a-f]{32}:[0-9a-f]{64}\n$/);
    const objects = hsm.pkcs11Tool([
      '--list-objects',
      '--login',
      '--pin',
      hsm.pin,
      '--token-label',
      'kmc-a',
      '--type',
      'secrkey',
    ]);
    assert.match(objects, /certdesk-kmc-master-wrap/);
    assert.match(objects, /never extractable/);
    const st = cli(['kmc', 'status', '--json'], env);
    assert.equal(st.status, 0, st.stderr);
    assert.equal((JSON.parse(st.stdout) as { storage: string }).storage, 'pkcs11:kmc-a/certdesk-kmc-master-wrap');

    // The KMC works with it: a key escrowed under the token-held master key, its envelope opens.
    const config = loadConfig(env);
    const storage = await openDatabase({ dataDir: dir });
    try {
      const kmc = await KeyManagementCentre.open(storage, { ...kmcOptionsFrom(config, () => hsm.pin) });
      const signing = Sm2PrivateKey.generate();
      const r = await kmc.issueEncryptionKey({ requestId: 'order-p11', signingSpki: signing.publicKey.toSpki(), actor: 'test' });
      assert.ok(openSm2EnvelopedKey(r.envelope, signing).encryptionKey.publicKey.equals(Sm2PublicKey.fromSpki(r.publicSpki)));
      kmc.close();
    } finally {
      await storage.close();
    }

    const otherToken = cli(['kmc', 'status'], { ...env, KMC_PKCS11_TOKEN: 'kmc-b' });
    assert.notEqual(otherToken.status, 0);
    assert.match(otherToken.stderr, /no AES key certdesk-kmc-master-wrap on token kmc-b/);
    const noPin = { ...env };
    delete noPin.PKCS11_PIN;
    assert.match(cli(['kmc', 'status'], noPin).stderr, /set its user PIN in the environment variable PKCS11_PIN/);
    const plain = s.write('plain-for-p11.key', '00112233445566778899aabbccddeeff\n');
    chmodSync(plain, 0o600);
    assert.match(cli(['kmc', 'status'], { ...env, KMC_MASTER_KEY_FILE: plain }).stderr, /is not a token-wrapped KMC master key/);
  });
});
