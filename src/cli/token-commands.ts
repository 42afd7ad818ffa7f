// `certdesk token …`: keys (UKeys) from the shell: list them as the UKey 管理 page does, and make
// and maintain soft tokens.
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { action, UsageError } from './errors.js';
import { positiveInt, promptHidden, uniqueIdOidOption } from './util.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

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

const pad = (s: string, n: number): string =>
  s + ' '.repeat(Math.max(1, n - [...s].reduce((w, ch) => w + (ch.charCodeAt(0) > 0x2e80 ? 2 : 1), 0)));

export function registerTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('keys (UKeys): list them and their certificates; make and unlock soft tokens');

  token
    .command('list')
    .description('list keys and the certificates on them, as the UKey 管理 page shows them (no PIN needed)')
    .option('--pkcs11-module <path>', 'PKCS#11 module of a key vendor (repeatable)', collect, [])
    .option('--soft-token <file>', 'soft token file (repeatable)', collect, [])
    .addOption(
      new Option(
        '--unique-id-oid <oid>',
        "the CA's own 唯一识别号 extension (its UNIQUE_ID_OID), read before the subject serialNumber",
      ).argParser(uniqueIdOidOption),
    )
    .option('--json', 'print JSON instead of text')
    .action(
      action(async (o: { pkcs11Module: string[]; softToken: string[]; uniqueIdOid?: string; json?: boolean }) => {
        if (o.pkcs11Module.length === 0 && o.softToken.length === 0)
          throw new UsageError('give --pkcs11-module and/or --soft-token');
        const { Pkcs11Driver } = await import('../agent/tokens/pkcs11-driver.js');
        const { SoftTokenDriver } = await import('../agent/tokens/soft-driver.js');
        const { describeAll } = await import('../agent/cert-info.js');
        const { describeTriesLeft } = await import('../agent/tokens/driver.js');
        const { closeAllModules } = await import('../pkcs11/index.js');
        const drivers = [];
        if (o.pkcs11Module.length > 0) drivers.push(new Pkcs11Driver(o.pkcs11Module));
        if (o.softToken.length > 0) drivers.push(new SoftTokenDriver(o.softToken));
        try {
          const out = [];
          for (const d of drivers) {
            for (const t of await d.list()) {
              out.push({ ...t, certificates: describeAll(await d.readCertificates(t.id), { uniqueIdOid: o.uniqueIdOid }) });
            }
            for (const [where, why] of (d as { problems: Map<string, string> }).problems)
              process.stderr.write(`certdesk: ${where}: ${why}\n`);
          }
          if (o.json) {
            process.stdout.write(JSON.stringify({ tokens: out }, null, 2) + '\n');
            return;
          }
          if (out.length === 0) {
            process.stdout.write('no key found (未检测到 UKey)\n');
            return;
          }
          const lines: string[] = [];
          for (const t of out) {
            const tries = t.pin.retriesLeft !== null ? String(t.pin.retriesLeft) : t.pin.locked ? '0 (locked)' : 'unknown';
            lines.push(`UKey「${t.label}」 ${t.kind === 'soft' ? 'soft token' : 'PKCS#11'}  serial ${t.serial}  id ${t.id}`);
            lines.push(
              `  PIN 剩余次数 tries left: ${tries}${t.pin.locked || t.pin.finalTry ? ` — ${describeTriesLeft(t.pin)}` : ''}`,
            );
            if (t.certificates.length === 0) lines.push('  (no certificate 无证书)');
            for (const c of t.certificates) {
              const row = (k: string, v: string): void => void lines.push(`    ${pad(k, 26)}${v}`);
              lines.push(`  证书 certificate  id ${c.id}  label "${c.label}"  [${c.state}]`);
              row(
                '用途 Usage',
                `${c.usage === 'encryption' ? '加密证书 encryption' : '签名证书 signing'}${c.pairedWith ? ` (加密证书 encryption certificate: id ${c.pairedWith})` : ''}`,
              );
              row('名称 Name', c.name);
              row(
                '证书种类 Type',
                c.profile.name ? `${c.profile.name} (${c.profile.nameEn})` : c.profile.policies.join(', ') || 'unknown',
              );
              row('唯一识别号 Unique ID', c.uniqueId ?? '—');
              row('颁发者 Issuer', c.issuerName);
              row('序列号 Serial', c.serial);
              row('有效期 Valid', `${c.dates.notBefore} — ${c.dates.notAfter}`);
              row('剩余天数 Days left', c.expired ? `expired 已过期 (${c.daysLeft})` : String(c.daysLeft));
              row(
                '可否更新 Renewal',
                c.renewal.open
                  ? '可更新 open'
                  : new Date(c.renewal.opensAt) > new Date()
                    ? `not yet 暂不可更新 (opens ${c.dates.renewalOpens})`
                    : 'closed 已超出可更新期限',
              );
            }
          }
          process.stdout.write(lines.join('\n') + '\n');
        } finally {
          for (const d of drivers) await d.close();
          closeAllModules();
        }
      }),
    );

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
