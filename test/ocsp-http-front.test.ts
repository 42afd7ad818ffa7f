// The fast HTTP/1.x path that answers OCSP ahead of Node's HTTP parser and Fastify (http1-front.ts),
// spoken to over real sockets: keep-alive, Connection: close, HTTP/1.0, pipelining in order, the
// hand-over of other requests on the same connection, malformed heads, oversized bodies, slow
// clients timing out — and OpenSSL's own client against it.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { toPem } from '../src/pki/pem.js';
import { openssl, opensslAsync, opensslCsr } from './helpers/ca.js';
import { serveTestCa, type ServedCa } from './helpers/holder.js';

const MALFORMED = Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]);
const TIMEOUTS = { requestMs: 600, idleMs: 400 };

interface HttpResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Splits the bytes a server sent into HTTP responses (Content-Length framed; 304/408 may have none). */
function parseResponses(bytes: Buffer): HttpResponse[] {
  const out: HttpResponse[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf('\r\n\r\n', at, 'latin1');
    if (end < 0) throw new Error(`incomplete head: ${bytes.toString('latin1', at, at + 200)}`);
    const lines = bytes.toString('latin1', at, end).split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1]);
    const headers = new Map(
      lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
    );
    const len = Number(headers.get('content-length') ?? 0);
    out.push({ status, headers, body: bytes.subarray(end + 4, end + 4 + len) });
    at = end + 4 + len;
  }
  return out;
}

/**
 * Opens a connection, sends `parts` (a pause between them), and collects what the server sends
 * until it closes the connection or `waitMs` pass. `closed` says whether the server closed it.
 */
function exchange(port: number, parts: (Buffer | string)[], opts: { gapMs?: number; waitMs?: number } = {}) {
  return new Promise<{ bytes: Buffer; closed: boolean; ms: number }>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ bytes: Buffer.concat(chunks), closed, ms: Date.now() - t0 });
    };
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', reject);
    s.on('end', () => done(true));
    s.on('connect', async () => {
      for (const [i, p] of parts.entries()) {
        if (i > 0 && opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
        if (!s.destroyed) s.write(p);
      }
      timer = setTimeout(() => done(false), opts.waitMs ?? 1500);
    });
  });
}

const post = (body: Buffer, extra = '', version = '1.1'): Buffer =>
  Buffer.concat([
    Buffer.from(
      `POST /ocsp HTTP/${version}\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${body.length}\r\n${extra}\r\n`,
      'latin1',
    ),
    body,
  ]);

/** The certificate status in a DER OCSP response, as `openssl ocsp -respin` reads it. */
function statusOf(dir: string, der: Buffer): string {
  const f = path.join(dir, `resp-${Math.random().toString(36).slice(2)}.der`);
  writeFileSync(f, der);
  return /Cert Status: (\w+)/.exec(openssl(['ocsp', '-respin', f, '-resp_text', '-noverify']).out)?.[1] ?? 'none';
}

