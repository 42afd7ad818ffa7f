// Configuration from environment variables. Every variable is documented in README.md
// ("Configuration"); this is the only place that reads process.env.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { oidProblem } from '../pki/oids.js';

export interface Config {
  port: number;
  host: string;
  /** processes `certdesk serve` runs on the one port (node:cluster); 1: the server alone, no primary */
  workers: number;
  dataDir: string;
  /** undefined: embedded SQLite at DATA_DIR/certdesk.sqlite */
  databaseUrl: string | undefined;
  /** a PostgreSQL streaming replica of DATABASE_URL for OCSP and CRL reads; undefined: reads go to DATABASE_URL */
  databaseReadUrl: string | undefined;
  publicUrl: string;
  /** base of the URLs written into certificates (CRL DP, AIA OCSP and caIssuers); PKI_URL, else PUBLIC_URL */
  pkiUrl: string;
  logLevel: string;
  /** seconds between scheduled CRL regenerations */
  crlRefreshSeconds: number;
  /** seconds between runs of the scheduled jobs (order housekeeping, responder rotation check, CRL freshness check) */
  jobIntervalSeconds: number;
  /** how long a CRL is valid (nextUpdate − thisUpdate) */
  crlValiditySeconds: number;
  /** CRL shards per issuing CA for certificates issued from now on (each names its shard in its CRL DP) */
  crlShards: number;
  /** OCSP response validity (nextUpdate − thisUpdate) */
  ocspValiditySeconds: number;
  /**
   * the operator's own OID for an extension also carrying the holder's 唯一识别号 (UNIQUE_ID_OID);
   * unset: it is carried in the subject serialNumber (and the GM/T 0015 identity extension) only
   */
  uniqueIdOid: string | undefined;
  /** path to a JSON file of certificate profiles replacing the built-in ones */
  profilesFile: string | undefined;
  /** name of the environment variable holding the PKCS#11 user PIN */
  pkcs11PinEnv: string;
  /** how this server reaches itself (sandbox gateway queries and notifications) */
  internalUrl: string;
  /** web origins allowed to use the portal API (PUBLIC_URL's origin is always allowed) */
  portalOrigins: string[];
  /** addresses (or CIDR ranges) of the TLS proxies in front, whose X-Forwarded-For names the client */
  trustProxy: string[];
  productName: string;
  /** the product name in the English portal */
  productNameEn: string;
  /** the key assistant's base URL as the holder's browser reaches it */
  agentUrl: string;
  portalIdleMinutes: number;
  onlineOrderTtlMinutes: number;
  offlineOrderTtlDays: number;
  revokeSuperseded: boolean;
  /** renewing an SM2 dual pair certifies the old encryption key again instead of a new KMC key */
  reuseEncryptionKey: boolean;
  /** 'on' or 'off' (tests of the active query) */
  sandboxNotify: 'on' | 'off';
  /** directory of the built web app (web/dist) */
  webDir: string | undefined;
  /** staff console: idle timeout of a staff session */
  staffIdleMinutes: number;
  /** staff console: failed logins (password or TOTP) in a row that lock an account */
  staffLockoutThreshold: number;
  /** staff console: how long a locked account stays locked */
  staffLockoutMinutes: number;
  /** font file (TTF/OTF/TTC) for e-invoice PDFs; default: the bundled Noto Sans SC */
  invoiceFont: string | undefined;
  /** 下载中心: directory of the key assistant's packages (npm run package:agent's dist-agent/) */
  agentDownloadsDir: string | undefined;
  /** the oldest key assistant version the portal works with (older: the holder is sent to 下载中心) */
  agentMinVersion: string;
  /** the KMC's SM4 master key (32 hex digits, mode 0600); KMC_MASTER_KEY_FILE, default DATA_DIR/kmc/master.key */
  kmcMasterKeyFile: string;
  /** KMC_PKCS11_MODULE (+ _TOKEN, _KEY_LABEL): an AES key on this token wraps the SM4 master key in kmcMasterKeyFile */
  kmcPkcs11: { module: string; token: string; keyLabel: string } | undefined;
  /** the SMTP server mails go through (smtp:// or smtps://); undefined: e-mail messages wait in the outbox */
  smtpUrl: string | undefined;
  /** the From address of the CA's mails */
  smtpFrom: string;
  /** outbox: the first retry's delay; each further retry waits twice as long (capped at 6 hours) */
  notifyBackoffSeconds: number;
  /** outbox: failed attempts after which a message is dead (staff retry it by hand) */
  notifyMaxAttempts: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Refuses, at start, an OID that Go or GnuTLS could not parse in a certificate (named by its setting). */
export function checkOid(setting: string, oid: string): string {
  const problem = oidProblem(oid);
  if (problem) throw new ConfigError(`${setting}: ${JSON.stringify(oid)} ${problem}; use an OID under your own registered arc`);
  return oid;
}

function intVar(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function listVar(env: NodeJS.ProcessEnv, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function originVar(name: string, v: string): string {
  try {
    const u = new URL(v);
    if (u.origin === v.replace(/\/+$/, '')) return u.origin;
  } catch {
    // fall through
  }
  throw new ConfigError(`${name}: ${JSON.stringify(v)} is not an origin (scheme://host[:port])`);
}

/** An IPv4/IPv6 address or CIDR range (what Fastify's trustProxy takes). */
function addressVar(name: string, v: string): string {
  const [addr, bits, extra] = v.split('/');
  const family = isIP(addr ?? '');
  const max = family === 4 ? 32 : 128;
  if (family && extra === undefined && (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= max))) return v;
  throw new ConfigError(`${name}: ${JSON.stringify(v)} is not an IP address or CIDR range`);
}

function boolVar(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|on|yes)$/i.test(raw)) return true;
  if (/^(0|false|off|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be on or off, got ${JSON.stringify(raw)}`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = intVar(env, 'PORT', 8080, 0, 65535);
  const dataDir = path.resolve(env.DATA_DIR || './data');
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      `DATABASE_URL must start with postgres:// (or be unset for embedded SQLite), got ${JSON.stringify(databaseUrl.split('@').pop())}`,
    );
  }
  const databaseReadUrl = env.DATABASE_READ_URL || undefined;
  if (databaseReadUrl && !/^postgres(ql)?:\/\//.test(databaseReadUrl))
    throw new ConfigError(
      `DATABASE_READ_URL must start with postgres:// (a streaming replica of DATABASE_URL), got ${JSON.stringify(databaseReadUrl.split('@').pop())}`,
    );
  if (databaseReadUrl && !databaseUrl)
    throw new ConfigError('DATABASE_READ_URL is a replica of DATABASE_URL: set DATABASE_URL (the PostgreSQL primary) too');
  const publicUrl = httpUrlVar('PUBLIC_URL', env.PUBLIC_URL || `http://localhost:${port}`);
  // Relying parties fetch CRLs and OCSP over plain http (RFC 5280 §4.2.1.13: https there would need
  // the very status being fetched), so the portal's https origin need not be the certificates' base.
  const pkiUrl = env.PKI_URL ? httpUrlVar('PKI_URL', env.PKI_URL) : publicUrl;
  const uniqueIdOid = env.UNIQUE_ID_OID ? checkOid('UNIQUE_ID_OID', env.UNIQUE_ID_OID) : undefined;
  return {
    port,
    host: env.HOST || '127.0.0.1',
    workers: intVar(env, 'WORKERS', 1, 1, 64),
    dataDir,
    databaseUrl,
    databaseReadUrl,
    publicUrl,
    pkiUrl,
    logLevel: env.LOG_LEVEL || 'info',
    crlRefreshSeconds: intVar(env, 'CRL_REFRESH_SECONDS', 3600, 10, 7 * 86400),
    jobIntervalSeconds: intVar(env, 'JOB_INTERVAL_SECONDS', 60, 1, 3600),
    crlValiditySeconds: intVar(env, 'CRL_VALIDITY_SECONDS', 7 * 86400, 60, 365 * 86400),
    crlShards: intVar(env, 'CRL_SHARDS', 128, 1, 4096),
    ocspValiditySeconds: intVar(env, 'OCSP_VALIDITY_SECONDS', 86400, 60, 30 * 86400),
    uniqueIdOid,
    profilesFile: env.PROFILES_FILE || undefined,
    pkcs11PinEnv: env.PKCS11_PIN_ENV || 'PKCS11_PIN',
    internalUrl: (env.INTERNAL_URL || `http://127.0.0.1:${port}`).replace(/\/+$/, ''),
    portalOrigins: [new URL(publicUrl).origin, ...listVar(env, 'PORTAL_ORIGINS').map((o) => originVar('PORTAL_ORIGINS', o))],
    trustProxy: listVar(env, 'TRUST_PROXY').map((a) => addressVar('TRUST_PROXY', a)),
    productName: env.PRODUCT_NAME || 'UNITrust 证书自助服务系统',
    productNameEn: env.PRODUCT_NAME_EN || 'UNITrust Certificate Self-Service',
    agentUrl: (env.AGENT_URL || 'http://127.0.0.1:51234').replace(/\/+$/, ''),
    portalIdleMinutes: intVar(env, 'PORTAL_IDLE_MINUTES', 15, 1, 24 * 60),
    onlineOrderTtlMinutes: intVar(env, 'ORDER_TTL_MINUTES', 24 * 60, 1, 90 * 24 * 60),
    offlineOrderTtlDays: intVar(env, 'OFFLINE_ORDER_TTL_DAYS', 30, 1, 365),
    revokeSuperseded: boolVar(env, 'REVOKE_SUPERSEDED', true),
    reuseEncryptionKey: boolVar(env, 'REUSE_ENCRYPTION_KEY', false),
    sandboxNotify: boolVar(env, 'SANDBOX_NOTIFY', true) ? 'on' : 'off',
    webDir: env.WEB_DIR || undefined,
    staffIdleMinutes: intVar(env, 'STAFF_IDLE_MINUTES', 30, 1, 24 * 60),
    staffLockoutThreshold: intVar(env, 'STAFF_MAX_FAILURES', 5, 1, 100),
    staffLockoutMinutes: intVar(env, 'STAFF_LOCKOUT_MINUTES', 15, 1, 7 * 24 * 60),
    invoiceFont: env.INVOICE_FONT || undefined,
    agentDownloadsDir: env.AGENT_DOWNLOADS_DIR ? path.resolve(env.AGENT_DOWNLOADS_DIR) : undefined,
    agentMinVersion: versionVar('AGENT_MIN_VERSION', env.AGENT_MIN_VERSION || '0.1.0'),
    kmcMasterKeyFile: path.resolve(env.KMC_MASTER_KEY_FILE || path.join(dataDir, 'kmc', 'master.key')),
    kmcPkcs11: kmcPkcs11Var(env),
    smtpUrl: smtpUrlVar(env.SMTP_URL),
    smtpFrom: env.SMTP_FROM || 'certdesk@localhost',
    notifyBackoffSeconds: intVar(env, 'NOTIFY_BACKOFF_SECONDS', 30, 0, 3600),
    notifyMaxAttempts: intVar(env, 'NOTIFY_MAX_ATTEMPTS', 10, 1, 100),
  };
}

/**
 * The passphrase that encrypts software CA keys: CA_KEY_PASSPHRASE when set, otherwise a random one
 * generated on first use and kept in DATA_DIR/ca-key-passphrase (mode 0600) — the demo's way.
 */
export function caKeyPassphrase(cfg: Config, env: NodeJS.ProcessEnv = process.env): string {
  if (env.CA_KEY_PASSPHRASE) return env.CA_KEY_PASSPHRASE;
  const file = path.join(cfg.dataDir, 'ca-key-passphrase');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(cfg.dataDir, { recursive: true });
    const pass = randomBytes(24).toString('base64url');
    try {
      writeFileSync(file, pass + '\n', { mode: 0o600, flag: 'wx' });
      return pass;
    } catch {
      // another process created it first
      return readFileSync(file, 'utf8').trim();
    }
  }
}

