// Behind the TLS proxy (docs/deploy/nginx-certdesk.conf) every request comes from the proxy's
// address: per-client limits must key on the client it names in X-Forwarded-For — and only when
// TRUST_PROXY names that proxy, or anyone could pick their own address.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildServer } from '../src/api/server.js';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { createTestCa } from './helpers/ca.js';

const ORIGIN = 'https://portal.example.cn';

/** 20 login attempts from client A (the limit), then one more from A and one from B. */
async function loginsFrom(env: Record<string, string>): Promise<{ a: number; b: number }> {
  const ca = await createTestCa({ env: { PUBLIC_URL: ORIGIN, ...env } });
  const { app } = await buildServer(ca.rt, { logger: false });
  try {
    const login = (client: string) =>
      app.inject({
        method: 'POST',
        url: '/api/portal/login',
        remoteAddress: '127.0.0.1',
        headers: { origin: ORIGIN, 'x-forwarded-for': client, 'content-type': 'application/json' },
        payload: {},
      });
    for (let i = 0; i < 20; i++) assert.equal((await login('203.0.113.1')).statusCode, 400);
    return { a: (await login('203.0.113.1')).statusCode, b: (await login('203.0.113.2')).statusCode };
  } finally {
    await app.close();
    await ca.cleanup();
  }
}

describe('TRUST_PROXY', () => {
  test('the login limit is per client behind a trusted proxy', async () => {
    assert.deepEqual(await loginsFrom({ TRUST_PROXY: '127.0.0.1' }), { a: 429, b: 400 });
  });

  test('without TRUST_PROXY, X-Forwarded-For is ignored: the proxy is one client', async () => {
    assert.deepEqual(await loginsFrom({}), { a: 429, b: 429 });
  });

  test('a value that is not an address or range is refused, naming the variable', () => {
    assert.deepEqual(loadConfig({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1' }).trustProxy, ['127.0.0.1', '10.0.0.0/8', '::1']);
    for (const bad of ['nginx', '10.0.0.0/33', '::1/129', '1.2.3.4/8/9'])
      assert.throws(
        () => loadConfig({ TRUST_PROXY: bad }),
        (e: Error) => e instanceof ConfigError && /TRUST_PROXY/.test(e.message),
      );
  });
});
