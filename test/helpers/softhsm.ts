// Throwaway SoftHSM2 tokens for tests. SoftHSM reads SOFTHSM2_CONF when the module is initialized
// and does not notice tokens created afterwards, so this helper owns the process-wide env var and
// re-initializes the module whenever the token set changes. One instance per process at a time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closeModule } from '../../src/pkcs11/module.js';

export const SOFTHSM_MODULE = process.env.SOFTHSM2_MODULE || '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  label: string;
  pin: string;
  soPin: string;
  serial: string;
}

export interface SoftHsm {
  /** path of the PKCS#11 module */
  module: string;
  /** label, PIN and SO PIN of the first token */
  token: string;
  pin: string;
  soPin: string;
  /** all tokens, in creation order */
  tokens: SoftHsmToken[];
  /** the softhsm2.conf path (SOFTHSM2_CONF) */
  conf: string;
  /** temp directory holding conf and tokens */
  dir: string;
  /** environment for child processes (pkcs11-tool, softhsm2-util, openssl) */
  env: NodeJS.ProcessEnv;
  /** Initializes another token; the module is finalized so the next open sees it. */
  addToken(label: string, opts?: { pin?: string; soPin?: string }): SoftHsmToken;
  /** Runs pkcs11-tool against this module and returns stdout (throws with stderr on failure). */
  pkcs11Tool(args: string[]): string;
  /** Finalizes the module, restores SOFTHSM2_CONF and deletes the tokens. Idempotent. */
  cleanup(): Promise<void>;
}

export interface SoftHsmOptions {
  /** tokens to create; default one token labelled "test" */
  tokens?: (string | { label: string; pin?: string; soPin?: string })[];
  /** default user PIN for tokens without their own */
  pin?: string;
  /** default SO PIN for tokens without their own */
  soPin?: string;
}

let active: SoftHsm | undefined;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args[0] ?? ''} failed: ${err.stderr || err.stdout || err.message}`);
  }
}

/** Serial number of the token with `label`, from `softhsm2-util --show-slots`. */
function serialOf(label: string, env: NodeJS.ProcessEnv): string {
  const out = run('softhsm2-util', ['--show-slots'], env);
  for (const block of out.split(/^Slot /m)) {
    const l = /^\s*Label:\s*(.*?)\s*$/m.exec(block)?.[1];
    if (l === label) return /^\s*Serial number:\s*(\S*)/m.exec(block)?.[1] ?? '';
  }
  throw new Error(`softhsm2-util does not list token "${label}"`);
}

export function createSoftHsm(opts: SoftHsmOptions = {}): SoftHsm {
  if (active) throw new Error('a SoftHSM test environment is already active in this process; cleanup() it first');
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-softhsm-'));
  const tokenDir = path.join(dir, 'tokens');
  mkdirSync(tokenDir, { mode: 0o700 });
  const conf = path.join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  const previousConf = process.env.SOFTHSM2_CONF;
  const env: NodeJS.ProcessEnv = { ...process.env, SOFTHSM2_CONF: conf };
  const defaults = { pin: opts.pin ?? '123456', soPin: opts.soPin ?? '12345678' };
  const tokens: SoftHsmToken[] = [];

  const addToken = (label: string, t: { pin?: string; soPin?: string } = {}): SoftHsmToken => {
    const pin = t.pin ?? defaults.pin;
    const soPin = t.soPin ?? defaults.soPin;
    run('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', pin], env);
    const token = { label, pin, soPin, serial: serialOf(label, env) };
    tokens.push(token);
    closeModule(SOFTHSM_MODULE);
    return token;
  };

  try {
    // The module must see this conf when it is next initialized; a module still loaded from an
    // earlier environment is finalized by addToken.
    process.env.SOFTHSM2_CONF = conf;
    for (const t of opts.tokens ?? ['test']) {
      if (typeof t === 'string') addToken(t);
      else addToken(t.label, t);
    }
  } catch (e) {
    process.env.SOFTHSM2_CONF = previousConf;
    if (previousConf === undefined) delete process.env.SOFTHSM2_CONF;
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const first = tokens[0];
  if (!first) throw new Error('createSoftHsm needs at least one token');

  let done = false;
  const hsm: SoftHsm = {
    module: SOFTHSM_MODULE,
    token: first.label,
    pin: first.pin,
    soPin: first.soPin,
    tokens,
    conf,
    dir,
    env,
    addToken,
    pkcs11Tool: (args) => run('pkcs11-tool', ['--module', SOFTHSM_MODULE, ...args], env),
    cleanup() {
      if (done) return Promise.resolve();
      done = true;
      closeModule(SOFTHSM_MODULE);
      if (previousConf === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previousConf;
      rmSync(dir, { recursive: true, force: true });
      active = undefined;
      return Promise.resolve();
    },
  };
  active = hsm;
  return hsm;
}
