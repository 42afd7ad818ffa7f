// Approval requests and the per-request session token.
//
// A portal page (an allowed origin) asks for an operation that needs the PIN: POST /v1/requests. It
// gets back a request id, the URL of the assistant's own approval page, and a session token. Only the
// approval page, on the assistant's own origin, takes the PIN. The session token is a random secret
// bound to the requesting origin and this one request; the assistant stores only its hash. Another
// page cannot read the result or drive the operation without it, and a token captured from one
// origin is useless from another.
//
// PIN attempts are guarded here too: at least `minIntervalMs` between tries on one key, and no PIN
// is taken from the web when the key is locked or has a single try left.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AgentError } from './errors.js';
import type { PinStatus, TokenSession, TokenSummary } from './tokens/driver.js';

export const OPS = [
  'login',
  'renew',
  'change-pin',
  'generate-key',
  'make-csr',
  'write-certificate',
  'sign-revocation',
  'delete-revoked',
  'write-seal',
  'sign-with-seal',
] as const;
export type OpName = (typeof OPS)[number];
export const isOp = (s: unknown): s is OpName => typeof s === 'string' && (OPS as readonly string[]).includes(s);

export type RequestStatus = 'pending' | 'working' | 'done' | 'failed' | 'denied' | 'expired';

export interface ApprovalRequest {
  id: string;
  /** secret in the approval URL: proves the page was opened from the URL given to the requester */
  approvalKey: string;
  /** SHA-256 of the session token handed to the requester */
  sessionTokenHash: Buffer;
  origin: string;
  op: OpName;
  tokenId: string;
  /** validated operation parameters (never a PIN) */
  params: Record<string, unknown>;
  /** what the approval page shows besides the op: certificate name, order id, … */
  display: Record<string, unknown>;
  status: RequestStatus;
  result?: unknown;
  error?: { error: string; message: string; [k: string]: unknown };
  createdAt: number;
  /** until when the PIN may be entered */
  expiresAt: number;
  finishedAt?: number;
}

const hash = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
const secret = (): string => randomBytes(32).toString('base64url');

function sameSecret(a: string, b: string): boolean {
  const x = hash(a);
  const y = hash(b);
  return timingSafeEqual(x, y);
}

