// The key assistant (协卡助手) itself, without HTTP: tokens, approval requests, the renewal journal.
// server/app.ts puts the local API and the assistant's own pages in front of it.
import { closeAllModules } from '../pkcs11/index.js';
import { describeAll, type CertificateView } from './cert-info.js';
import { AgentError, toAgentError } from './errors.js';
import { JournalStore, type RenewalStep } from './install/journal.js';
import { defaultJournalDirs } from './install/journal-dirs.js';
import { RenewalEngine, renewalView, checkOrderId, type RenewalView } from './install/renewal.js';
import { certificateFromText, EncryptionPart, encryptionFromBody, OP_SPECS, parseBody, SealsPart, sealsFromBody } from './ops.js';
import { isOp, PinGuard, RenewalSessions, RequestStore, OPS, type ApprovalRequest } from './sessions.js';
import {
  SEAL_APPLICATION,
  TokenError,
  type ObjectSummary,
  type StoredData,
  type TokenDriver,
  type TokenSession,
  type TokenSummary,
} from './tokens/driver.js';
import { describeSeals, type SealView } from './seals.js';
import { Pkcs11Driver } from './tokens/pkcs11-driver.js';
import { TokenRegistry } from './tokens/registry.js';
import { SoftTokenDriver } from './tokens/soft-driver.js';
import { z } from 'zod';

export const DEFAULT_AGENT_PORT = 51234;

export interface AgentOptions {
  pkcs11Modules: string[];
  softTokens: string[];
  /** one directory for every key's renewal journals; unset: each key's own (install/journal-dirs.ts) */
  journalDir?: string;
  /** where earlier versions kept journals by default: still searched, so nothing in flight is lost */
  legacyJournalDirs?: string[];
  keepOld: boolean;
  /** the CA's own 唯一识别号 extension (its UNIQUE_ID_OID), read before the standard places */
  uniqueIdOid: string | undefined;
  /** token insertion/removal poll interval */
  pollMs: number;
  /** minimum time between two PIN attempts on one key */
  pinIntervalMs: number;
  /** fault injection: SIGKILL this process right after this renewal step is journaled */
  crashAfter?: string;
  log?: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
}

export const defaultAgentOptions = (): AgentOptions => ({
  pkcs11Modules: [],
  softTokens: [],
  keepOld: false,
  uniqueIdOid: undefined,
  pollMs: 1000,
  pinIntervalMs: 1000,
});

const PIN = z.string().min(1, 'is empty').max(64, 'is longer than 64 characters');

export class Agent {
  readonly registry: TokenRegistry;
  readonly engine: RenewalEngine;
  readonly requests = new RequestStore();
  readonly renewals = new RenewalSessions();
  private readonly pinGuard: PinGuard;

  constructor(readonly options: AgentOptions) {
    const drivers: TokenDriver[] = [];
    if (options.pkcs11Modules.length > 0) drivers.push(new Pkcs11Driver(options.pkcs11Modules));
    if (options.softTokens.length > 0) drivers.push(new SoftTokenDriver(options.softTokens));
    this.registry = new TokenRegistry(drivers, options.pollMs);
    this.pinGuard = new PinGuard(options.pinIntervalMs);
    const crashAfter = options.crashAfter;
    const journals =
      options.journalDir !== undefined
        ? new JournalStore(options.journalDir)
        : new JournalStore(defaultJournalDirs({ softTokens: options.softTokens, legacy: options.legacyJournalDirs }));
    this.engine = new RenewalEngine(journals, {
      keepOld: options.keepOld,
      afterStep: (step: RenewalStep, j) => {
        options.log?.('info', 'renewal step done', { orderId: j.orderId, step });
        // Fault injection for the tests: die as abruptly as a pulled plug, right after the journal write.
        if (crashAfter === step) process.kill(process.pid, 'SIGKILL');
      },
    });
  }

