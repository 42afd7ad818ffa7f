// PKCS#11 modules, tokens and sessions over graphene-pk11. Shared by the CA signer and the key
// assistant's token driver: several modules and tokens per process, sessions that serialize their
// own operations, and login bookkeeping so one holder closing its session does not log out another.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { endianness } from 'node:os';
import * as graphene from 'graphene-pk11';
import { Pkcs11Error, toPkcs11Error, wrap } from './errors.js';

export interface TokenFlags {
  initialized: boolean;
  loginRequired: boolean;
  userPinInitialized: boolean;
  writeProtected: boolean;
  /** PIN entry happens on the device (PIN pad); C_Login takes no PIN */
  protectedAuthenticationPath: boolean;
  userPinCountLow: boolean;
  userPinFinalTry: boolean;
  userPinLocked: boolean;
  userPinToBeChanged: boolean;
  soPinCountLow: boolean;
  soPinFinalTry: boolean;
  soPinLocked: boolean;
}

export interface TokenInfo {
  /** slot ID as a decimal string (what `pkcs11-tool --slot` takes) */
  slotId: string;
  slotDescription: string;
  /** the slot takes removable devices (USB tokens, card readers) */
  removable: boolean;
  label: string;
  serial: string;
  manufacturer: string;
  model: string;
  minPinLength: number;
  maxPinLength: number;
  flags: TokenFlags;
}

/** A token by label, or by label and/or serial (two tokens of one make often share a default label). */
export type TokenSelector = string | { label?: string; serial?: string };

export interface ModuleInfo {
  path: string;
  manufacturer: string;
  description: string;
  libraryVersion: string;
  cryptokiVersion: string;
}

/** Runs tasks one after another; a failed task does not block the ones behind it. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const p = this.tail.then(fn);
    this.tail = p.catch(() => undefined);
    return p;
  }
}

const CKF_OS_LOCKING_OK = 0x2;

// A keyed hash of the PIN each token was logged in with, so a later login that the module waves
// through (CKR_USER_ALREADY_LOGGED_IN) is still checked. The key never leaves this process.
const pinKey = randomBytes(32);
const pinDigest = (pin: string): Buffer => createHmac('sha256', pinKey).update(pin, 'utf8').digest();

function handleToString(h: Buffer): string {
  if (h.length === 8) return (endianness() === 'LE' ? h.readBigUInt64LE() : h.readBigUInt64BE()).toString();
  if (h.length === 4) return String(endianness() === 'LE' ? h.readUInt32LE() : h.readUInt32BE());
  return h.toString('hex');
}

function tokenFlags(f: number): TokenFlags {
  const F = graphene.TokenFlag;
  const has = (bit: number): boolean => (f & bit) !== 0;
  return {
    initialized: has(F.TOKEN_INITIALIZED),
    loginRequired: has(F.LOGIN_REQUIRED),
    userPinInitialized: has(F.USER_PIN_INITIALIZED),
    writeProtected: has(F.WRITE_PROTECTED),
    protectedAuthenticationPath: has(F.PROTECTED_AUTHENTICATION_PATH),
    userPinCountLow: has(F.USER_PIN_COUNT_LOW),
    userPinFinalTry: has(F.USER_PIN_FINAL_TRY),
    userPinLocked: has(F.USER_PIN_LOCKED),
    userPinToBeChanged: has(F.USER_PIN_TO_BE_CHANGED),
    soPinCountLow: has(F.SO_PIN_COUNT_LOW),
    soPinFinalTry: has(F.SO_PIN_FINAL_TRY),
    soPinLocked: has(F.SO_PIN_LOCKED),
  };
}

function tokenInfo(slot: graphene.Slot): TokenInfo {
  const t = slot.getToken();
  return {
    slotId: handleToString(slot.handle),
    slotDescription: slot.slotDescription,
    removable: (slot.flags & graphene.SlotFlag.REMOVABLE_DEVICE) !== 0,
    label: t.label,
    serial: t.serialNumber,
    manufacturer: t.manufacturerID,
    model: t.model,
    minPinLength: t.minPinLen,
    maxPinLength: t.maxPinLen,
    flags: tokenFlags(t.flags),
  };
}

const describe = (sel: TokenSelector): string =>
  typeof sel === 'string'
    ? `token "${sel}"`
    : [sel.label !== undefined && `token "${sel.label}"`, sel.serial !== undefined && `serial ${sel.serial}`]
        .filter(Boolean)
        .join(' ') || 'token';

const modules = new Map<string, Pkcs11Module>();

/**
 * One instance per library file: two paths to the same library (a symlink and its target) must not
 * become two instances, as finalizing one would finalize the other under it.
 */
