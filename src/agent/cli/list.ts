// Listing keys and their certificates from a command line, as the UKey 管理 page shows them (no PIN):
// `certdesk token list` and the packaged `certdesk-agent list`.
import { Option, type Command } from 'commander';
import { UsageError } from '../../shared/usage-error.js';
import { collect, uniqueIdOidOption } from './options.js';

export interface ListOptions {
  pkcs11Module: string[];
  softToken: string[];
  uniqueIdOid?: string;
  json?: boolean;
}

const pad = (s: string, n: number): string =>
  s + ' '.repeat(Math.max(1, n - [...s].reduce((w, ch) => w + (ch.charCodeAt(0) > 0x2e80 ? 2 : 1), 0)));

export function addListOptions(cmd: Command): Command {
  return cmd
    .option('--pkcs11-module <path>', 'PKCS#11 module of a key vendor (repeatable)', collect, [])
    .option('--soft-token <file>', 'soft token file (repeatable)', collect, [])
    .addOption(
      new Option(
        '--unique-id-oid <oid>',
        "the CA's own 唯一识别号 extension (its UNIQUE_ID_OID), read before the subject serialNumber",
      ).argParser(uniqueIdOidOption),
    )
    .option('--json', 'print JSON instead of text');
}

export async function listTokens(o: ListOptions): Promise<void> {
  if (o.pkcs11Module.length === 0 && o.softToken.length === 0) throw new UsageError('give --pkcs11-module and/or --soft-token');
  const { Pkcs11Driver } = await import('../tokens/pkcs11-driver.js');
  const { SoftTokenDriver } = await import('../tokens/soft-driver.js');
  const { describeAll } = await import('../cert-info.js');
  const { describeTriesLeft } = await import('../tokens/driver.js');
  const { closeAllModules } = await import('../../pkcs11/index.js');
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
      lines.push(`  PIN 剩余次数 tries left: ${tries}${t.pin.locked || t.pin.finalTry ? ` — ${describeTriesLeft(t.pin)}` : ''}`);
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
}