describe('the fast OCSP HTTP path over real sockets', () => {
  let served: ServedCa;
  let port: number;
  let dir: string;
  let good: Buffer;
  let revoked: Buffer;
  let files: { root: string; chain: string };
  let goodFile: string;

  before(async () => {
    served = await serveTestCa({}, { httpTimeouts: TIMEOUTS });
    port = Number(new URL(served.base).port);
    dir = served.ca.dir;
    files = served.ca.files();
    const request = async (cn: string, revoke: boolean): Promise<{ req: Buffer; file: string }> => {
      const { csr } = opensslCsr(dir, `/CN=${cn}/O=测试/C=CN`);
      const issued = await served.ca.rt.ca.issue({ csr, profileId: 'org-identity', actor: 'test' });
      if (revoke) await served.ca.rt.ca.revoke(issued.record.serial, 'keyCompromise', 'test');
      const file = path.join(dir, `${issued.record.serial}.pem`);
      writeFileSync(file, toPem('CERTIFICATE', issued.der));
      const reqFile = path.join(dir, `${issued.record.serial}.req`);
      openssl(['ocsp', '-issuer', files.chain, '-cert', file, '-no_nonce', '-reqout', reqFile]);
      return { req: readFileSync(reqFile), file };
    };
    const g = await request('快速通道', false);
    good = g.req;
    goodFile = g.file;
    revoked = (await request('快速吊销', true)).req;
  });
  after(async () => served?.close());

  test('keep-alive (HTTP/1.1): several requests on one connection, each answered and the connection kept', async () => {
    const r = await exchange(port, [post(good), post(revoked), post(good)], { gapMs: 50, waitMs: 300 });
    const res = parseResponses(r.bytes);
    assert.deepEqual(
      res.map((x) => x.status),
      [200, 200, 200],
    );
    assert.deepEqual(
      res.map((x) => statusOf(dir, x.body)),
      ['good', 'revoked', 'good'],
    );
    for (const x of res) {
      assert.equal(x.headers.get('content-type'), 'application/ocsp-response');
      assert.equal(x.headers.get('connection'), 'keep-alive');
      assert.ok(x.headers.get('date'));
    }
    assert.equal(r.closed, false, 'the connection stays open for more');
  });

  test('pipelined requests are answered in order, and a non-OCSP request behind them goes to Fastify on the same connection', async () => {
    const healthz = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
    const r = await exchange(port, [
      Buffer.concat([post(revoked), post(Buffer.from('garbage')), post(good), Buffer.from(healthz)]),
    ]);
    const res = parseResponses(r.bytes);
    assert.equal(res.length, 4, r.bytes.toString('latin1'));
    assert.equal(statusOf(dir, res[0]!.body), 'revoked');
    assert.deepEqual(res[1]!.body, MALFORMED);
    assert.equal(statusOf(dir, res[2]!.body), 'good');
    assert.equal(res[3]!.status, 200);
    assert.deepEqual(JSON.parse(res[3]!.body.toString()), { status: 'ok' });
    assert.equal(r.closed, true);
  });

  test('Connection: close, and HTTP/1.0 with and without keep-alive', async () => {
    const close = await exchange(port, [post(good, 'Connection: close\r\n'), post(good)]);
    assert.equal(parseResponses(close.bytes).length, 1, 'nothing after Connection: close is read');
    assert.equal(parseResponses(close.bytes)[0]!.headers.get('connection'), 'close');
    assert.equal(close.closed, true);

    const http10 = await exchange(port, [post(good, '', '1.0')]);
    const [a] = parseResponses(http10.bytes);
    assert.equal(statusOf(dir, a!.body), 'good');
    assert.equal(a!.headers.get('connection'), 'close');
    assert.equal(http10.closed, true, 'HTTP/1.0 closes by default');

    const kept = await exchange(
      port,
      [post(good, 'Connection: keep-alive\r\n', '1.0'), post(revoked, 'Connection: keep-alive\r\n', '1.0')],
      {
        gapMs: 50,
        waitMs: 250,
      },
    );
    assert.deepEqual(
      parseResponses(kept.bytes).map((x) => statusOf(dir, x.body)),
      ['good', 'revoked'],
    );
    assert.equal(kept.closed, false);
  });

  test('malformed heads get 400 from Node’s parser and close; the server goes on serving', async () => {
    for (const bad of [
      'POST /ocsp HTTP/1.1 extra\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
      'POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 12, 13\r\n\r\n',
      'POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
      'POST /ocsp HTTP/1.1\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n',
      'POST /ocsp HTTP/9.9\r\nContent-Length: 0\r\n\r\n',
      'POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ]) {
      const r = await exchange(port, [bad]);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(r.bytes.toString('latin1'))?.[1]);
      assert.ok(status >= 400 && status <= 505, `${JSON.stringify(bad)} → ${r.bytes.toString('latin1', 0, 80)}`);
      assert.equal(r.closed, true, `${JSON.stringify(bad)}: connection closed`);
    }
    const ok = await exchange(port, [post(good, 'Connection: close\r\n')]);
    assert.equal(statusOf(dir, parseResponses(ok.bytes)[0]!.body), 'good');
  });

  test('a chunked POST /ocsp goes to Fastify and is still answered in OCSP', async () => {
    const chunked = Buffer.concat([
      Buffer.from(
        'POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      ),
      Buffer.from(`${good.length.toString(16)}\r\n`),
      good,
      Buffer.from('\r\n0\r\n\r\n'),
    ]);
    const r = await exchange(port, [chunked]);
    const text = r.bytes.toString('latin1');
    const body = r.bytes.subarray(r.bytes.indexOf('\r\n\r\n') + 4);
    assert.match(text, /^HTTP\/1\.1 200/);
    // Fastify may answer chunked or with a length; the OCSP bytes follow either way
    assert.equal(statusOf(dir, /transfer-encoding: chunked/i.test(text) ? dechunk(body) : body), 'good');
  });

  test('a body larger than 16 KiB gets malformedRequest and the connection closes; the server is fine after', async () => {
    const big = Buffer.alloc(20_000, 0x30);
    const r = await exchange(port, [post(big)]);
    const [res] = parseResponses(r.bytes);
    assert.equal(res!.status, 200);
    assert.deepEqual(res!.body, MALFORMED);
    assert.equal(res!.headers.get('connection'), 'close');
    assert.equal(r.closed, true);
    const ok = await exchange(port, [post(good, 'Connection: close\r\n')]);
    assert.equal(statusOf(dir, parseResponses(ok.bytes)[0]!.body), 'good');
  });

  test('slow clients time out: a partial head or body gets 408 and is closed; an idle keep-alive connection is closed', async () => {
    const partialHead = await exchange(port, ['POST /ocsp HTTP/1.1\r\nHost: x\r\n', 'Content-Type: app'], {
      gapMs: 200,
      waitMs: 3000,
    });
    assert.match(partialHead.bytes.toString('latin1'), /^HTTP\/1\.1 408 /);
    assert.equal(partialHead.closed, true);
    assert.ok(partialHead.ms < 2500, `closed after ${partialHead.ms} ms`);

    // a byte every 30 ms keeps the socket busy, but the request's deadline counts from its first byte
    const drip = post(good).toString('latin1').split('');
    const slowBody = await exchange(port, drip.slice(0, 40), { gapMs: 30, waitMs: 3000 });
    assert.match(slowBody.bytes.toString('latin1'), /^HTTP\/1\.1 408 /);
    assert.equal(slowBody.closed, true);

    const idle = await exchange(port, [post(good)], { waitMs: 3000 });
    assert.equal(parseResponses(idle.bytes).length, 1);
    assert.equal(idle.closed, true, 'the idle keep-alive connection was closed by the server');
  });

  test('GET /ocsp/{base64} on the fast path: the cache headers, and 304 for If-None-Match', async () => {
    const target = `/ocsp/${encodeURIComponent(good.toString('base64'))}`;
    const first = parseResponses(
      (await exchange(port, [`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`])).bytes,
    )[0]!;
    assert.equal(first.status, 200);
    assert.equal(statusOf(dir, first.body), 'good');
    assert.match(first.headers.get('cache-control')!, /^public, max-age=\d+/);
    const etag = first.headers.get('etag')!;
    const again = await exchange(port, [
      `GET ${target} HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\nConnection: close\r\n\r\n`,
    ]);
    const [notModified] = parseResponses(again.bytes);
    assert.equal(notModified!.status, 304);
    assert.equal(notModified!.body.length, 0);
    assert.equal(notModified!.headers.get('etag'), etag);
  });

  test('openssl ocsp -url, OpenSSL’s own client, gets verified answers from the fast path', async () => {
    const r = await opensslAsync([
      'ocsp',
      '-issuer',
      files.chain,
      '-cert',
      goodFile,
      '-url',
      `${served.base}/ocsp`,
      '-CAfile',
      files.root,
    ]);
    assert.match(r.out, /Response verify OK/);
    assert.match(r.out, /: good/);
  });
});

function dechunk(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', at, 'latin1');
    const n = parseInt(b.toString('latin1', at, eol), 16);
    if (!n) return Buffer.concat(parts);
    parts.push(b.subarray(eol + 2, eol + 2 + n));
    at = eol + 2 + n + 2;
  }
}