  async start(): Promise<void> {
    await this.registry.refresh();
    for (const p of this.problems()) this.options.log?.('warn', 'cannot use a key source', p);
    this.registry.start();
  }

  /** PKCS#11 modules that do not load and soft token files that cannot be read. */
  problems(): { source: string; message: string }[] {
    return this.registry.drivers.flatMap((d) => [...d.problems].map(([source, message]) => ({ source, message })));
  }

  // -------------------------------------------------------------------------------------------
  // Reading (no PIN)

  tokens(): Promise<TokenSummary[]> {
    return this.registry.refresh();
  }

  async token(tokenId: string): Promise<{ driver: TokenDriver; token: TokenSummary }> {
    try {
      return await this.registry.get(tokenId);
    } catch (e) {
      throw toAgentError(e);
    }
  }

  async certificates(tokenId: string): Promise<CertificateView[]> {
    const { driver } = await this.token(tokenId);
    try {
      return describeAll(await driver.readCertificates(tokenId), { uniqueIdOid: this.options.uniqueIdOid });
    } catch (e) {
      throw toAgentError(e);
    }
  }

  /** The seal data objects on a key, without a PIN. */
  async sealData(tokenId: string): Promise<StoredData[]> {
    const { driver } = await this.token(tokenId);
    try {
      return await driver.readData(tokenId, SEAL_APPLICATION);
    } catch (e) {
      throw toAgentError(e);
    }
  }

  /** GET /v1/tokens/:id/seals: every seal on the key, with the certificate it is bound to. */
  async seals(tokenId: string): Promise<SealView[]> {
    const { driver } = await this.token(tokenId);
    try {
      return describeSeals(await driver.readData(tokenId, SEAL_APPLICATION), await driver.readCertificates(tokenId));
    } catch (e) {
      throw toAgentError(e);
    }
  }

  async publicObjects(tokenId: string): Promise<ObjectSummary[]> {
    const { driver } = await this.token(tokenId);
    try {
      return await driver.listPublicObjects(tokenId);
    } catch (e) {
      throw toAgentError(e);
    }
  }

  renewal(orderId: string, origin: string | undefined): RenewalView {
    const j = this.engine.get(checkOrderId(orderId));
    if (!j) throw new AgentError(404, 'renewal_not_found', `no renewal for order ${orderId} on this computer`);
    if (origin !== undefined) this.engine.checkOwner(j, origin);
    return renewalView(j);
  }

  renewalList(origin: string | undefined): RenewalView[] {
    return this.engine.store
      .list()
      .filter((j) => origin === undefined || j.origin === origin)
      .map(renewalView);
  }

  // -------------------------------------------------------------------------------------------
  // Approval requests

  async createRequest(origin: string, body: unknown): Promise<{ request: ApprovalRequest; sessionToken: string }> {
    const b = parseBody(z.object({ op: z.string(), tokenId: z.string().min(1).max(128) }).loose(), body);
    if (!isOp(b.op)) throw new AgentError(400, 'invalid_request', `op must be one of ${OPS.join(', ')}`, { field: 'op' });
    const spec = OP_SPECS[b.op];
    const { token } = await this.token(b.tokenId);
    // Refused before the holder is asked: nothing a page does can spend the last PIN try.
    this.pinRefusal(token);
    const { params, display } = await spec.prepare(body, { agent: this, origin, token });
    return this.requests.create({ origin, op: b.op, tokenId: token.id, params, display });
  }

  private pinRefusal(token: TokenSummary): void {
    if (token.pin.locked || token.pin.finalTry || token.pin.retriesLeft === 1) {
      // PinGuard.check raises the right error for these two cases without counting an attempt.
      new PinGuard(0).check(token);
    }
  }

