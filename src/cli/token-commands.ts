// `certdesk token …`: keys (UKeys) from the shell: list them as the UKey 管理 page does, and make
// and maintain soft tokens.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { action, UsageError } from './errors.js';
import { addListOptions, listTokens } from '../agent/cli/list.js';
import { positiveInt, promptHidden } from './util.js';

/** Reads a hidden line from the terminal (no echo). */

/** A PIN from the named environment variable, else asked for twice on the terminal when `confirm`. */
async function readPin(envVar: string | undefined, what: string, confirm = false): Promise<string> {
  if (envVar) {
    const v = process.env[envVar];
    if (!v) throw new UsageError(`environment variable ${envVar} (${what}) is empty or not set`);
    return v;
  }
  const hint = 'pass it in an environment variable (--pin-env)';
  const pin = await promptHidden(`${what}: `, hint);
  if (confirm && (await promptHidden(`${what} (again): `, hint)) !== pin) throw new UsageError(`the two ${what}s differ`);
  return pin;
}

function kdfOption(v: string): 'scrypt' | 'pbkdf2' {
  if (v !== 'scrypt' && v !== 'pbkdf2') throw new UsageError(`--kdf must be scrypt or pbkdf2, got ${JSON.stringify(v)}`);
  return v;
}

export function registerTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('keys (UKeys): list them and their certificates; make and unlock soft tokens');

  addListOptions(
    token.command('list').description('list keys and the certificates on them, as the UKey 管理 page shows them (no PIN needed)'),
  ).action(action(listTokens));

  token
    .command('init-soft')
    .description('create a soft token: a PIN-protected key file (keys encrypted under a key derived from the PIN)')
    .requiredOption('--out <file>', 'the file to create')
    .option('--label <label>', 'token label (1–32 characters)', 'certdesk')
    .option('--pin-env <var>', 'read the user PIN from this environment variable (default: ask)')
    .option('--so-pin-env <var>', 'read an SO PIN (unlocks a locked user PIN) from this environment variable')
    .option('--kdf <kdf>', 'PIN key derivation: scrypt (N=2^15) or pbkdf2 (SHA-256, 600,000 iterations)', kdfOption, 'scrypt')
    .option('--max-retries <n>', 'wrong PINs before the token locks', positiveInt('--max-retries'), 6)
    .option('--force', 'replace the file if it exists')
    .action(
      action(
        async (o: {
          out: string;
          label: string;
          pinEnv?: string;
          soPinEnv?: string;
          kdf: 'scrypt' | 'pbkdf2';
          maxRetries: number;
          force?: boolean;
        }) => {
          const { createSoftToken } = await import('../agent/tokens/soft-token.js');
          const pin = await readPin(o.pinEnv, 'PIN', true);
          const soPin = o.soPinEnv ? await readPin(o.soPinEnv, 'SO PIN') : undefined;
          const info = await tokenCall(() =>
            createSoftToken(o.out, {
              label: o.label,
              pin,
              soPin,
              kdf: o.kdf,
              maxRetries: o.maxRetries,
              overwrite: Boolean(o.force),
            }),
          );
          process.stdout.write(
            `created soft token "${info.label}" serial ${info.serial} in ${info.file} (id soft-${info.serial})\n`,
          );
        },
      ),
    );

  token
    .command('import-soft')
    .description('put an existing private key and its certificate on a soft token (e.g. from the demo CA)')
    .requiredOption('--file <file>', 'the soft token file')
    .requiredOption('--key <pem>', 'PKCS#8 private key (PEM or DER; EC, RSA or SM2, also SEC1 "EC/SM2 PRIVATE KEY")')
    .option('--cert <pem>', 'its certificate (PEM or DER)')
    .option('--label <label>', 'label of the key pair and certificate', 'certdesk')
    .option('--pin-env <var>', 'read the user PIN from this environment variable (default: ask)')
    .action(
      action(async (o: { file: string; key: string; cert?: string; label: string; pinEnv?: string }) => {
        const { importToSoftToken } = await import('../agent/tokens/soft-token.js');
        const pin = await readPin(o.pinEnv, 'PIN');
        const privateKey = await readFile(o.key);
        const certificate = o.cert ? await readFile(o.cert) : undefined;
        const r = await tokenCall(() => importToSoftToken(o.file, { pin, privateKey, certificate, label: o.label }));
        process.stdout.write(
          `imported ${r.key.keyType} key id ${r.key.id}${r.certificateId ? ' with its certificate' : ''} as "${o.label}"\n`,
        );
      }),
    );

  token
    .command('unlock-soft')
    .description('unlock a soft token whose PIN is locked (or reset a forgotten PIN) with its SO PIN')
    .requiredOption('--file <file>', 'the soft token file')
    .option('--so-pin-env <var>', 'read the SO PIN from this environment variable (default: ask)')
    .option('--pin-env <var>', 'read the new user PIN from this environment variable (default: ask)')
    .action(
      action(async (o: { file: string; soPinEnv?: string; pinEnv?: string }) => {
        const { SoftToken } = await import('../agent/tokens/soft-token.js');
        const soPin = await readPin(o.soPinEnv, 'SO PIN');
        const pin = await readPin(o.pinEnv, 'new PIN', true);
        await tokenCall(() => new SoftToken(o.file).unlock(soPin, pin));
        process.stdout.write('the PIN is unlocked and set to the new PIN\n');
      }),
    );
}

/** Token errors become one-line CLI errors. */
async function tokenCall<T>(fn: () => Promise<T>): Promise<T> {
  const { TokenError } = await import('../agent/tokens/driver.js');
  try {
    return await fn();
  } catch (e) {
    if (e instanceof TokenError) throw new Error(e.message);
    throw e;
  }
}
