// The key assistant (协卡助手) running on the holder's computer: its local /v1 API (see
// src/agent/server/app.ts and docs/AGENT-API.md). Reading needs no PIN; anything that does (login,
// renew) becomes an approval request: the assistant's own window takes the PIN and tells this page
// only the outcome, by postMessage. The page checks that the message comes from the assistant's
// origin and from the window it opened, and then fetches the result with the request's session token.

// The assistant's own shapes, imported type-only (erased from the bundle), so the two cannot drift.
import type { CertificateView } from '../../src/agent/cert-info.js';
import type { JournalStep } from '../../src/agent/install/journal.js';
import type { RenewalView } from '../../src/agent/install/renewal.js';
import type { SealView } from '../../src/agent/seals.js';
import type { PinStatus, TokenSummary } from '../../src/agent/tokens/driver.js';

export type { JournalStep, PinStatus, RenewalView, SealView, TokenSummary };
/** A certificate on a key, as GET /v1/tokens/:id/certificates lists it. */
export type KeyCertificate = CertificateView;

/** An SM2 dual pair's encryption half, relayed from the portal's issue answer to the assistant. */
export interface EncryptionDelivery {
  certificate: string;
  /** the KMC's SM2EnvelopedKey (base64 DER); null when the policy kept the old encryption key */
  envelope: string | null;
}

export type RequestStatus = 'pending' | 'working' | 'done' | 'failed' | 'denied' | 'expired';

export interface RequestView {
  requestId: string;
  op: string;
  tokenId: string;
  status: RequestStatus;
  result?: unknown;
  error?: { error: string; message: string; [k: string]: unknown };
}

export interface CreatedRequest {
  requestId: string;
  approveUrl: string;
  sessionToken: string;
  status: RequestStatus;
  expiresAt: string;
}

export interface LoginResult {
  certificateId: string;
  certificate: string;
  signature: string;
  algorithm: string;
  challenge: string;
}