export class RequestStore {
  private readonly byId = new Map<string, ApprovalRequest>();
  private readonly byToken = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    /** how long the user has to approve */
    private readonly approveMs = 5 * 60_000,
    /** how long a finished request's result stays readable */
    private readonly keepMs = 10 * 60_000,
  ) {
    this.timer = setInterval(() => this.sweep(), 30_000).unref();
  }

  create(p: Pick<ApprovalRequest, 'origin' | 'op' | 'tokenId' | 'params' | 'display'>): {
    request: ApprovalRequest;
    sessionToken: string;
  } {
    if (this.byId.size > 200) this.sweep();
    if (this.byId.size > 200) throw new AgentError(429, 'too_many_requests', 'too many open approval requests; try again later');
    const sessionToken = secret();
    const now = Date.now();
    const request: ApprovalRequest = {
      ...p,
      id: randomBytes(16).toString('base64url'),
      approvalKey: secret(),
      sessionTokenHash: hash(sessionToken),
      status: 'pending',
      createdAt: now,
      expiresAt: now + this.approveMs,
    };
    this.byId.set(request.id, request);
    this.byToken.set(request.sessionTokenHash.toString('hex'), request.id);
    return { request, sessionToken };
  }

  /** For the approval page: the request, if `approvalKey` is right. */
  forPage(id: string, approvalKey: unknown): ApprovalRequest {
    const r = this.byId.get(id);
    if (!r || typeof approvalKey !== 'string' || !sameSecret(approvalKey, r.approvalKey)) {
      throw new AgentError(404, 'request_not_found', 'no such approval request (it may have expired or the link is incomplete)');
    }
    this.expireIfDue(r);
    return r;
  }

  /** For the requester: the request its session token belongs to, checked against its origin. */
  forRequester(sessionToken: string | undefined, origin: string | undefined, id?: string): ApprovalRequest {
    if (!sessionToken)
      throw new AgentError(
        401,
        'session_required',
        'send the session token from POST /v1/requests as "Authorization: Bearer <token>"',
      );
    const rid = this.byToken.get(hash(sessionToken).toString('hex'));
    const r = rid ? this.byId.get(rid) : undefined;
    if (!r || (id !== undefined && r.id !== id)) {
      throw new AgentError(
        401,
        'session_invalid',
        'the session token is unknown or expired (the assistant may have restarted): create a new request',
      );
    }
    if (r.origin !== origin) throw new AgentError(403, 'session_other_origin', 'this session belongs to another origin');
    this.expireIfDue(r);
    return r;
  }

  finish(
    r: ApprovalRequest,
    status: 'done' | 'failed' | 'denied',
    outcome?: { result?: unknown; error?: ApprovalRequest['error'] },
  ): void {
    r.status = status;
    r.finishedAt = Date.now();
    if (outcome?.result !== undefined) r.result = outcome.result;
    if (outcome?.error !== undefined) r.error = outcome.error;
  }

  private expireIfDue(r: ApprovalRequest): void {
    if (r.status === 'pending' && Date.now() > r.expiresAt) {
      r.status = 'expired';
      r.finishedAt = Date.now();
    }
  }

  sweep(): void {
    const now = Date.now();
    for (const r of this.byId.values()) {
      this.expireIfDue(r);
      if (r.finishedAt !== undefined && now - r.finishedAt > this.keepMs) this.drop(r);
    }
  }

  private drop(r: ApprovalRequest): void {
    this.byId.delete(r.id);
    this.byToken.delete(r.sessionTokenHash.toString('hex'));
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** What the requester sees of its request. */
export function requestView(r: ApprovalRequest): Record<string, unknown> {
  return {
    requestId: r.id,
    op: r.op,
    tokenId: r.tokenId,
    status: r.status,
    ...(r.result !== undefined ? { result: r.result } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
  };
}

export const UNLOCK_HELP =
  'To unlock the key, take it to a service point of the CA (the security officer PIN resets the user PIN); a soft token with an SO PIN is unlocked with `certdesk token unlock-soft`.';

/** Refuses PIN entry from the web for locked keys and keys with one try left; spaces out attempts. */
export class PinGuard {
  private readonly last = new Map<string, number>();

  constructor(private readonly minIntervalMs = 1000) {}

  check(token: TokenSummary): void {
    const pin: PinStatus = token.pin;
    if (pin.locked) {
      throw new AgentError(423, 'pin_locked', `the PIN of key "${token.label}" is locked. ${UNLOCK_HELP}`, { pin });
    }
    if (pin.finalTry || pin.retriesLeft === 1) {
      throw new AgentError(
        423,
        'pin_final_try',
        `key "${token.label}" has one PIN try left; the assistant does not take the last try from a web page, so a mistake cannot lock the key. ${UNLOCK_HELP}`,
        { pin },
      );
    }
    const now = Date.now();
    const last = this.last.get(token.id);
    if (last !== undefined && now - last < this.minIntervalMs) {
      const wait = this.minIntervalMs - (now - last);
      throw new AgentError(429, 'pin_rate_limited', `wait ${Math.ceil(wait / 100) / 10} s before the next PIN attempt`, {
        retryAfterMs: wait,
      });
    }
    this.last.set(token.id, now);
  }
}

/**
 * A renewal's logged-in token session, kept between the steps the portal drives (certificate,
 * confirm) so the holder types the PIN once per renewal. It holds the token's login, not the PIN,
 * and ends when the renewal is done, after `idleMs` without use, or when the assistant stops.
 */
export interface RenewalContext {
  orderId: string;
  tokenId: string;
  origin: string;
  session: TokenSession;
  requestId: string;
  lastUsed: number;
}

export class RenewalSessions {
  private readonly map = new Map<string, RenewalContext>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly idleMs = 10 * 60_000) {
    this.timer = setInterval(() => void this.sweep(), 30_000).unref();
  }

  async put(ctx: Omit<RenewalContext, 'lastUsed'>): Promise<void> {
    const old = this.map.get(ctx.orderId);
    if (old && old.session !== ctx.session) await old.session.close().catch(() => undefined);
    this.map.set(ctx.orderId, { ...ctx, lastUsed: Date.now() });
  }

  get(orderId: string): RenewalContext | undefined {
    const c = this.map.get(orderId);
    if (c) c.lastUsed = Date.now();
    return c;
  }

  async end(orderId: string): Promise<void> {
    const c = this.map.get(orderId);
    this.map.delete(orderId);
    if (c) await c.session.close().catch(() => undefined);
  }

  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const c of [...this.map.values()]) if (now - c.lastUsed > this.idleMs) await this.end(c.orderId);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const id of [...this.map.keys()]) await this.end(id);
  }
}
