// A minimal HTTP/1.x server for the few routes relying parties call at volume (OCSP), in front of
// Node's `http` server on the same port. It takes each new connection first: requests it fully
// understands (http1-head.ts) for a route it has are answered here, without Node's HTTP machinery
// (IncomingMessage, ServerResponse, Fastify routing and hooks), which costs more CPU than the OCSP
// answer itself. The first request it does not take — another URL, a head its strict parser does not
// accept, Transfer-Encoding, Expect, Upgrade — hands the connection, with every byte not yet
// consumed, to the `http` server, after the responses already owed on it have been written; from
// then on Node's parser (and Fastify) serves that connection as usual.
//
// Keep-alive (HTTP/1.1 default, HTTP/1.0 with "Connection: keep-alive"), pipelining (answers in
// request order), and two deadlines: a request must arrive whole within `requestMs` of its first
// byte (408 otherwise: slow-loris), and an idle connection is closed after `idleMs`.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { contentLength, parseRequestHead, wantsKeepAlive, type RequestHead } from './http1-head.js';

export interface FastRequest {
  method: string;
  target: string;
  headers: Map<string, string>;
  body: Buffer;
}

export interface FastResponse {
  status: 200 | 304 | 400;
  headers: Record<string, string>;
  body: Buffer;
}

export interface FastRoute {
  /** true when this route answers `method target` (the rest goes to the http server) */
  matches(method: string, target: string): boolean;
  /** larger bodies are not read: `tooLarge()` answers and the connection closes */
  maxBody: number;
  tooLarge(): FastResponse;
  /** never rejects */
  handle(req: FastRequest): Promise<FastResponse> | FastResponse;
}

export interface FrontTimeouts {
  /** from a request's first byte to its last */
  requestMs: number;
  /** a keep-alive connection with nothing owed and nothing received */
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: FrontTimeouts = { requestMs: 10_000, idleMs: 5_000 };

/** Requests read ahead of their answers on one connection (pipelining); more waits in the socket. */
const MAX_IN_FLIGHT = 16;
/** Unsent response bytes on one connection beyond which reading pauses (a client that does not read). */
const MAX_UNSENT = 256 * 1024;
/** After refusing an oversized body: bytes still read (and dropped) so the client sees the answer, not a reset. */
const DRAIN_LIMIT = 1024 * 1024;

const REASONS: Record<number, string> = { 200: 'OK', 304: 'Not Modified', 400: 'Bad Request', 408: 'Request Timeout' };

/** RFC 9110 §6.6.1 Date, formatted once per second. */
let dateSecond = 0;
let dateText = '';
function httpDate(): string {
  const s = Math.floor(Date.now() / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(s * 1000).toUTCString();
  }
  return dateText;
}

function serialise(r: FastResponse, keepAlive: boolean): Buffer {
  let head = `HTTP/1.1 ${r.status} ${REASONS[r.status]}\r\nDate: ${httpDate()}\r\n`;
  for (const k in r.headers) head += `${k}: ${r.headers[k]}\r\n`;
  if (r.status !== 304) head += `Content-Length: ${r.body.length}\r\n`;
  head += keepAlive ? 'Connection: keep-alive\r\n\r\n' : 'Connection: close\r\n\r\n';
  const n = Buffer.byteLength(head, 'latin1');
  const out = Buffer.allocUnsafe(n + (r.status === 304 ? 0 : r.body.length));
  out.write(head, 0, 'latin1');
  if (r.status !== 304) r.body.copy(out, n);
  return out;
}

interface Owed {
  keepAlive: boolean;
  out?: Buffer;
}

class Connection {
  private buf: Buffer = Buffer.alloc(0);
  /** the head of the request being read, once complete (its body may still be coming) */
  private head: RequestHead | undefined;
  private bodyLength = 0;
  private route: FastRoute | undefined;
  /** answers in request order; `out` set once produced */
  private readonly owed: Owed[] = [];
  /** set when a request was not ours: hand over once everything owed is written */
  private handOver = false;
  /** no more requests are read (Connection: close, refused body, client end, shutdown) */
  private closing = false;
  private draining = 0;
  private paused = false;
  /** ms timestamp after which the connection is timed out */
  deadline: number;
  private readonly onData = (d: Buffer): void => this.data(d);
  private readonly onEnd = (): void => this.end();
  private readonly onError = (): void => this.destroy();
  private readonly onClose = (): void => this.front.forget(this);
  private readonly onDrain = (): void => this.resume();
  /**
   * The one-request answer is written. Closed on the next tick, not inside the write callback: a
   * stream destroyed there has Node build (and throw away) an ERR_STREAM_DESTROYED with its stack
   * trace once the callback returns, ~5 µs per connection (Writable's errorBuffer).
   */
  private readonly onFinished = (): void => process.nextTick(this.onWritten);
  private readonly onWritten = (): void => this.destroy();
  /** TCP_NODELAY set: see noDelayNow() */
  private noDelay = false;

