// `certdesk seal …`: electronic seals at a service point (for holders without online access, as
// the seed sends them there) and for operators: issue, list, export, revoke, and verify a seal file.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { parseCertificate, subjectString } from '../pki/certificate.js';
import { derOrPem } from '../pki/pem.js';
import { verifySeal } from '../pki/ses-verify.js';
import { openRuntime } from '../runtime.js';
import { checkSealPng, renderSealPicture } from '../seal/seal-picture.js';
import { action, UsageError } from './errors.js';
import { registerSealSignatureCommand } from './seal-signature-command.js';
import { cliActor, positiveInt } from './util.js';

function readFile(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new UsageError(`${flag} ${file}: ${(e as Error).message}`);
  }
}

const iso = (d: Date | number): string => new Date(d).toISOString();

export function registerSealCommands(program: Command): void {
  const seal = program
    .command('seal')
    .description('electronic seals (GB/T 38540): issue, list, export, revoke, verify seals and signatures made with them');
  registerSealSignatureCommand(seal);

  seal
    .command('issue')
    .description("make a seal bound to a holder's signing certificate (a service point's 印章申请)")
    .requiredOption('--holder-cert <file>', "the holder's signing certificate (PEM or DER) this CA issued")
    .requiredOption(
      '--type <type>',
      'seal type from the catalogue, by name or code (单位公章, 合同专用章, 财务专用章, 发票专用章, 法定代表人名章)',
    )
    .requiredOption('--name <name>', "the seal's name (a 单位公章's is the organisation's name on the certificate)")
    .option(
      '--picture <file.png>',
      'the seal picture: PNG with a transparent background, ≤ 512 KB (default: a generated red round seal)',
    )
    .option('--days <n>', "validity in days (default: the seal type's)", positiveInt('--days'))
    .action(
      action(async (o: { holderCert: string; type: string; name: string; picture?: string; days?: number }) => {
        const rt = await openRuntime(loadConfig());
        try {
          const cert = derOrPem(readFile(o.holderCert, '--holder-cert'), 'CERTIFICATE');
          const type = await rt.storage.db
            .selectFrom('seal_types')
            .selectAll()
            .where((eb) => eb.or([eb('name', '=', o.type), eb('code', '=', o.type)]))
            .executeTakeFirst();
          if (!type) {
            const known = await rt.storage.db.selectFrom('seal_types').select(['name', 'code']).execute();
            throw new UsageError(
              `--type ${o.type}: no such seal type; known: ${known.map((k) => `${k.name} (${k.code})`).join(', ')}`,
            );
          }
          let picture;
          if (o.picture) {
            const png = readFile(o.picture, '--picture');
            checkSealPng(png, '--picture');
            picture = { png, widthMm: 42, heightMm: 42 };
          } else picture = renderSealPicture({ name: o.name, typeLabel: type.name });
          const made = await rt.sealService.makeSeal({
            holderSigningCertDer: cert,
            type: type.name,
            name: o.name,
            picture,
            ...(o.days ? { days: o.days } : {}),
            actor: cliActor(),
          });
          process.stdout.write(
            `seal ${made.es_id} made: ${made.name} (${type.name}), bound to certificate ${made.bound_serial}, valid ${iso(made.valid_start)} – ${iso(made.valid_end)}\n`,
          );
        } finally {
          await rt.close();
        }
      }),
    );

  seal
    .command('list')
    .description('list seals (newest first)')
    .option('--holder <uniqueId>', 'only the seals of the holder with this 唯一识别号')
    .option('--json', 'JSON output')
    .action(
      action(async (o: { holder?: string; json?: boolean }) => {
        const rt = await openRuntime(loadConfig());
        try {
          const rows = await rt.sealService.list(o.holder ? { holderUniqueId: o.holder } : {});
          const view = rows.map((s) => ({
            esId: s.es_id,
            name: s.name,
            type: s.type_code,
            status: s.status,
            holderUniqueId: s.holder_unique_id,
            certificateSerial: s.bound_serial,
            generation: s.generation,
            validStart: iso(s.valid_start),
            validEnd: iso(s.valid_end),
            orderId: s.order_id,
          }));
          if (o.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
          else
            for (const s of view)
              process.stdout.write(
                `${s.esId}  ${s.status.padEnd(7)}  ${s.validEnd.slice(0, 10)}  ${s.type}  ${s.name}  cert ${s.certificateSerial}\n`,
              );
        } finally {
          await rt.close();
        }
      }),
    );

  seal
    .command('export <esId>')
    .description('write the current DER of a seal to stdout (certdesk seal export ID > seal.der)')
    .action(
      action(async (esId: string) => {
        const rt = await openRuntime(loadConfig());
        try {
          const s = await rt.sealService.get(esId);
          if (!s) throw new UsageError(`no seal ${esId}; see \`certdesk seal list\``);
          process.stdout.write(Buffer.from(s.der));
        } finally {
          await rt.close();
        }
      }),
    );

  seal
    .command('revoke <esId>')
    .description('revoke a seal (its status lookup answers revoked at once)')
    .option('--reason <text>', 'why, for the record', 'revoked by the CA')
    .action(
      action(async (esId: string, o: { reason: string }) => {
        const rt = await openRuntime(loadConfig());
        try {
          const s = await rt.sealService.revoke(esId, cliActor(), o.reason);
          process.stdout.write(`seal ${s.es_id} revoked at ${iso(s.revoked_at!)}\n`);
        } finally {
          await rt.close();
        }
      }),
    );

  seal
    .command('verify <file>')
    .description('verify a seal file (GB/T 38540 or GM/T 0031-2014, DER); exit 0 only when it is valid')
    .option('--ca <file>', "the CA certificate that must have issued the maker's certificate (PEM or DER)")
    .action(
      action(async (file: string, o: { ca?: string }) => {
        const input = readFile(file, 'seal');
        const makerIssuers = o.ca ? [derOrPem(readFile(o.ca, '--ca'), 'CERTIFICATE')] : undefined;
        const v = verifySeal(input, makerIssuers ? { makerIssuers } : {});
        const seal = v.ok ? v.seal : v.seal;
        const out: string[] = [];
        if (seal) {
          out.push(
            `version:  ${seal.version} (${seal.layout === 'v4' ? 'GB/T 38540-2020' : 'GM/T 0031-2014'})`,
            `esID:     ${seal.esId}`,
            `name:     ${seal.name}`,
            `type:     ${seal.type}`,
            `validity: ${iso(seal.validStart)} – ${iso(seal.validEnd)} (created ${iso(seal.createDate)})`,
          );
          try {
            const maker = parseCertificate(seal.makerCert);
            out.push(`maker:    ${subjectString(maker)} (serial ${maker.serialHex})`);
          } catch {
            out.push('maker:    (certificate does not parse)');
          }
          for (const c of seal.certList) {
            try {
              const h = parseCertificate(c);
              out.push(`holder:   ${subjectString(h)} (serial ${h.serialHex})`);
            } catch {
              out.push(`holder:   (${seal.certListType === 2 ? 'certificate digest' : 'certificate does not parse'})`);
            }
          }
          if (!makerIssuers) out.push('issuer:   not checked (pass --ca to check who issued the maker certificate)');
        }
        out.push(v.ok ? 'OK' : `FAILED: ${v.failedCheck}: ${v.reason}`);
        process.stdout.write(`${out.join('\n')}\n`);
        if (!v.ok) process.exitCode = 1;
      }),
    );
}
