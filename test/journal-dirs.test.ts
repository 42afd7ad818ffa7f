// Where renewal journals live by default: next to a soft token file, per user (XDG state) for a
// PKCS#11 key; a restarted assistant finds both, and the directory it was told with --journal-dir.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { JournalStore, type RenewalJournal } from '../src/agent/install/journal.js';
import { defaultJournalDirs, softTokenJournalDir, userJournalRoot } from '../src/agent/install/journal-dirs.js';

const journal = (orderId: string, tokenId: string): RenewalJournal => {
  const now = new Date().toISOString();
  return {
    v: 1,
    orderId,
    origin: 'http://localhost:8080',
    tokenId,
    tokenLabel: 'k',
    keepOld: false,
    old: { keyId: '01', certId: '01', label: 'identity', serial: '01', keyType: 'ec-p256', certificate: '' },
    step: 'started',
    history: [{ step: 'started', at: now }],
    createdAt: now,
    updatedAt: now,
  };
};

describe('renewal journal directories', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-journal-dirs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('soft token: next to its file; PKCS#11: under $XDG_STATE_HOME/certdesk-agent/<token id>', () => {
    assert.equal(softTokenJournalDir('/x/data/demo/soft-token.json'), '/x/data/demo/soft-token.journal');
    assert.equal(userJournalRoot({ XDG_STATE_HOME: '/s' }), '/s/certdesk-agent');
    assert.equal(userJournalRoot({ HOME: '/h', XDG_STATE_HOME: 'relative' }).endsWith('/.local/state/certdesk-agent'), true);

    const env = { XDG_STATE_HOME: path.join(dir, 'state') };
    const soft = path.join(dir, 'token.json');
    const store = new JournalStore(defaultJournalDirs({ softTokens: [soft], env }));
    store.create(journal('R1', 'soft-aa'), { kind: 'soft', source: soft });
    store.create(journal('R2', 'p11-0123abcd-SN1'), { kind: 'pkcs11', source: '/usr/lib/softhsm/libsofthsm2.so' });
    assert.ok(existsSync(path.join(dir, 'token.journal/renewals/R1.json')));
    assert.ok(existsSync(path.join(dir, 'state/certdesk-agent/p11-0123abcd-SN1/renewals/R2.json')));

    // a restart (new store) finds both, and keeps writing each where it is
    const again = new JournalStore(defaultJournalDirs({ softTokens: [soft], env }));
    assert.deepEqual(
      again.list().map((j) => j.orderId),
      ['R1', 'R2'],
    );
    const j = again.get('R2')!;
    j.step = 'key-generated';
    again.save(j);
    assert.equal(new JournalStore(defaultJournalDirs({ softTokens: [], env })).get('R2')?.step, 'key-generated');
    // a legacy directory (the old default) is still searched
    const legacy = path.join(dir, 'legacy');
    new JournalStore(legacy).create(journal('R3', 'soft-bb'), { kind: 'soft', source: soft });
    assert.equal(new JournalStore(defaultJournalDirs({ softTokens: [soft], env, legacy: [legacy] })).get('R3')?.orderId, 'R3');
  });
});