function cacheKey(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path; // a bare library name resolved by the dynamic loader, or a missing file (load reports it)
  }
}

export class Pkcs11Module {
  readonly info: ModuleInfo;
  /** Used instead of per-session queues when the module cannot lock for itself (see initialize). */
  readonly globalQueue: SerialQueue | undefined;
  private readonly sessions = new Set<TokenSession>();
  /** per slot, how many of our sessions are logged in (C_Logout only when the last one closes) and with which PIN */
  private readonly logins = new Map<string, { count: number; pin: Buffer }>();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly key: string,
    private readonly mod: graphene.Module,
    threadSafe: boolean,
  ) {
    this.globalQueue = threadSafe ? undefined : new SerialQueue();
    const v = (x: { major: number; minor: number }): string => `${x.major}.${x.minor}`;
    this.info = {
      path,
      manufacturer: mod.manufacturerID,
      description: mod.libraryDescription,
      libraryVersion: v(mod.libraryVersion),
      cryptokiVersion: v(mod.cryptokiVersion),
    };
  }

  /** Loads and initializes the module at `path`, or returns the instance already loaded in this process. */
  static open(path: string): Pkcs11Module {
    const key = cacheKey(path);
    const hit = modules.get(key);
    if (hit) return hit;
    let mod: graphene.Module;
    try {
      mod = graphene.Module.load(path, path);
    } catch (e) {
      throw new Pkcs11Error(`cannot load PKCS#11 module ${path}: ${(e as Error).message}`, 'MODULE_LOAD_FAILED');
    }
    // Signing runs on libuv worker threads, so ask the module to lock for itself; a module that
    // cannot (CKR_CANT_LOCK) gets all its calls serialized through one queue instead.
    let threadSafe = true;
    try {
      mod.initialize({ flags: CKF_OS_LOCKING_OK });
    } catch (e) {
      try {
        if (!/CKR_CANT_LOCK/.test((e as Error).message)) throw e;
        threadSafe = false;
        mod.initialize();
      } catch (e2) {
        try {
          mod.close();
        } catch {
          // already failing; the initialize error is the one to report
        }
        throw toPkcs11Error(e2, `initializing PKCS#11 module ${path}`);
      }
    }
    const m = new Pkcs11Module(path, key, mod, threadSafe);
    modules.set(key, m);
    return m;
  }

  /** Slots with a token present, including uninitialized tokens (flags.initialized false). */
  listTokens(): TokenInfo[] {
    this.assertOpen();
    const out: TokenInfo[] = [];
    for (const slot of this.slots()) {
      try {
        out.push(tokenInfo(slot));
      } catch {
        // a slot whose token cannot be read (not recognized, removed meanwhile) is not listed
      }
    }
    return out;
  }

  /** Finds exactly one token matching `sel`; throws TOKEN_NOT_FOUND or TOKEN_AMBIGUOUS. */
  findToken(sel: TokenSelector): { slot: graphene.Slot; token: TokenInfo } {
    this.assertOpen();
    const want = typeof sel === 'string' ? { label: sel } : sel;
    if (want.label === undefined && want.serial === undefined) {
      throw new Pkcs11Error('a token label or serial is required', 'INVALID_ARGUMENT');
    }
    const hits: { slot: graphene.Slot; token: TokenInfo }[] = [];
    const seen: string[] = [];
    for (const slot of this.slots()) {
      let token: TokenInfo;
      try {
        token = tokenInfo(slot);
      } catch {
        continue;
      }
      if (token.flags.initialized) seen.push(`"${token.label}" (serial ${token.serial})`);
      if (
        (want.label === undefined || token.label === want.label) &&
        (want.serial === undefined || token.serial === want.serial)
      ) {
        hits.push({ slot, token });
      }
    }
    const [first, second] = hits;
    if (!first) {
      throw new Pkcs11Error(
        `${describe(sel)} not found in PKCS#11 module ${this.path}; tokens present: ${seen.join(', ') || 'none'}`,
        'TOKEN_NOT_FOUND',
      );
    }
    if (second) {
      throw new Pkcs11Error(
        `${describe(sel)} is ambiguous in ${this.path}: ${hits.length} tokens match (serials ${hits.map((h) => h.token.serial).join(', ')}); select by serial`,
        'TOKEN_AMBIGUOUS',
      );
    }
    return first;
  }

  /** Opens a session (read/write unless readOnly) on one token. Log in with `session.login(pin)`. */
  openSession(sel: TokenSelector, opts: { readOnly?: boolean } = {}): TokenSession {
    const { slot, token } = this.findToken(sel);
    const flags = graphene.SessionFlag.SERIAL_SESSION | (opts.readOnly ? 0 : graphene.SessionFlag.RW_SESSION);
    const raw = wrap(`opening a session on token "${token.label}"`, () => slot.open(flags));
    const s = new TokenSession(this, raw, slot, token, {
      pinMatches: (pin) => {
        const known = this.logins.get(token.slotId);
        return !known || timingSafeEqual(known.pin, pinDigest(pin));
      },
      onLogin: (pin, fresh) => {
        const known = this.logins.get(token.slotId);
        if (!known) this.logins.set(token.slotId, { count: 1, pin: pinDigest(pin) });
        else {
          known.count++;
          // a fresh login (e.g. after the token was re-inserted) is the one the token checked
          if (fresh) known.pin = pinDigest(pin);
        }
      },
      onClose: (wasLoggedIn) => {
        this.sessions.delete(s);
        const known = this.logins.get(token.slotId);
        if (!wasLoggedIn || !known) return false;
        if (--known.count > 0) return false;
        this.logins.delete(token.slotId);
        return true;
      },
    });
    this.sessions.add(s);
    return s;
  }

  /** Finalizes and unloads the module; every session opened through it becomes unusable. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    modules.delete(this.key);
    for (const s of this.sessions) s.invalidate();
    this.sessions.clear();
    this.logins.clear();
    try {
      this.mod.finalize();
    } finally {
      this.mod.close();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private slots(): graphene.Slot[] {
    return [...wrap(`listing slots of PKCS#11 module ${this.path}`, () => this.mod.getSlots(true))];
  }

  private assertOpen(): void {
    if (this.closed) throw new Pkcs11Error(`PKCS#11 module ${this.path} was closed`, 'CLOSED');
  }
}

interface SessionHooks {
  /** false when this process is logged in to the token with a different PIN */
  pinMatches(pin: string): boolean;
  /** `fresh`: C_Login succeeded, rather than finding the token already logged in */
  onLogin(pin: string, fresh: boolean): void;
  /** returns true when this was the last logged-in session on its token (so C_Logout is due) */
  onClose(wasLoggedIn: boolean): boolean;
}

