// Seals at a service point, through the built CLI: `ca init --key-type sm2` makes the seal maker;
// `seal issue` binds a seal to a holder's signing certificate (bad pictures and names refused);
// `seal export` gives the DER whose signature OpenSSL verifies with the maker's key; `seal verify`
// says OK or the first failed check; `seal revoke` and revoking the certificate end the seal.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as der from '../src/pki/der.js';
import { toPem } from '../src/pki/pem.js';
import { parseSeal } from '../src/pki/ses-seal.js';
import { CERTDESK, cli, ROOT } from './helpers/cli.js';
import { opensslCsr } from './helpers/ca.js';
import { scratch, SM2_DISTID } from './helpers/sm2.js';

const s = scratch('seal-cli');
const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-seal-cli-'));
after(() => {
  s.cleanup();
  rmSync(dir, { recursive: true, force: true });
});
const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dir, CA_KEY_PASSPHRASE: 'seal-cli-passphrase' };
delete env.DATABASE_URL;

const ok = (args: string[]) => {
  const r = cli(args, env);
  assert.equal(r.status, 0, `certdesk ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const exportSeal = (esId: string): Buffer => {
  const r = spawnSync(process.execPath, [CERTDESK, 'seal', 'export', esId], { env, cwd: ROOT });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
};

describe('certdesk seal', () => {
  let leaf = '';
  let issuing = '';
  let esId = '';

  test('ca init makes the seal maker; seal issue binds a seal to the holder certificate', () => {
    assert.match(ok(['ca', 'init', '--key-type', 'sm2']), /created seal maker seal-/);
    const { csr } = opensslCsr(s.dir, '/CN=印章测试单位/O=印章测试单位/C=CN', ['-newkey', 'sm2', '-sm3', '-sigopt', SM2_DISTID]);
    const csrFile = s.write('holder.csr', csr);
    leaf = s.write('holder.pem', ok(['ca', 'issue', '--csr', csrFile, '--profile', 'org-identity']));
    issuing = s.write('issuing.pem', ok(['ca', 'chain']));
    const out = ok(['seal', 'issue', '--holder-cert', leaf, '--type', '单位公章', '--name', '印章测试单位']);
    esId = /^seal (\S+) made: 印章测试单位 \(单位公章\), bound to certificate ([0-9a-f]+)/.exec(out)?.[1] ?? '';
    assert.ok(esId, out);
    const list = JSON.parse(ok(['seal', 'list', '--json'])) as { esId: string; status: string; name: string }[];
    assert.deepEqual(
      list.map((x) => [x.esId, x.status, x.name]),
      [[esId, 'valid', '印章测试单位']],
    );
  });

  test('bad input is refused with a clear error, and nothing is made', () => {
    const wrongName = cli(['seal', 'issue', '--holder-cert', leaf, '--type', '单位公章', '--name', '别的单位'], env);
    assert.equal(wrongName.status, 1);
    assert.match(wrongName.stderr, /单位公章's name must be the organisation's name on the certificate \(印章测试单位\)/);
    const notPng = cli(['seal', 'issue', '--holder-cert', leaf, '--type', '合同专用章', '--name', 'x', '--picture', leaf], env);
    assert.equal(notPng.status, 1);
    assert.match(notPng.stderr, /--picture: not a PNG image/);
    const badType = cli(['seal', 'issue', '--holder-cert', leaf, '--type', '公章X', '--name', 'x'], env);
    assert.equal(badType.status, 2);
    assert.match(badType.stderr, /--type 公章X: no such seal type; known: .*单位公章/);
    assert.equal((JSON.parse(ok(['seal', 'list', '--json'])) as unknown[]).length, 1, 'still one seal');
  });

  test('the exported seal verifies: OpenSSL over SES_SealInfo with the maker key, and seal verify says OK', () => {
    const seal = exportSeal(esId);
    const p = parseSeal(seal);
    assert.equal(p.esId, esId);
    assert.equal(p.certList.length, 1);
    assert.equal(
      toPem('CERTIFICATE', p.certList[0]!),
      s.read('holder.pem').toString(),
      'certList is exactly the holder certificate',
    );
    const file = s.write('seal.der', seal);
    const [sealInfo, , , sig] = der.children(der.parse(seal));
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
      `${s.dir}/info.der`,
    ]);
    s.write('seal.sig', der.decodeBitString(sig!));
    const makerPem = s.write('maker.pem', toPem('CERTIFICATE', p.makerCert));
    const pub = s.write('maker.pub', s.ok(['x509', '-in', makerPem, '-pubkey', '-noout']));
    const verified = s.ok([
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
      `${s.dir}/info.der`,
      '-sigfile',
      `${s.dir}/seal.sig`,
    ]);
    assert.match(verified, /Signature Verified Successfully/);
    // the maker certificate chains to the SM2 issuing CA (OpenSSL 3.0 checks SM2 links one at a time)
    assert.match(s.ok(['verify', '-vfyopt', SM2_DISTID, '-partial_chain', '-CAfile', issuing, makerPem]), /: OK/);

    const r = cli(['seal', 'verify', file, '--ca', issuing], env);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /version: +4 \(GB\/T 38540-2020\)/);
    assert.match(r.stdout, new RegExp(`esID: +${esId}`));
    assert.match(r.stdout, /name: +印章测试单位/);
    assert.match(r.stdout, /maker: +.*Seal Maker/);
    assert.match(r.stdout, /holder: +.*印章测试单位/);
    assert.match(r.stdout, /\nOK\n$/);

    const flipped = Buffer.from(seal);
    const at = flipped.indexOf(Buffer.from(esId));
    flipped.writeUInt8(flipped.readUInt8(at + 3) ^ 0x01, at + 3);
    const bad = cli(['seal', 'verify', s.write('flipped.der', flipped)], env);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /FAILED: maker-signature/);
  });

  test('seal revoke, and revoking the certificate, end seals', () => {
    assert.match(ok(['seal', 'revoke', esId]), new RegExp(`seal ${esId} revoked at `));
    const again = cli(['seal', 'revoke', esId], env);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already revoked/);
    const second = /^seal (\S+) made/.exec(
      ok(['seal', 'issue', '--holder-cert', leaf, '--type', '合同专用章', '--name', '印章测试单位合同专用章']),
    )?.[1];
    assert.ok(second);
    const serial = s.ok(['x509', '-in', leaf, '-noout', '-serial']).trim().split('=')[1]!.toLowerCase();
    ok(['ca', 'revoke', '--serial', serial, '--reason', 'keyCompromise']);
    const list = JSON.parse(ok(['seal', 'list', '--json'])) as { esId: string; status: string }[];
    assert.deepEqual(
      list.map((x) => x.status),
      ['revoked', 'revoked'],
      'a seal ends with its certificate',
    );
    const issueOnRevoked = cli(['seal', 'issue', '--holder-cert', leaf, '--type', '合同专用章', '--name', 'x'], env);
    assert.equal(issueOnRevoked.status, 1);
    assert.match(issueOnRevoked.stderr, /is revoked/);
  });
});