  /** What the approval page shows. */
  async pageInfo(id: string, approvalKey: unknown): Promise<Record<string, unknown>> {
    const r = this.requests.forPage(id, approvalKey);
    let token: TokenSummary | undefined;
    try {
      token = (await this.registry.get(r.tokenId)).token;
    } catch {
      token = undefined;
    }
    let refusal: { error: string; message: string } | undefined;
    if (!token) refusal = { error: 'token_not_present', message: 'insert the key this request is for' };
    else {
      try {
        this.pinRefusal(token);
      } catch (e) {
        const err = toAgentError(e);
        refusal = { error: err.code, message: err.message };
      }
    }
    const spec = OP_SPECS[r.op];
    return {
      requestId: r.id,
      origin: r.origin,
      op: r.op,
      title: spec.title,
      status: r.status,
      expiresAt: new Date(r.expiresAt).toISOString(),
      token: token
        ? { id: token.id, label: token.label, serial: token.serial, kind: token.kind, pin: token.pin }
        : { id: r.tokenId, present: false },
      display: r.display,
      needsNewPin: r.op === 'change-pin',
      refusal: refusal ?? null,
      ...(r.error ? { error: r.error } : {}),
    };
  }

  /** The holder approved on the assistant's page with the PIN: run the operation. */
  async approve(id: string, body: unknown): Promise<{ requestStatus: string }> {
    const b = parseBody(z.object({ key: z.string(), pin: PIN, newPin: PIN.optional() }), body);
    const r = this.requests.forPage(id, b.key);
    if (r.status !== 'pending')
      throw new AgentError(409, 'request_not_pending', `this request is ${r.status}`, { requestStatus: r.status });
    if (r.op === 'change-pin' && b.newPin === undefined)
      throw new AgentError(400, 'invalid_request', 'newPin: required to change the PIN', { field: 'newPin' });
    let driver: TokenDriver;
    let token: TokenSummary;
    try {
      ({ driver, token } = await this.registry.get(r.tokenId));
    } catch {
      throw new AgentError(409, 'token_not_present', 'insert the key this request is for, then try again', {
        requestStatus: 'pending',
      });
    }
    this.pinGuard.check(token);
    r.status = 'working';
    let session: TokenSession | undefined;
    try {
      if (r.op === 'change-pin') {
        await driver.changePin(r.tokenId, b.pin, b.newPin!);
        this.requests.finish(r, 'done', { result: { changed: true } });
      } else {
        session = await driver.openSession(r.tokenId, b.pin);
        const out = await OP_SPECS[r.op].run!(r.params, session, { agent: this, origin: r.origin, token, requestId: r.id });
        if (out.keepSession && r.op === 'renew') {
          await this.renewals.put({
            orderId: String(r.params.orderId),
            tokenId: r.tokenId,
            origin: r.origin,
            session,
            requestId: r.id,
          });
          session = undefined;
        } else if (r.op === 'renew') await this.renewals.end(String(r.params.orderId));
        this.requests.finish(r, 'done', { result: out.result });
      }
      this.options.log?.('info', 'request approved', { requestId: r.id, op: r.op, origin: r.origin, tokenId: r.tokenId });
      return { requestStatus: 'done' };
    } catch (e) {
      const err = toAgentError(e);
      if (err.code === 'pin_incorrect' || err.code === 'pin_invalid') {
        // The holder may try again (the token counts the tries; PinGuard spaces them out).
        r.status = 'pending';
        void this.registry.refresh();
        throw new AgentError(err.status, err.code, err.message, { ...err.details, requestStatus: 'pending' });
      }
      this.requests.finish(r, 'failed', { error: { error: err.code, message: err.message, ...err.details } });
      this.options.log?.('warn', 'request failed', { requestId: r.id, op: r.op, error: err.code });
      throw new AgentError(err.status, err.code, err.message, { ...err.details, requestStatus: 'failed' });
    } finally {
      if (session) await session.close().catch(() => undefined);
    }
  }

  deny(id: string, body: unknown): { requestStatus: string } {
    const b = parseBody(z.object({ key: z.string() }), body);
    const r = this.requests.forPage(id, b.key);
    if (r.status !== 'pending')
      throw new AgentError(409, 'request_not_pending', `this request is ${r.status}`, { requestStatus: r.status });
    this.requests.finish(r, 'denied', { error: { error: 'denied', message: 'the holder declined the request' } });
    return { requestStatus: 'denied' };
  }