  constructor(
    readonly socket: Socket,
    private readonly front: Http1Front,
  ) {
    this.deadline = Date.now() + front.timeouts.idleMs;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
  }

  get idle(): boolean {
    return this.owed.length === 0 && this.buf.length === 0 && !this.head;
  }

  private data(d: Buffer): void {
    if (this.draining > 0) {
      this.draining -= d.length;
      if (this.draining <= 0) this.socket.destroy();
      return;
    }
    if (this.closing) return;
    if (this.buf.length === 0 && !this.head) this.deadline = Date.now() + this.front.timeouts.requestMs;
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    this.parse();
  }

  /** Reads as many whole requests from `buf` as it may. */
  private parse(): void {
    while (!this.closing && !this.handOver) {
      if (this.owed.length >= MAX_IN_FLIGHT || this.socket.writableLength > MAX_UNSENT) return this.pause();
      if (!this.head) {
        if (this.buf.length === 0) return;
        const r = parseRequestHead(this.buf);
        if (r.kind === 'incomplete') return;
        const route = r.kind === 'head' ? this.front.routeFor(r.head) : undefined;
        if (!route || r.kind !== 'head') {
          this.handOver = true;
          return this.flush();
        }
        this.head = r.head;
        this.route = route;
        this.bodyLength = contentLength(r.head) ?? 0;
        this.buf = this.buf.subarray(r.head.length);
        if (this.bodyLength > route.maxBody) return this.refuseBody(route);
      }
      if (this.buf.length < this.bodyLength) return;
      const head = this.head;
      const body = this.buf.subarray(0, this.bodyLength);
      this.buf = this.buf.subarray(this.bodyLength);
      if (this.buf.length === 0) this.buf = Buffer.alloc(0);
      this.head = undefined;
      const owed: Owed = { keepAlive: wantsKeepAlive(head) && !this.front.closing };
      if (!owed.keepAlive) this.closing = true;
      this.owed.push(owed);
      // the next request (pipelined) starts its clock now
      this.deadline = Date.now() + (this.buf.length > 0 ? this.front.timeouts.requestMs : this.front.timeouts.idleMs);
      const answer = this.route!.handle({ method: head.method, target: head.target, headers: head.headers, body });
      if (answer instanceof Promise) void answer.then((res) => this.answered(owed, res));
      else this.answered(owed, answer);
    }
  }

  private answered(owed: Owed, res: FastResponse): void {
    owed.out = serialise(res, owed.keepAlive);
    this.flush();
  }

  /** Writes the answers that are ready, in order; then closes or hands over if that is what is left. */
  private flush(): void {
    while (this.owed.length > 0 && this.owed[0]!.out) {
      const o = this.owed.shift()!;
      if (!o.keepAlive) {
        this.owed.length = 0;
        // The request is read whole, so once the answer and FIN are with the kernel the socket is
        // closed, as Node's http server does (destroySoon), instead of waiting for the client's FIN:
        // one read, one poll wake-up and an event less per connection. A refused body is the
        // exception: its remaining bytes are still read (draining) so that the client sees the answer.
        // No shutdown(): close() right after it sends the same FIN behind the same data, one system
        // call fewer per connection.
        if (this.draining > 0) this.socket.end(o.out!);
        else this.socket.write(o.out!, this.onFinished);
        return;
      }
      this.noDelayNow();
      this.socket.write(o.out!);
    }
    if (this.owed.length > 0) return;
    if (this.handOver) return this.front.handOver(this, this.buf);
    if (this.closing && !this.socket.writableEnded) this.socket.end();
    else if (this.paused) this.resume();
  }

  /**
   * Nagle off, once a connection carries more than one answer (keep-alive, pipelining), where a small
   * answer could otherwise wait for the ACK of the one before it. A one-request connection writes
   * once and closes, which Nagle never delays: it saves the setsockopt (the http server is made
   * with noDelay false; connections handed to it get Nagle off there).
   */
  noDelayNow(): void {
    if (this.noDelay) return;
    this.noDelay = true;
    this.socket.setNoDelay(true);
  }

