// The portal's login is rate-limited per client address: 20 attempts a minute, then 429 even for a
// correct signature, while another client address still logs in (so one guesser does not lock the
// holders out). Each suite gets its own server, so the counts start at zero.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createHolder, PortalClient, serveTestCa, type ServedCa, type TestHolder } from './helpers/holder.js';

const LIMIT = 20;

/** POST /api/portal/login from a chosen local address (127.0.0.2 is a second client on loopback). */
function loginFrom(
  base: string,
  localAddress: string,
  origin: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, unknown> }> {
  const u = new URL('/api/portal/login', base);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        localAddress,
        headers: { origin, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers }),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('portal login rate limit', () => {
  let served: ServedCa;
  let holder: TestHolder;
  before(async () => {
    served = await serveTestCa();
    holder = await createHolder(served.ca, { name: '限流测试' });
  });
  after(async () => served?.close());

  /** A fresh challenge and the holder's signature over it, as the login body. */
  const signedLogin = async (): Promise<Record<string, string>> => {
    const c = new PortalClient(served.base, served.origin);
    const ch = await c.call<{ challenge: string }>('POST', '/api/portal/login/challenge');
    assert.equal(ch.status, 200);
    return {
      challenge: ch.body.challenge,
      signature: holder.signLogin(ch.body.challenge).toString('base64'),
      certificate: holder.certDer.toString('base64'),
    };
  };

  test(`after ${LIMIT} attempts a minute a client gets 429, even with a good signature; another client logs in`, async () => {
    const { base, origin } = served;
    // the first attempt is a real login: the limit counts every attempt, good or bad
    assert.equal((await loginFrom(base, '127.0.0.1', origin, await signedLogin())).status, 200);
    for (let i = 1; i < LIMIT; i++) {
      const r = await loginFrom(base, '127.0.0.1', origin, { challenge: `guess-${i}`, signature: 'AA==', certificate: 'AA==' });
      assert.ok(r.status === 401 || r.status === 400, `attempt ${i + 1} refused as a bad login: ${JSON.stringify(r.body)}`);
    }
    const limited = await loginFrom(base, '127.0.0.1', origin, await signedLogin());
    assert.equal(limited.status, 429, JSON.stringify(limited.body));
    assert.ok(Number(limited.headers['retry-after']) > 0, 'says when to try again');
    assert.equal(limited.headers['set-cookie'], undefined, 'no session for a limited attempt');
    // a different client address is not affected
    const other = await loginFrom(base, '127.0.0.2', origin, await signedLogin());
    assert.equal(other.status, 200, JSON.stringify(other.body));
  });
});