/** A release version MAJOR.MINOR.PATCH, or a ConfigError naming the variable. */
function versionVar(name: string, value: string): string {
  if (!/^\d{1,4}\.\d{1,4}\.\d{1,4}$/.test(value))
    throw new ConfigError(`${name} must be a version like 0.1.0 (MAJOR.MINOR.PATCH), got ${JSON.stringify(value)}`);
  return value;
}

function kmcPkcs11Var(env: NodeJS.ProcessEnv): Config['kmcPkcs11'] {
  if (!env.KMC_PKCS11_MODULE) {
    if (env.KMC_PKCS11_TOKEN) throw new ConfigError('KMC_PKCS11_TOKEN is set but KMC_PKCS11_MODULE (the PKCS#11 library) is not');
    return undefined;
  }
  if (!env.KMC_PKCS11_TOKEN) throw new ConfigError('KMC_PKCS11_MODULE is set: KMC_PKCS11_TOKEN must name the token (its label)');
  return {
    module: env.KMC_PKCS11_MODULE,
    token: env.KMC_PKCS11_TOKEN,
    keyLabel: env.KMC_PKCS11_KEY_LABEL || 'certdesk-kmc-master-wrap',
  };
}

/** An http(s) URL without trailing slashes, or a ConfigError naming the variable. */
function httpUrlVar(name: string, value: string): string {
  const url = value.replace(/\/+$/, '');
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  return url;
}

/** SMTP_URL: smtp:// or smtps://, or a ConfigError (never echoing a password it may contain). */
function smtpUrlVar(value: string | undefined): string | undefined {
  if (!value) return undefined;
  let ok = false;
  try {
    ok = ['smtp:', 'smtps:'].includes(new URL(value).protocol);
  } catch {
    // not a URL
  }
  if (!ok) throw new ConfigError('SMTP_URL must be an smtp:// or smtps:// URL (e.g. smtp://127.0.0.1:2525)');
  return value;
}
