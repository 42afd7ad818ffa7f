// One renewal window, one time zone: `certdesk token list` (the key assistant's view) and the portal
// (the RA's quote, in the web app's fmtDate/fmtTime: shared/china-date.ts) name the same opening day, in Asia/Shanghai, for a
// certificate whose notAfter is just past a UTC day boundary, whatever the viewer's time zone.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeCertificate } from '../src/agent/cert-info.js';
import { parseCertificate } from '../src/pki/certificate.js';
import { chinaDate, chinaDateText, chinaTime, chinaTimeText } from '../src/shared/china-date.js';
import { REPO, softTokenWithCertificate } from './helpers/agent.js';
import { createTestCa, type TestCa } from './helpers/ca.js';

// 2028-01-01 00:30 in Shanghai; 92 days earlier the window opens at 2027-10-01 00:30 Shanghai time.
const NOT_AFTER = new Date('2027-12-31T16:30:00Z');
const PIN = '246810';

describe('renewal window dates', () => {
  let ca: TestCa;
  let dir: string;
  let file: string;
  let der: Buffer;
  const tz = process.env.TZ;

  before(async () => {
    ca = await createTestCa();
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-dates-'));
    file = path.join(dir, 'token.json');
    der = (await softTokenWithCertificate(ca, file, { pin: PIN, notAfter: NOT_AFTER })).certificate;
  });
  after(async () => {
    process.env.TZ = tz;
    await ca?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads instants on the Shanghai clock', () => {
    assert.equal(chinaDate('2027-12-31T16:30:00Z'), '2028-01-01');
    assert.equal(chinaTime('2027-12-31T16:30:00Z'), '2028-01-01 00:30:00');
    assert.equal(chinaDate('2027-12-31T15:59:59Z'), '2027-12-31');
    assert.equal(chinaDate(new Date('2028-02-28T16:00:00Z')), '2028-02-29');
  });

  it('token list and the portal name the same opening day, in Shanghai, in any browser time zone', async () => {
    const r = spawnSync(process.execPath, [path.join(REPO, 'bin/certdesk.js'), 'token', 'list', '--soft-token', file], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'America/Los_Angeles' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /有效期 Valid\s+\d{4}-\d\d-\d\d — 2028-01-01\n/);
    assert.match(r.stdout, /not yet 暂不可更新 \(opens 2027-10-01\)/);

    const serial = parseCertificate(der).serialHex;
    const quote = await ca.rt.renewals.quote(serial); // what GET /api/portal/renewal reports
    assert.equal(quote.eligibility.eligible, false);
    const opensAt = quote.eligibility.window.opensAt.toISOString();
    // the assistant computes the same instant as the RA
    const view = describeCertificate({ id: 'ab', label: 'identity', der });
    assert.equal(view.renewal.opensAt, opensAt);
    // …and hands its pages (UKey 管理, the approval window) the same Shanghai days
    assert.deepEqual(view.dates, {
      notBefore: view.dates.notBefore,
      notAfter: '2028-01-01',
      renewalOpens: '2027-10-01',
      renewalCloses: '2028-04-02',
    });
    for (const zone of ['UTC', 'America/Los_Angeles', 'Asia/Shanghai']) {
      process.env.TZ = zone;
      assert.equal(chinaDateText('zh', opensAt), '2027年10月01日', zone);
      assert.equal(chinaDateText('en', opensAt), '1 Oct 2027', zone);
      assert.equal(chinaDateText('zh', NOT_AFTER.toISOString()), '2028年01月01日', zone);
      assert.equal(chinaTimeText('zh', NOT_AFTER.toISOString()), '2028-01-01 00:30:00', zone);
      assert.equal(chinaTimeText('en', NOT_AFTER.toISOString()), '1 Jan 2028 00:30:00', zone);
    }
  });
});
