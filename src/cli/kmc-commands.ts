// `certdesk kmc …`: the key management centre from the shell — its master key (init, status) and
// key recovery by a staff member with the kmc role, who logs in here as in the console (password,
// then a TOTP code; both asked on the terminal, or CERTDESK_STAFF_PASSWORD / CERTDESK_STAFF_TOTP).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { KmcError } from '../kmc/errors.js';
import { KeyManagementCentre, kmcOptionsFrom } from '../kmc/key-management-centre.js';
import { openRuntime, pkcs11Pin } from '../runtime.js';
import { listKmcMasterKeys } from '../sa/kmc-keys.js';
import { StaffAccounts } from '../staff/accounts.js';
import { StaffError } from '../staff/errors.js';
import { StaffKeyRecovery } from '../staff/kmc-recovery.js';
import { action, UsageError } from './errors.js';
import { cliActor, promptHidden, withStorage } from './util.js';

async function secret(envName: string, question: string): Promise<string> {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  return promptHidden(question, `set ${envName}, or run the command in a terminal to be asked`);
}

/** A file we create, never overwrite: an envelope replaces nothing by accident. */
function writeNew(file: string, data: Buffer | string): void {
  try {
    writeFileSync(file, data, { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`--out ${file} exists already; choose a new file`);
    throw new UsageError(`--out ${file}: ${(e as Error).message}`);
  }
}

export function registerKmcCommands(program: Command): void {
  const kmc = program
    .command('kmc')
    .description('the key management centre: escrowed SM2 encryption keys of dual certificates, their master key, key recovery');

  kmc
    .command('init')
    .description(
      'create the KMC master key (KMC_MASTER_KEY_FILE, default DATA_DIR/kmc/master.key) unless it exists; prints its id',
    )
    .action(
      action(async () => {
        await withStorage(async (storage, config) => {
          const before = await listKmcMasterKeys(storage.db);
          const centre = await KeyManagementCentre.open(storage, {
            ...kmcOptionsFrom(config, () => pkcs11Pin(config)),
            create: true,
            actor: cliActor(),
          });
          const id = centre.masterKeyId;
          centre.close();
          const where = config.kmcPkcs11
            ? `${config.kmcMasterKeyFile}, wrapped by AES key ${config.kmcPkcs11.keyLabel} on token ${config.kmcPkcs11.token}`
            : config.kmcMasterKeyFile;
          if (before.some((r) => r.id === id)) process.stdout.write(`KMC master key ${id} exists already (${where})\n`);
          else
            process.stdout.write(
              `KMC master key ${id} created in ${where} (mode 0600)\n` +
                'Back this file up now, apart from the database: escrowed keys cannot be recovered without it.\n',
            );
        });
      }),
    );

  kmc
    .command('status')
    .description(
      'the master key id, where it is kept, whether KMC_MASTER_KEY_FILE is the right one, and how many keys are escrowed',
    )
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: { json?: boolean }) => {
        await withStorage(async (storage, config) => {
          let centre: KeyManagementCentre;
          try {
            centre = await KeyManagementCentre.open(storage, {
              ...kmcOptionsFrom(config, () => pkcs11Pin(config)),
              create: false,
            });
          } catch (e) {
            if (e instanceof KmcError) throw new Error(`KMC not usable: ${e.message}`);
            throw e;
          }
          const s = await centre.status();
          centre.close();
          if (o.json) process.stdout.write(`${JSON.stringify({ ...s, masterKeyFile: config.kmcMasterKeyFile })}\n`);
          else
            process.stdout.write(
              `master key: ${s.masterKeyId} (SM4, ${s.storage}) — matches the escrow store\n` +
                `escrowed keys: ${s.escrowed}${s.escrowedTotal !== s.escrowed ? ` (${s.escrowedTotal} in the store in all)` : ''}\n`,
            );
        });
      }),
    );

  kmc
    .command('recover')
    .description(
      'key recovery: the escrowed key of an encryption certificate in a new SM2 envelope to the holder’s current SM2 signing certificate; ' +
        'for staff with the kmc role (password and TOTP code asked, or CERTDESK_STAFF_PASSWORD / CERTDESK_STAFF_TOTP); audited',
    )
    .requiredOption('--serial <hex>', 'serial of the encryption certificate')
    .requiredOption('--to <file>', 'the holder’s current SM2 signing certificate (PEM or DER), issued here')
    .requiredOption('--reason <text>', 'why the key is recovered (kept in the audit log)')
    .requiredOption('--staff <username>', 'your staff account (kmc role)')
    .requiredOption('--out <file>', 'where to write the SM2EnvelopedKey (a new file, mode 0600)')
    .option('--format <format>', 'der or base64', 'der')
    .action(
      action(async (o: { serial: string; to: string; reason: string; staff: string; out: string; format: string }) => {
        if (o.format !== 'der' && o.format !== 'base64')
          throw new UsageError(`--format must be der or base64, got ${JSON.stringify(o.format)}`);
        if (!o.reason.trim()) throw new UsageError('--reason must say why the key is recovered');
        // Checked before anything is recovered (and audited); writeNew refuses it again at the end.
        if (existsSync(o.out)) throw new UsageError(`--out ${o.out} exists already; choose a new file`);
        let target: Buffer;
        try {
          target = readFileSync(o.to);
        } catch (e) {
          throw new UsageError(`--to ${o.to}: ${(e as Error).message}`);
        }
        const password = await secret('CERTDESK_STAFF_PASSWORD', `password of ${o.staff}: `);
        const code = await secret('CERTDESK_STAFF_TOTP', 'TOTP code: ');
        const rt = await openRuntime(loadConfig());
        const accounts = new StaffAccounts(rt);
        let token: string | undefined;
        try {
          const pending = await accounts.loginPassword(o.staff, password, null);
          const { token: full, context } = await accounts.loginTotp(pending.token, code.trim(), null);
          token = full;
          const r = await new StaffKeyRecovery(rt).recover(context, {
            serial: o.serial,
            signingCertificate: target,
            reason: o.reason,
          });
          writeNew(o.out, o.format === 'der' ? r.envelope : `${r.envelope.toString('base64')}\n`);
          process.stdout.write(
            `recovered ${r.keyId} (encryption certificate ${r.encryption.serial}) to signing certificate ${r.signing.serial}: ${o.out}\n`,
          );
          await accounts.logout(token, context);
        } catch (e) {
          if (token) await accounts.logout(token).catch(() => undefined);
          if (e instanceof StaffError) throw new Error(e.message);
          throw e;
        } finally {
          await rt.close();
        }
      }),
    );
}