export class TokenSession {
  private readonly queue: SerialQueue;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private loggedIn = false;
  private mechs: Set<string> | undefined;

  /** @internal created by Pkcs11Module.openSession */
  constructor(
    readonly module: Pkcs11Module,
    private readonly raw: graphene.Session,
    private readonly slot: graphene.Slot,
    /** the token as it was when the session was opened */
    readonly token: TokenInfo,
    private readonly hooks: SessionHooks,
  ) {
    this.queue = module.globalQueue ?? new SerialQueue();
  }

  get isLoggedIn(): boolean {
    return this.loggedIn;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Runs `fn` with exclusive use of the graphene session. PKCS#11 sessions allow one operation at a
   * time, and signing runs asynchronously, so every use of the session goes through here.
   */
  run<T>(fn: (session: graphene.Session) => T | Promise<T>): Promise<T> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    return this.queue.run(() => {
      if (this.state === 'closed') throw this.closedError();
      return fn(this.raw);
    });
  }

  /**
   * Logs in as the normal user. Login state is per token and application: when another session of
   * this process is already logged in, the module answers CKR_USER_ALREADY_LOGGED_IN without looking
   * at `pin`, so it is compared with the PIN that first login used instead.
   */
  login(pin: string): Promise<void> {
    return this.run((s) => {
      if (this.loggedIn) return;
      const doing = `login to token "${this.token.label}"`;
      let fresh = true;
      try {
        s.login(pin, graphene.UserType.USER);
      } catch (e) {
        fresh = false;
        const err = toPkcs11Error(e, doing, pin);
        if (err.ckr !== 'CKR_USER_ALREADY_LOGGED_IN') throw this.withPinHint(err);
        if (!this.hooks.pinMatches(pin)) {
          throw new Pkcs11Error(
            `${doing} failed: incorrect PIN (differs from the PIN this process is logged in with)`,
            'PIN_INCORRECT',
          );
        }
      }
      this.loggedIn = true;
      this.hooks.onLogin(pin, fresh);
    });
  }