  // -------------------------------------------------------------------------------------------
  // Renewal steps the portal drives

  private renewalRequest(origin: string, bearer: string | undefined, orderId: string): ApprovalRequest {
    const r = this.requests.forRequester(bearer, origin);
    if (r.op !== 'renew' || r.params.orderId !== orderId) {
      throw new AgentError(403, 'session_wrong_request', `this session token is not for renewal ${orderId}`);
    }
    if (r.status !== 'done')
      throw new AgentError(409, 'approval_required', 'the holder has not approved this renewal yet', { requestStatus: r.status });
    return r;
  }

  /** Continues with the held session, or says a new approval is needed (after a restart or a timeout). */
  private async continueRenewal(orderId: string): Promise<RenewalView & { approvalRequired: boolean }> {
    let j = this.engine.get(orderId)!;
    const ctx = this.renewals.get(orderId);
    if (!ctx)
      return {
        ...renewalView(j),
        approvalRequired: j.step !== 'old-retired' && j.step !== 'csr-built' && j.step !== 'labels-switched',
      };
    try {
      j = await this.engine.advance(j, ctx.session);
    } catch (e) {
      const err = toAgentError(e);
      if (err.code === 'token_removed' || e instanceof TokenError) await this.renewals.end(orderId);
      throw err;
    }
    if (j.step === 'old-retired') await this.renewals.end(orderId);
    return { ...renewalView(j), approvalRequired: false };
  }

  async postCertificate(
    origin: string,
    bearer: string | undefined,
    orderId: string,
    body: unknown,
  ): Promise<RenewalView & { approvalRequired: boolean }> {
    checkOrderId(orderId);
    this.renewalRequest(origin, bearer, orderId);
    const b = parseBody(
      z.object({ certificate: z.string().max(64 * 1024), encryption: EncryptionPart.optional(), seals: SealsPart.optional() }),
      body,
    );
    const certDer = certificateFromText(b.certificate);
    const encryption = b.encryption && encryptionFromBody(b.encryption);
    const seals = sealsFromBody(b.seals);
    return this.engine.run(orderId, async () => {
      const j = this.engine.get(orderId);
      if (!j) throw new AgentError(404, 'renewal_not_found', `no renewal for order ${orderId}`);
      this.engine.checkOwner(j, origin);
      await this.engine.receiveCertificate(j, certDer, { encryption, seals }, this.renewals.get(orderId)?.session);
      return this.continueRenewal(orderId);
    });
  }

  async confirm(
    origin: string,
    bearer: string | undefined,
    orderId: string,
  ): Promise<RenewalView & { approvalRequired: boolean }> {
    checkOrderId(orderId);
    this.renewalRequest(origin, bearer, orderId);
    return this.engine.run(orderId, async () => {
      const j = this.engine.get(orderId);
      if (!j) throw new AgentError(404, 'renewal_not_found', `no renewal for order ${orderId}`);
      this.engine.checkOwner(j, origin);
      this.engine.confirm(j);
      return this.continueRenewal(orderId);
    });
  }

  // -------------------------------------------------------------------------------------------
  // UKey 管理 page

  async changePinLocal(tokenId: string, body: unknown): Promise<{ changed: true }> {
    const b = parseBody(z.object({ oldPin: PIN, newPin: PIN }), body);
    const { driver, token } = await this.token(tokenId);
    this.pinGuard.check(token);
    try {
      await driver.changePin(tokenId, b.oldPin, b.newPin);
    } catch (e) {
      void this.registry.refresh();
      throw toAgentError(e);
    }
    void this.registry.refresh();
    return { changed: true };
  }

  async close(): Promise<void> {
    this.requests.close();
    await this.renewals.close();
    await this.registry.close();
    closeAllModules();
  }
}
