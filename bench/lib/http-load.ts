// A small closed-loop HTTP/1.1 load generator on raw sockets (one request in flight per connection,
// no pipelining). It is far cheaper per request than node:http, so on a 2-core machine it leaves the
// responder the CPU it needs. Keep-alive is used when the server allows it; a server that closes the
// connection after each response (`openssl ocsp` does) gets a new connection for the next request.
// Only complete responses that pass `check` count.
import net from 'node:net';
import { randomFillSync } from 'node:crypto';
import { now } from './common.js';

export interface LoadOptions {
  port: number;
  path: string;
  /** request bodies, used round-robin */
  bodies: Buffer[];
  /** when set, these bytes at the end of each body are replaced by fresh random bytes (the OCSP nonce) */
  nonceLength?: number;
  connections: number;
  durationMs: number;
  /** extra header lines, e.g. ['Connection: close'] */
  headers?: string[];
  /** validates a response body; the request's nonce is passed when nonceLength is set */
  check: (body: Buffer, nonce: Buffer | undefined) => boolean;
}

export interface LoadResult {
  ok: number;
  failed: number;
  /** connections opened (including reconnects) */
  connects: number;
  errors: Record<string, number>;
  seconds: number;
  rate: number;
  /** the last successful response body and its request body (for an openssl spot-check) */
  sample: { request: Buffer; response: Buffer } | undefined;
}

const CRLF2 = Buffer.from('\r\n\r\n');

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const res: LoadResult = { ok: 0, failed: 0, connects: 0, errors: {}, seconds: 0, rate: 0, sample: undefined };
  const countError = (k: string): void => {
    res.errors[k] = (res.errors[k] ?? 0) + 1;
  };
  const extra = (o.headers ?? []).map((h) => `${h}\r\n`).join('');
  // One prepared request per body per connection: the nonce is rewritten in place before each send.
  const requestFor = (body: Buffer): { wire: Buffer; body: Buffer } => {
    const head = Buffer.from(
      `POST ${o.path} HTTP/1.1\r\nHost: 127.0.0.1:${o.port}\r\nContent-Type: application/ocsp-request\r\n${extra}Content-Length: ${body.length}\r\n\r\n`,
      'latin1',
    );
    const wire = Buffer.concat([head, body]);
    return { wire, body: wire.subarray(head.length) };
  };
  const t0 = now();
  const deadline = t0 + o.durationMs;

  const conn = (index: number): Promise<void> =>
    new Promise((done) => {
      const requests = o.bodies.map(requestFor);
      let next = index % requests.length;
      let socket: net.Socket | undefined;
      let buf: Buffer = Buffer.alloc(0);
      let current: { wire: Buffer; body: Buffer } | undefined;
      let nonce: Buffer | undefined;
      let closeAfter = false;
      let finished = false;

      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(grace);
        socket?.destroy();
        done();
      };
      // Responses still owed after the deadline get a few seconds, then the connection is dropped.
      const grace = setTimeout(finish, o.durationMs + 3000);
      // Every connection carries a request: `openssl ocsp` (3.0) blocks for good on a connection that
      // is closed before it sends anything.
      const send = (force = false): void => {
        if (!force && now() >= deadline) return finish();
        const req = requests[next]!;
        next = (next + 1) % requests.length;
        if (o.nonceLength) {
          nonce = req.wire.subarray(req.wire.length - o.nonceLength);
          randomFillSync(nonce);
        }
        current = req;
        buf = Buffer.alloc(0);
        socket!.write(req.wire);
      };
      const open = (): void => {
        if (now() >= deadline) return finish();
        res.connects++;
        closeAfter = false;
        const s = net.connect({ port: o.port, host: '127.0.0.1', noDelay: true });
        socket = s;
        s.on('connect', () => send(true));
        s.on('data', (d: Buffer) => {
          buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
          const headEnd = buf.indexOf(CRLF2);
          if (headEnd < 0) return;
          const head = buf.subarray(0, headEnd).toString('latin1');
          const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          if (!m) {
            countError('no content-length');
            res.failed++;
            s.destroy();
            return;
          }
          const total = headEnd + 4 + Number(m[1]);
          if (buf.length < total) return;
          const body = buf.subarray(headEnd + 4, total);
          const statusOk = head.startsWith('HTTP/1.1 200') || head.startsWith('HTTP/1.0 200');
          closeAfter = head.startsWith('HTTP/1.0')
            ? !/\r\nconnection:\s*keep-alive/i.test(head)
            : /\r\nconnection:\s*close/i.test(head);
          if (now() <= deadline) {
            if (statusOk && o.check(body, nonce)) {
              res.ok++;
              if (res.ok % 256 === 1) res.sample = { request: Buffer.from(current!.body), response: Buffer.from(body) };
            } else {
              res.failed++;
              countError(statusOk ? 'bad OCSP response' : `HTTP ${head.slice(9, 12)}`);
            }
          }
          buf = Buffer.alloc(0);
          if (closeAfter) s.end();
          else send();
        });
        s.on('error', (e: NodeJS.ErrnoException) => {
          if (now() < deadline) countError(e.code ?? e.message);
        });
        s.on('close', () => {
          if (finished) return;
          if (buf.length > 0 && now() < deadline) {
            res.failed++;
            countError('closed mid-response');
          }
          // Reconnect: the server closes after each response (HTTP/1.0) or dropped us.
          setImmediate(open);
        });
      };
      open();
    });

  await Promise.all(Array.from({ length: o.connections }, (_, i) => conn(i)));
  res.seconds = o.durationMs / 1000;
  res.rate = res.ok / res.seconds;
  return res;
}
