// The revocation statement the assistant signs: it refuses one for another site, another
// certificate, an unknown reason or past its expiry, so the key never signs away a certificate the
// holder did not choose.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  buildRevocationStatement,
  checkRevocationStatement,
  parseRevocationStatement,
  RevocationStatementError,
} from '../src/pki/revocation-statement.js';

const origin = 'https://portal.example';

describe('revocation statement', () => {
  test('built, parsed and checked; names serial and reason', () => {
    const { text, statement } = buildRevocationStatement({ origin, serial: 'abc123', reason: 'keyCompromise' });
    assert.deepEqual(parseRevocationStatement(text), statement);
    assert.equal(checkRevocationStatement(text, { origin, serial: 'abc123' }).reason, 'keyCompromise');
  });

  test('refused: another origin, another certificate, expired, unknown reason, a login challenge', () => {
    const { text } = buildRevocationStatement({ origin, serial: 'abc123', reason: 'superseded', ttlSeconds: 60 });
    assert.throws(() => checkRevocationStatement(text, { origin: 'https://evil.example', serial: 'abc123' }), /refusing to sign/);
    assert.throws(() => checkRevocationStatement(text, { origin, serial: 'def456' }), /not the selected def456/);
    assert.throws(
      () => checkRevocationStatement(text, { origin, serial: 'abc123', now: new Date(Date.now() + 3600_000) }),
      /expired/,
    );
    assert.throws(() => buildRevocationStatement({ origin, serial: 'abc123', reason: 'cACompromise' }), RevocationStatementError);
    const other = JSON.stringify({ ...JSON.parse(text), reason: 'certificateHold' });
    assert.throws(() => parseRevocationStatement(other), /reason must be one of/);
    const login = JSON.stringify({ ...JSON.parse(text), type: 'certdesk-login' });
    assert.throws(() => parseRevocationStatement(login), /type must be/);
  });
});