export class AgentError extends Error {
  constructor(
    /** 0: the assistant could not be reached at all (not running, or the browser blocked access) */
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Only loopback http(s) URLs are taken as the assistant's (the config comes from our own server). */
export function agentOrigin(url: string): string {
  const u = new URL(url);
  if (!LOOPBACK.has(u.hostname) || (u.protocol !== 'http:' && u.protocol !== 'https:'))
    throw new Error(`the key assistant URL must be a loopback http URL, got ${url}`);
  return u.origin;
}

/**
 * What the browser says about reaching apps on this device (Chrome's Local Network Access). The
 * assistant is on loopback: Chromium 156 keeps that as `loopback-network` (site setting "Apps on
 * device"), apart from `local-network` (other devices); `local-network-access` is the older name.
 */
export async function localAccessPermission(): Promise<PermissionState | 'unknown'> {
  // Only secure pages can ask; elsewhere Chromium reports "denied" whatever the cause of a failure.
  if (!window.isSecureContext) return 'unknown';
  const names = ['loopback-network', 'local-network-access', 'local-network'];
  for (const name of names) {
    try {
      const st = await navigator.permissions.query({ name: name as PermissionName });
      return st.state;
    } catch {
      // this browser does not know the name
    }
  }
  return 'unknown';
}

export class AgentClient {
  readonly base: string;
  readonly origin: string;

  constructor(url: string) {
    this.origin = agentOrigin(url);
    this.base = this.origin;
  }

  private async call<T>(method: string, path: string, o: { body?: unknown; token?: string } = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (o.body !== undefined) headers['Content-Type'] = 'application/json';
    if (o.token) headers.Authorization = `Bearer ${o.token}`;
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        mode: 'cors',
        credentials: 'omit',
        cache: 'no-store',
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
      });
    } catch (e) {
      throw new AgentError(0, 'unreachable', (e as Error).message);
    }
    const text = await res.text();
    let data: Record<string, unknown> = {};
    try {
      data = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      data = {};
    }
    if (!res.ok && res.status !== 202) {
      throw new AgentError(
        res.status,
        typeof data.error === 'string' ? data.error : `http_${res.status}`,
        typeof data.message === 'string' ? data.message : res.statusText,
        data,
      );
    }
    return data as T;
  }

  /** GET /v1: which assistant this is; `version` is missing from assistants before 0.1.0's packaging. */
  info(): Promise<{ name: string; apiVersion: number; version?: string }> {
    return this.call('GET', '/v1');
  }

  async tokens(): Promise<TokenSummary[]> {
    return (await this.call<{ tokens: TokenSummary[] }>('GET', '/v1/tokens')).tokens;
  }

  async certificates(tokenId: string): Promise<KeyCertificate[]> {
    return (await this.call<{ certificates: KeyCertificate[] }>('GET', `/v1/tokens/${encodeURIComponent(tokenId)}/certificates`))
      .certificates;
  }

  /** The electronic seals on a key (no PIN). */
  async seals(tokenId: string): Promise<SealView[]> {
    return (await this.call<{ seals: SealView[] }>('GET', `/v1/tokens/${encodeURIComponent(tokenId)}/seals`)).seals;
  }

  /** Every inserted key with its certificates (a key that cannot be read is listed without any). */
  async allCertificates(): Promise<{ token: TokenSummary; certificates: KeyCertificate[] }[]> {
    const tokens = await this.tokens();
    return Promise.all(
      tokens.map(async (token) => {
        try {
          return { token, certificates: await this.certificates(token.id) };
        } catch {
          return { token, certificates: [] };
        }
      }),
    );
  }

  /** The key (and its object id) holding the certificate with this serial, if inserted. */
  async findCertificate(serial: string): Promise<{ token: TokenSummary; certificate: KeyCertificate } | undefined> {
    const want = normalizeSerial(serial);
    for (const { token, certificates } of await this.allCertificates()) {
      const c = certificates.find((x) => normalizeSerial(x.serial) === want);
      if (c) return { token, certificate: c };
    }
    return undefined;
  }

  createRequest(body: Record<string, unknown>): Promise<CreatedRequest> {
    return this.call<CreatedRequest>('POST', '/v1/requests', { body });
  }

  request(id: string, token: string): Promise<RequestView> {
    return this.call<RequestView>('GET', `/v1/requests/${encodeURIComponent(id)}`, { token });
  }

  cancelRequest(id: string, token: string): Promise<RequestView> {
    return this.call<RequestView>('DELETE', `/v1/requests/${encodeURIComponent(id)}`, { token });
  }

  /** The renewal journal for an order on this computer, or undefined when there is none. */
  async renewal(orderId: string): Promise<RenewalView | undefined> {
    try {
      return await this.call<RenewalView>('GET', `/v1/renewals/${encodeURIComponent(orderId)}`);
    } catch (e) {
      if (e instanceof AgentError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** This portal's renewal journals on this computer (the assistant lists only the calling origin's). */
  async renewals(): Promise<RenewalView[]> {
    return (await this.call<{ renewals: RenewalView[] }>('GET', '/v1/renewals')).renewals;
  }

  postCertificate(
    orderId: string,
    token: string,
    certificate: string,
    encryption?: EncryptionDelivery,
    /** 印章更新: the seals re-made for the new certificate (base64 SESeal DER) */
    seals: string[] = [],
  ): Promise<RenewalView & { approvalRequired: boolean }> {
    return this.call('POST', `/v1/renewals/${encodeURIComponent(orderId)}/certificate`, {
      token,
      body: { certificate, ...(encryption ? { encryption } : {}), ...(seals.length ? { seals } : {}) },
    });
  }

  confirm(orderId: string, token: string): Promise<RenewalView & { approvalRequired: boolean }> {
    return this.call('POST', `/v1/renewals/${encodeURIComponent(orderId)}/confirm`, { token, body: {} });
  }

  eventsUrl(): string {
    return `${this.base}/v1/events`;
  }
}

export const normalizeSerial = (s: string): string =>
  s
    .replace(/[^0-9a-f]/gi, '')
    .replace(/^0+/, '')
    .toUpperCase();

// -------------------------------------------------------------------------------------------------
// The approval window

let lastPopup: Window | null = null;

function popupFeatures(): string {
  const w = 520;
  const h = 640;
  const left = Math.max(0, Math.round(window.screenX + (window.outerWidth - w) / 2));
  const top = Math.max(0, Math.round(window.screenY + (window.outerHeight - h) / 2));
  return `popup=yes,width=${w},height=${h},left=${left},top=${top}`;
}

/** Opens a fresh window (an old one from an earlier request is closed first: one at a time). */
function openPopup(url: string): Window | null {
  try {
    if (lastPopup && !lastPopup.closed) lastPopup.close();
  } catch {
    // ignore
  }
  lastPopup = window.open(url, `certdesk-agent-${Date.now().toString(36)}`, popupFeatures());
  return lastPopup;
}

/** Opens (synchronously, inside the click) a small centred window for the assistant's page. */
export function openApprovalWindow(title: string, text: string): Window | null {
  const popup = openPopup('about:blank');
  if (!popup) return null;
  try {
    popup.document.title = title;
    const p = popup.document.createElement('p');
    p.textContent = text;
    p.style.cssText = 'font: 15px sans-serif; margin: 40px; color: #333';
    popup.document.body.replaceChildren(p);
  } catch {
    // an old window of the assistant's origin is being reused: nothing to write
  }
  return popup;
}

export interface ApprovalWait {
  /** resolves with the finished request (done, failed, denied or expired) */
  done: Promise<RequestView>;
  /** stops waiting and cancels the request on the assistant */
  cancel: () => void;
  /** opens the window from a new click when the first attempt was blocked */
  reopen: () => Window | null;
}

/**
 * Sends the approval window to `req.approveUrl` (reusing `popup` opened earlier in the click) and
 * waits for the outcome: the window's postMessage (checked: origin, source, request id), with a
 * slow poll of the request as a fallback (a message can be lost if the holder reloads the portal).
 */
export function awaitApproval(agent: AgentClient, req: CreatedRequest, popup: Window | null): ApprovalWait {
  const approveOrigin = agentOrigin(req.approveUrl);
  let win = popup;
  if (win) {
    try {
      win.location.href = req.approveUrl;
    } catch {
      win = null;
    }
  }
  let finished = false;
  let cancelled = false;
  let closedSince: number | undefined;
  let resolveFn!: (v: RequestView) => void;
  let rejectFn!: (e: unknown) => void;
  const done = new Promise<RequestView>((resolve, reject) => {
    resolveFn = resolve;
    rejectFn = reject;
  });

  const finish = (v: RequestView | undefined, err?: unknown): void => {
    if (finished) return;
    finished = true;
    window.removeEventListener('message', onMessage);
    window.clearInterval(timer);
    if (err !== undefined) rejectFn(err);
    else resolveFn(v!);
  };

  const check = async (): Promise<void> => {
    if (finished) return;
    try {
      const v = await agent.request(req.requestId, req.sessionToken);
      if (v.status === 'pending' || v.status === 'working') {
        // The holder closed the window without answering: give the message a moment, then cancel.
        if (win && win.closed) {
          closedSince ??= Date.now();
          if (Date.now() - closedSince > 1500) {
            const c = await agent.cancelRequest(req.requestId, req.sessionToken).catch(() => v);
            finish({
              ...c,
              status: c.status === 'pending' ? 'denied' : c.status,
              error: { error: 'closed', message: 'window closed' },
            });
          }
        }
        return;
      }
      finish(v);
    } catch (e) {
      finish(undefined, e);
    }
  };

  const onMessage = (ev: MessageEvent): void => {
    if (ev.origin !== approveOrigin) return;
    if (win && ev.source !== win) return;
    const d = ev.data as { type?: unknown; requestId?: unknown; status?: unknown } | null;
    if (!d || d.type !== 'certdesk-agent' || d.requestId !== req.requestId) return;
    void check();
  };
  window.addEventListener('message', onMessage);
  const timer = window.setInterval(() => void check(), 1500);

  return {
    done,
    cancel: () => {
      if (finished || cancelled) return;
      cancelled = true;
      try {
        win?.close();
      } catch {
        // ignore
      }
      void agent
        .cancelRequest(req.requestId, req.sessionToken)
        .then((v) => finish({ ...v, status: 'denied', error: { error: 'cancelled', message: 'cancelled' } }))
        .catch((e: unknown) => finish(undefined, e));
    },
    reopen: () => {
      win = openPopup(req.approveUrl);
      closedSince = undefined;
      return win;
    },
  };
}

// -------------------------------------------------------------------------------------------------
// Key insertion / removal (Server-Sent Events)

export type KeyEvent =
  { type: 'tokens'; tokens: TokenSummary[] } | { type: 'inserted' | 'removed' | 'changed'; token: TokenSummary };

export function subscribeKeyEvents(agent: AgentClient, onEvent: (e: KeyEvent) => void): () => void {
  let es: EventSource;
  try {
    es = new EventSource(agent.eventsUrl());
  } catch {
    return () => undefined;
  }
  const parse = (ev: MessageEvent): unknown => {
    try {
      return JSON.parse(String(ev.data)) as unknown;
    } catch {
      return undefined;
    }
  };
  es.addEventListener('tokens', (ev) => {
    const d = parse(ev as MessageEvent) as { tokens?: TokenSummary[] } | undefined;
    if (d?.tokens) onEvent({ type: 'tokens', tokens: d.tokens });
  });
  for (const type of ['inserted', 'removed', 'changed'] as const) {
    es.addEventListener(`token-${type}`, (ev) => {
      const d = parse(ev as MessageEvent) as { token?: TokenSummary } | undefined;
      if (d?.token) onEvent({ type, token: d.token });
    });
  }
  return () => es.close();
}
