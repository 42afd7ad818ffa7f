// Configured OIDs are refused at start when Go's crypto/x509 or GnuTLS could not parse them in a
// certificate (the mistake behind certificates that Go and GnuTLS rejected).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { DEFAULT_PROFILES, loadProfiles, ProfileError } from '../src/ca/profiles.js';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { LEGACY_CERTDESK_ARC, LEGACY_UNIQUE_ID_OID } from '../src/pki/holder-identity.js';
import { oidProblem } from '../src/pki/oids.js';
import { opensslCsr } from './helpers/ca.js';
import { cliAsync } from './helpers/cli.js';

describe('configured OIDs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-oids-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const profilesWith = (change: Record<string, unknown>): string => {
    const f = path.join(dir, `profiles-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(f, JSON.stringify([{ ...DEFAULT_PROFILES[0], ...change }]));
    return f;
  };

  test('oidProblem: arcs ≥ 2^31, first arc > 2, second arc ≥ 40 under 0/1 are refused; ordinary OIDs pass', () => {
    for (const ok of ['1.2.156.10260.4.1.4', '2.5.29.32.0', '1.3.6.1.4.1.2147483647', '2.999.1', '0.39'])
      assert.equal(oidProblem(ok), null, ok);
    assert.match(oidProblem(LEGACY_UNIQUE_ID_OID)!, /207427386145434213838012353926395166810 ≥ 2\^31/);
    assert.match(oidProblem('1.3.6.1.4.1.2147483648')!, /≥ 2\^31/);
    assert.match(oidProblem('3.1')!, /first arc 3/);
    assert.match(oidProblem('1.40.1')!, /second arc 40 under 1/);
    assert.match(oidProblem('2.2147483600.1')!, /first arcs/);
    assert.match(oidProblem('1.2.03')!, /not a dotted OID/);
  });

  test('UNIQUE_ID_OID, profile policies and EKU OIDs Go cannot parse are refused with the reason', () => {
    assert.throws(
      () => loadConfig({ UNIQUE_ID_OID: LEGACY_UNIQUE_ID_OID }),
      (e: unknown) => e instanceof ConfigError && /^UNIQUE_ID_OID: .*≥ 2\^31/.test(e.message),
    );
    assert.equal(loadConfig({}).uniqueIdOid, undefined, 'no extension OID by default');
    assert.equal(loadConfig({ UNIQUE_ID_OID: '1.3.6.1.4.1.99999.1' }).uniqueIdOid, '1.3.6.1.4.1.99999.1');
    assert.throws(
      () => loadProfiles(profilesWith({ policies: [`${LEGACY_CERTDESK_ARC}.2.1`] })),
      (e: unknown) => e instanceof ProfileError && /at 0\.policies\.0: .*≥ 2\^31/.test(e.message),
    );
    assert.throws(
      () => loadProfiles(profilesWith({ extendedKeyUsage: ['clientAuth', '1.45.3'] })),
      (e: unknown) => e instanceof ProfileError && /at 0\.extendedKeyUsage\.1: .*second arc 45/.test(e.message),
    );
    const ok = loadProfiles(profilesWith({ policies: ['1.3.6.1.4.1.99999.2.1'] }));
    assert.deepEqual(ok.get('org-identity')?.policies, ['1.3.6.1.4.1.99999.2.1']);
    const none = { ...DEFAULT_PROFILES[0] } as Record<string, unknown>;
    delete none.policies;
    const f = path.join(dir, 'no-policies.json');
    writeFileSync(f, JSON.stringify([none]));
    assert.deepEqual(loadProfiles(f).get('org-identity')?.policies, [], 'policies are optional: none unless configured');
  });

  test('certdesk serve and ca issue exit non-zero and say why', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: path.join(dir, 'data'), PORT: '0', CA_KEY_PASSPHRASE: 'oid-test' };
    delete env.DATABASE_URL;
    const [serve, issue, badProfile] = await Promise.all([
      cliAsync(['serve'], { ...env, UNIQUE_ID_OID: LEGACY_UNIQUE_ID_OID }),
      cliAsync(['ca', 'issue', '--csr', opensslCsr(dir, '/CN=企业测试/O=企业测试/C=CN').csrFile, '--profile', 'org-identity'], {
        ...env,
        UNIQUE_ID_OID: '1.3.6.1.4.1.4294967296',
      }),
      cliAsync(['serve'], {
        ...env,
        PROFILES_FILE: profilesWith({ policies: ['2.25.329800735698586629295641978511506172918'] }),
      }),
    ]);
    assert.notEqual(serve.status, 0);
    assert.match(serve.stderr, /UNIQUE_ID_OID: "2\.25\.207427386145434213838012353926395166810\.1\.1" has arc .* ≥ 2\^31/);
    assert.notEqual(issue.status, 0);
    assert.match(issue.stderr, /UNIQUE_ID_OID: "1\.3\.6\.1\.4\.1\.4294967296" has arc 4294967296 ≥ 2\^31/);
    assert.notEqual(badProfile.status, 0);
    assert.match(badProfile.stderr, /PROFILES_FILE .*policies\.0: .*≥ 2\^31/);
  });
});