  /** Names of the mechanisms the token supports (graphene names, e.g. "ECDSA_SHA256"); cached. */
  mechanisms(): Promise<Set<string>> {
    return this.run(() => {
      if (!this.mechs) {
        const list = wrap(`listing mechanisms of token "${this.token.label}"`, () => this.slot.getMechanisms());
        const names = new Set<string>();
        for (let i = 0; i < list.length; i++) {
          const m = list.tryGetItem(i);
          if (m) names.add(m.name);
        }
        this.mechs = names;
      }
      return this.mechs;
    });
  }

  /** Current token info (PIN counters change after failed logins). */
  refreshTokenInfo(): TokenInfo {
    return wrap(`reading token "${this.token.label}"`, () => tokenInfo(this.slot));
  }

  /** Waits for queued operations, logs out when no other session of ours is logged in, closes. */
  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    await this.queue
      .run(() => {
        if (this.module.isClosed) return;
        const logout = this.hooks.onClose(this.loggedIn);
        this.loggedIn = false;
        // Errors are ignored: a removed token or a finalized module leaves nothing to release.
        if (logout) {
          try {
            this.raw.logout();
          } catch {
            /* see above */
          }
        }
        try {
          this.raw.close();
        } catch {
          /* see above */
        }
      })
      .finally(() => {
        this.state = 'closed';
      });
  }

  /** @internal the module was finalized under this session */
  invalidate(): void {
    this.state = 'closed';
    this.loggedIn = false;
  }

  private closedError(): Pkcs11Error {
    return new Pkcs11Error(`the session on token "${this.token.label}" is closed`, 'CLOSED');
  }

  private withPinHint(err: Pkcs11Error): Pkcs11Error {
    if (err.code !== 'PIN_INCORRECT') return err;
    try {
      const f = this.refreshTokenInfo().flags;
      const hint = f.userPinLocked
        ? '; the PIN is now locked'
        : f.userPinFinalTry
          ? '; one attempt left before the PIN locks'
          : f.userPinCountLow
            ? '; few attempts left before the PIN locks'
            : '';
      return hint ? new Pkcs11Error(err.message + hint, err.code, err.ckr) : err;
    } catch {
      return err;
    }
  }
}

/** Loads (once per process) and initializes a PKCS#11 module. */
export function openModule(path: string): Pkcs11Module {
  return Pkcs11Module.open(path);
}

/** Finalizes and unloads one module if it is loaded. */
export function closeModule(path: string): void {
  modules.get(cacheKey(path))?.close();
}

/** Finalizes every loaded module (process shutdown, tests). */
export function closeAllModules(): void {
  for (const m of [...modules.values()]) m.close();
}

/** Tokens present in the slots of a module. */
export function listTokens(modulePath: string): TokenInfo[] {
  return openModule(modulePath).listTokens();
}

/** Module + token + optional user login in one step. Close the session when done. */
export async function openTokenSession(opts: {
  module: string;
  token: TokenSelector;
  pin?: string;
  readOnly?: boolean;
}): Promise<TokenSession> {
  const session = openModule(opts.module).openSession(opts.token, { readOnly: opts.readOnly });
  if (opts.pin !== undefined) {
    try {
      await session.login(opts.pin);
    } catch (e) {
      await session.close();
      throw e;
    }
  }
  return session;
}