  /** The declared body is larger than the route takes: answer, stop reading requests, drop what follows. */
  private refuseBody(route: FastRoute): void {
    this.closing = true;
    const owed: Owed = { keepAlive: false, out: serialise(route.tooLarge(), false) };
    this.owed.push(owed);
    this.draining = Math.min(DRAIN_LIMIT, this.bodyLength) - this.buf.length;
    this.buf = Buffer.alloc(0);
    this.head = undefined;
    this.deadline = Date.now() + this.front.timeouts.requestMs;
    this.flush();
  }

  private end(): void {
    // the client will send no more: answer what is owed, then close
    this.closing = true;
    this.head = undefined;
    if (this.owed.length === 0 && !this.socket.writableEnded) this.socket.end();
  }

  private pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private resume(): void {
    if (!this.paused || this.owed.length >= MAX_IN_FLIGHT || this.socket.writableLength > MAX_UNSENT) return;
    this.paused = false;
    this.socket.resume();
    this.parse();
  }

  /** Called by the sweep when `deadline` has passed. */
  timedOut(): void {
    if (this.owed.length > 0) {
      // answers still being produced: give them the time a request gets
      this.deadline = Date.now() + this.front.timeouts.requestMs;
      return;
    }
    if (this.closing) return this.destroy(); // already answered and ended (or dropping a refused body)
    if (this.head || this.buf.length > 0) {
      this.closing = true;
      this.socket.end(`HTTP/1.1 408 Request Timeout\r\nDate: ${httpDate()}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      this.front.forget(this);
      setTimeout(() => this.socket.destroy(), 1000).unref();
      return;
    }
    this.destroy();
  }

  /** Server shutting down: idle connections close now, busy ones after their answers. */
  shutdown(): void {
    if (this.idle) this.destroy();
    else this.closing = true;
  }

  destroy(): void {
    this.socket.destroy();
    this.front.forget(this);
  }

  /** Stops listening to the socket (before it goes to the http server). */
  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    this.socket.off('drain', this.onDrain);
  }
}

export class Http1Front {
  private readonly connections = new Set<Connection>();
  private readonly httpConnection: ((socket: Socket) => void)[];
  private readonly sweep: NodeJS.Timeout;
  closing = false;

  /** the routes answered here; may be filled after construction (before listening) */
  routes: FastRoute[] = [];

  constructor(
    private readonly server: Server,
    readonly timeouts: FrontTimeouts = DEFAULT_TIMEOUTS,
  ) {
    // Take the connections the http server would have parsed; give them back in handOver().
    this.httpConnection = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => this.connections.add(new Connection(socket, this)));
    this.sweep = setInterval(() => this.timeOut(), Math.min(250, timeouts.requestMs / 4, timeouts.idleMs / 4));
    this.sweep.unref();
    server.once('close', () => clearInterval(this.sweep));
    // Fastify's close() calls server.close() and closeIdleConnections(); the http server knows only
    // the connections handed to it, so ours are closed here.
    const close = server.close.bind(server);
    server.close = (cb?: (err?: Error) => void) => {
      this.shutdown();
      return close(cb);
    };
    const closeIdle = server.closeIdleConnections.bind(server);
    server.closeIdleConnections = () => {
      this.shutdown();
      closeIdle();
    };
    const closeAll = server.closeAllConnections.bind(server);
    server.closeAllConnections = () => {
      for (const c of [...this.connections]) c.destroy();
      closeAll();
    };
  }

  routeFor(head: RequestHead): FastRoute | undefined {
    const h = head.headers;
    // anything beyond a plain request with a Content-Length body is left to Node's parser
    if (h.has('transfer-encoding') || h.has('expect') || h.has('upgrade')) return undefined;
    if (Number.isNaN(contentLength(head))) return undefined;
    return this.routes.find((r) => r.matches(head.method, head.target));
  }

  /** The socket and its unread bytes go to the http server, as if it had just accepted it. */
  handOver(c: Connection, rest: Buffer): void {
    c.detach();
    this.connections.delete(c);
    const socket = c.socket;
    c.noDelayNow();
    socket.pause();
    if (rest.length > 0) socket.unshift(rest);
    for (const l of this.httpConnection) l.call(this.server, socket);
    socket.resume();
  }

  forget(c: Connection): void {
    this.connections.delete(c);
  }

  private timeOut(): void {
    const now = Date.now();
    for (const c of this.connections) if (c.deadline <= now) c.timedOut();
  }

  private shutdown(): void {
    this.closing = true;
    for (const c of [...this.connections]) c.shutdown();
  }
}
