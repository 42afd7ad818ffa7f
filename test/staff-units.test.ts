// Pure pieces of the staff console: TOTP against RFC 6238's test vectors, base32, capital
// numerals (大写), the bank statement CSV reader, CSV export escaping, roles.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fenToChineseCapital } from '../src/ra/money.js';
import { csvField } from '../src/staff/audit.js';
import { can, permissionsOf } from '../src/staff/roles.js';
import { parseCsv, parseStatement, referencesIn } from '../src/staff/statement.js';
import { base32Decode, base32Encode, hotp, matchTotp, otpauthUri, totpAt } from '../src/staff/totp.js';

describe('TOTP (RFC 6238)', () => {
  // Appendix B: T0 = 0, X = 30, 8 digits; the seeds are ASCII of "1234567890" repeated to the hash's length.
  const seeds = {
    sha1: Buffer.from('12345678901234567890'),
    sha256: Buffer.from('12345678901234567890123456789012'),
    sha512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234'),
  };
  const vectors: [number, string, string, string][] = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];
  for (const [t, s1, s256, s512] of vectors) {
    test(`T = ${t}`, () => {
      const step = Math.floor(t / 30);
      assert.equal(hotp(seeds.sha1, step, 8, 'sha1'), s1);
      assert.equal(hotp(seeds.sha256, step, 8, 'sha256'), s256);
      assert.equal(hotp(seeds.sha512, step, 8, 'sha512'), s512);
    });
  }

  test('6-digit codes, ±1 step of skew, nothing beyond', () => {
    const secret = base32Encode(seeds.sha1);
    assert.equal(secret, 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    const now = 1111111111_000;
    assert.equal(totpAt(secret, now), '050471');
    assert.equal(matchTotp(secret, '050471', now), Math.floor(1111111111 / 30));
    assert.equal(matchTotp(secret, totpAt(secret, now - 30_000), now), Math.floor(1111111111 / 30) - 1);
    assert.equal(matchTotp(secret, totpAt(secret, now + 30_000), now), Math.floor(1111111111 / 30) + 1);
    assert.equal(matchTotp(secret, totpAt(secret, now - 60_000), now), undefined);
    assert.equal(matchTotp(secret, 'abcdef', now), undefined);
    assert.equal(matchTotp(secret, '05 0471', now), Math.floor(1111111111 / 30));
  });

  test('base32 round trip and the otpauth URI', () => {
    for (const n of [0, 1, 5, 19, 20, 33]) {
      const b = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37) & 255));
      assert.ok(base32Decode(base32Encode(b)).equals(b));
    }
    assert.equal(
      otpauthUri({ issuer: 'certdesk', account: 'zhang.san', secret: 'ABC' }),
      'otpauth://totp/certdesk%3Azhang.san?secret=ABC&issuer=certdesk&algorithm=SHA1&digits=6&period=30',
    );
  });
});

describe('amounts in capital numerals (大写)', () => {
  const cases: [number, string][] = [
    [30000, '叁佰元整'],
    [123456, '壹仟贰佰叁拾肆元伍角陆分'],
    [55000, '伍佰伍拾元整'],
    [100005, '壹仟元零伍分'],
    [100050, '壹仟元伍角整'],
    [1005000, '壹万零伍拾元整'],
    [10000500, '壹拾万零伍元整'],
    [1000010000, '壹仟万零壹佰元整'],
    [10000000000, '壹亿元整'],
    [10000000100, '壹亿零壹元整'],
    [1000, '壹拾元整'],
    [50, '伍角整'],
    [5, '伍分'],
    [0, '零元整'],
  ];
  for (const [fen, words] of cases) test(`${fen} fen → ${words}`, () => assert.equal(fenToChineseCapital(fen), words));
  test('refuses fractions of a fen', () => assert.throws(() => fenToChineseCapital(1.5), RangeError));
});

describe('bank statement CSV', () => {
  test('RFC 4180 quoting, CRLF, blank lines', () => {
    assert.deepEqual(parseCsv('a,"b,c","d ""e"""\r\n\r\n1,2,3\n'), [
      ['a', 'b,c', 'd "e"'],
      ['1', '2', '3'],
    ]);
  });

  test('columns by English or Chinese header, BOM, amounts and dates in common spellings', () => {
    const { entries, errors } = parseStatement(
      '\uFEFF交易日期,金额,附言,付款人,流水号\n2026-11-25,"¥1,234.50",参考号 CD7Q4KXHAB 证书,甲公司,T1\n20261125 09:30,300,x,乙,T2\nbad,1.00,y,丙,T3\n2026-11-25,-5.00,退款,丁,\n',
    );
    assert.equal(entries.length, 3);
    assert.deepEqual(entries[0], {
      line: 2,
      date: '2026-11-25',
      paidAt: Date.parse('2026-11-24T16:00:00Z'),
      amountFen: 123450,
      memo: '参考号 CD7Q4KXHAB 证书',
      payer: '甲公司',
      transactionId: 'T1',
    });
    assert.equal(entries[1]!.paidAt, Date.parse('2026-11-25T01:30:00Z'));
    assert.equal(entries[2]!.amountFen, -500);
    assert.match(entries[2]!.transactionId, /^h:[0-9a-f]{32}$/);
    assert.deepEqual(
      errors.map((e) => [e.line, e.outcome]),
      [[4, 'invalid']],
    );
    assert.throws(() => parseStatement('when,how much\n'), /date, amount and reference/);
  });

  test('reference codes anywhere in the memo, any case, without look-alike letters', () => {
    assert.deepEqual(referencesIn('汇款cd7q4kxhab，谢谢'), ['CD7Q4KXHAB']);
    assert.deepEqual(referencesIn('CD7Q4KXHAB CD7Q4KXHAB'), ['CD7Q4KXHAB']);
    assert.deepEqual(referencesIn('CD0000000O'), []);
  });
});

test('CSV export fields are quoted and formula-safe', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('=cmd()'), "'=cmd()");
  assert.equal(csvField(null), '');
});

test('roles: least privilege', () => {
  assert.equal(can(['auditor'], 'payments.confirm'), false);
  assert.equal(can(['auditor'], 'audit.read'), true);
  assert.equal(can(['operator'], 'audit.read'), false);
  assert.equal(can(['operator'], 'staff.manage'), false);
  assert.equal(can(['admin'], 'payments.confirm'), false);
  assert.equal(can(['reviewer'], 'reviews.decide'), true);
  assert.ok(permissionsOf(['operator', 'auditor']).has('audit.read'));
});
