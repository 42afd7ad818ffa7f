// The holder portal against a hostile client, on SQLite and PostgreSQL: a login must sign exactly the
// challenge text the server issued (an origin, expiry or any other field rewritten is refused even
// with our nonce and a valid signature), logout needs the CSRF token, order fields refuse invisible
// and control characters naming the field, and the gateway's browser return neither queries the
// gateway for an arbitrary order nor tells unknown and foreign orders apart, and is rate-limited.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BACKENDS } from './helpers/backends.js';
import {
  createHolder,
  ORDER_FORM,
  PortalClient,
  sandboxReturnPath,
  serveTestCa,
  type ServedCa,
  type TestHolder,
} from './helpers/holder.js';

type Order = { id: string; state: string; amountFen: number };
const FORM = ORDER_FORM;

for (const backend of BACKENDS) {
  describe(`portal security (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    const client = (): PortalClient => new PortalClient(served.base, served.origin);
    before(async () => {
      // No notifications: only a gateway query can learn of a payment, so a query is visible.
      served = await serveTestCa({ postgres: backend.postgres, env: { SANDBOX_NOTIFY: 'off' } });
    });
    after(async () => served?.close());

    const loginWith = (holder: TestHolder, challenge: string) =>
      client().call<{ error?: string }>('POST', '/api/portal/login', {
        challenge,
        signature: holder.signLogin(challenge).toString('base64'),
        certificate: holder.certDer.toString('base64'),
      });

    test('a challenge with any field altered, signed by the holder, is challenge_unknown; the issued one logs in', async () => {
      const holder = await createHolder(served.ca, { name: '挑战改写' });
      const issued = (await client().call<{ challenge: string }>('POST', '/api/portal/login/challenge')).body.challenge;
      const c = JSON.parse(issued) as { v: number; type: string; origin: string; nonce: string; iat: number; exp: number };
      assert.deepEqual(Object.keys(c), ['v', 'type', 'origin', 'nonce', 'iat', 'exp'], 'the fields this test alters');
      const flip = (s: string): string => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
      const altered: Record<string, string> = {
        // the key assistant signs for the page's origin: another site's page gets this signed
        origin: JSON.stringify({ ...c, origin: 'https://evil.example' }),
        exp: JSON.stringify({ ...c, exp: c.exp + 60 }),
        iat: JSON.stringify({ ...c, iat: c.iat - 60 }),
        nonce: JSON.stringify({ ...c, nonce: flip(c.nonce) }),
        type: JSON.stringify({ ...c, type: 'certdesk-login-x' }),
        v: JSON.stringify({ ...c, v: 2 }),
        'an added field': JSON.stringify({ ...c, extra: 1 }),
        'field order': JSON.stringify({ nonce: c.nonce, v: c.v, type: c.type, origin: c.origin, iat: c.iat, exp: c.exp }),
        whitespace: JSON.stringify(c, null, 1),
      };
      for (const [what, text] of Object.entries(altered)) {
        assert.notEqual(text, issued);
        const r = await loginWith(holder, text);
        assert.deepEqual([r.status, r.body.error], [401, 'challenge_unknown'], `altered ${what}`);
      }
      // the refusals did not use the challenge up: the bytes as issued still log in, once
      const ok = await loginWith(holder, issued);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual([(await loginWith(holder, issued)).body.error], ['challenge_unknown']);
    });

    test('logout ends the session only with the CSRF token (a foreign page cannot log the holder out)', async () => {
      const holder = await createHolder(served.ca, { name: '退出令牌' });
      const c = client();
      assert.equal((await c.login(holder)).status, 200);
      for (const origin of ['https://evil.example', served.origin]) {
        const forged = new PortalClient(served.base, origin);
        forged.cookie = c.cookie;
        const r = await forged.call<{ error: string }>('POST', '/api/portal/logout');
        assert.deepEqual([r.status, r.body.error], [403, 'csrf'], `logout from ${origin} without the token`);
        const wrong = await forged.call<{ error: string }>('POST', '/api/portal/logout', undefined, {
          'x-csrf-token': 'not-the-token',
        });
        assert.equal(wrong.status, 403);
      }
      assert.equal((await c.call('GET', '/api/portal/session')).status, 200, 'still logged in');
      assert.equal((await c.call('POST', '/api/portal/logout')).status, 204);
      assert.equal((await c.call('GET', '/api/portal/session')).status, 401);
      // without a live session there is nothing to protect: 204 and the cookie cleared
      assert.equal((await client().call('POST', '/api/portal/logout')).status, 204);
    });

    test('order fields refuse invisible, control and broken characters and blank values, naming the field', async () => {
      const holder = await createHolder(served.ca, { name: '字段字符' });
      const c = client();
      assert.equal((await c.login(holder)).status, 200);
      const cases: [field: keyof typeof FORM, value: string, message: RegExp][] = [
        ['recipient', '\u200b\u200b', /收件人 .*invisible or control character \(U\+200B\)/],
        ['recipient', 'CA\u0000客服部', /收件人 .*\(U\+0000\)/],
        ['recipient', '\u202e部服客AC', /收件人 .*\(U\+202E\)/],
        ['recipient', '张\ud800三', /收件人 .*lone surrogate/],
        ['recipient', '   ', /收件人 is required/],
        ['recipient', '\ufeff', /收件人 is required/],
        ['address', '上海市虹口区\u200d四川北路1601室', /发票邮寄地址 .*\(U\+200D\)/],
        ['address', '上海市虹口区\u0007四川北路', /发票邮寄地址 .*\(U\+0007\)/],
        ['address', '\udc00上海市虹口区四川北路', /发票邮寄地址 .*lone surrogate/],
        ['phone', '021-962600\u2066', /联系电话 .*\(U\+2066\)/],
        ['postcode', '200080\u0000', /邮编 .*\(U\+0000\)/],
        ['postcode', '\u00a0 ', /邮编 is required/],
      ];
      for (const [field, value, message] of cases) {
        const r = await c.call<{ error: string; field: string; message: string }>('POST', '/api/portal/orders', {
          ...FORM,
          [field]: value,
        });
        assert.deepEqual([r.status, r.body.error, r.body.field], [400, 'invalid', field], `${field} ${JSON.stringify(value)}`);
        assert.match(r.body.message, message);
      }
      assert.ok(!(await served.ca.rt.renewals.quote(holder.serial)).openOrder, 'no order was created');
      // NFC: a decomposed é is stored composed; surrounding spaces are trimmed
      const ok = await c.call<{ order: { recipient: string } }>('POST', '/api/portal/orders', {
        ...FORM,
        recipient: '  Rene\u0301 ',
      });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      assert.equal(ok.body.order.recipient, 'Ren\u00e9');
    });

    test('the gateway return: no gateway query for an arbitrary id, the same answer for unknown and foreign orders, rate-limited', async () => {
      const holder = await createHolder(served.ca, { name: '支付返回' });
      const c = client();
      assert.equal((await c.login(holder)).status, 200);
      const order = (await c.call<{ order: Order }>('POST', '/api/portal/orders', FORM)).body.order;
      const pay = await c.call<{ redirectUrl: string }>('POST', `/api/portal/orders/${order.id}/pay`);
      const u = new URL(pay.body.redirectUrl);
      const page = await (await fetch(`${served.base}${u.pathname}${u.search}`)).text();
      const tradeNo = /name="trade_no" value="([^"]+)"/.exec(page)![1]!;
      const paid = await (
        await fetch(`${served.base}/sandbox-pay/pay`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `trade_no=${tradeNo}&bank=${encodeURIComponent('中国银行')}`,
        })
      ).text();
      const signedReturn = new URL(sandboxReturnPath(paid), served.base);

      // someone else (no session) and an unknown id: identical answers, and the gateway is not asked
      const stranger = client();
      const foreign = await stranger.call('GET', `/api/portal/orders/${order.id}/return`);
      const unknownId = `R20261125-${'X'.repeat(6)}`;
      const unknown = await stranger.call('GET', `/api/portal/orders/${unknownId}/return`);
      assert.equal(foreign.status, 302);
      assert.equal(unknown.status, foreign.status);
      assert.deepEqual(unknown.raw, foreign.raw, 'the same body');
      assert.equal(foreign.headers.get('location'), `/#/orders/${order.id}`);
      assert.equal(unknown.headers.get('location'), `/#/orders/${unknownId}`);
      // a signature for another order does not open this one
      const otherId = new URL(signedReturn);
      otherId.pathname = `/api/portal/orders/${unknownId}/return`;
      assert.equal((await stranger.call('GET', `${otherId.pathname}${otherId.search}`)).status, 302);
      assert.equal((await served.ca.rt.renewals.order(order.id)).state, 'awaiting_payment', 'no query was made');

      // the return the gateway signed for this order is the hint that makes the server ask
      const back = await stranger.call('GET', `${signedReturn.pathname}${signedReturn.search}`);
      assert.equal(back.status, 302);
      assert.equal((await served.ca.rt.renewals.order(order.id)).state, 'paid');

      // rate limit per client address: 30 a minute, then 429 (this test made 4 so far)
      const codes: number[] = [];
      for (let i = 0; i < 30; i++)
        codes.push((await stranger.call('GET', `/api/portal/orders/R20261125-${String(i).padStart(6, 'Q')}/return`)).status);
      assert.deepEqual(new Set(codes.slice(0, 26)), new Set([302]));
      assert.deepEqual(new Set(codes.slice(26)), new Set([429]));
    });
  });
}
