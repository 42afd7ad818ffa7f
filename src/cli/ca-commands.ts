// `certdesk ca …`: operate the CA from the shell, against the same DATA_DIR / DATABASE_URL as a
// running server (which sees the effect at once: OCSP reads the database, CRLs are stored there).
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { DEFAULT_HIERARCHY, DEFAULT_SM2_NAMES, defaultHierarchyFor, initHierarchy, type KeyFactory } from '../ca/hierarchy.js';
import { loadConfig } from '../config/config.js';
import { isKeyType, KEY_TYPES, type KeyType } from '../pki/algorithms.js';
import { attributesFromObject, NameError } from '../pki/name.js';
import { toPem } from '../pki/pem.js';
import { openRuntime, pkcs11Pin, softwareKeyFactory } from '../runtime.js';
import { listCertificates } from '../sa/certificates.js';
import { listCas } from '../sa/cas.js';
import { openDatabase } from '../sa/database.js';
import { endSessionsOfCertificate } from '../sa/sessions.js';
import { Pkcs11Signer } from '../signer/pkcs11-signer.js';
import { reasonName, END_ENTITY_REASONS } from '../shared/revocation-reasons.js';
import { rotateResponder } from '../jobs/responder-rotation.js';
import { action, UsageError } from './errors.js';
import { cliActor, positiveInt, withStorage } from './util.js';

function keyTypeOption(v: string): KeyType {
  if (!isKeyType(v)) throw new UsageError(`--key-type must be one of ${KEY_TYPES.join(', ')}, got ${JSON.stringify(v)}`);
  return v;
}

export function registerCaCommands(program: Command): void {
  const ca = program
    .command('ca')
    .description(
      'operate the certificate authority (init, issue, revoke, list, roots, chain, rotate-responder, rotate-seal-maker)',
    );

  ca.command('init')
    .description(
      'create a root CA, an issuing CA and a delegated OCSP responder certificate; an instance holds one RSA/ECDSA and one SM2 hierarchy side by side',
    )
    .option('--key-type <type>', `key type for all three keys (${KEY_TYPES.join(', ')})`, 'ec-p256')
    .option(
      '--pkcs11-module <path>',
      'generate the keys on a PKCS#11 token through this module (e.g. /usr/lib/softhsm/libsofthsm2.so)',
    )
    .option(
      '--pkcs11-token <label>',
      'label of the PKCS#11 token (with --pkcs11-module); the user PIN is read from $PKCS11_PIN (see PKCS11_PIN_ENV)',
    )
    .option('--org <name>', 'organisation (O) in the CA names', DEFAULT_HIERARCHY.organization)
    .option('--country <cc>', 'country (C) in the CA names', DEFAULT_HIERARCHY.country)
    .option(
      '--root-cn <name>',
      `common name of the root CA (default: "${DEFAULT_HIERARCHY.rootCommonName}", with sm2 "${DEFAULT_SM2_NAMES.rootCommonName}")`,
    )
    .option(
      '--issuing-cn <name>',
      `common name of the issuing CA (default: "${DEFAULT_HIERARCHY.issuingCommonName}", with sm2 "${DEFAULT_SM2_NAMES.issuingCommonName}")`,
    )
    .option('--root-days <n>', 'root CA validity in days', positiveInt('--root-days'), DEFAULT_HIERARCHY.rootDays)
    .option('--issuing-days <n>', 'issuing CA validity in days', positiveInt('--issuing-days'), DEFAULT_HIERARCHY.issuingDays)
    .option(
      '--ocsp-days <n>',
      'OCSP responder certificate validity in days',
      positiveInt('--ocsp-days'),
      DEFAULT_HIERARCHY.ocspDays,
    )
    .action(
      action(async (o: Record<string, string | number | undefined>) => {
        const config = loadConfig();
        const keyType = keyTypeOption(String(o.keyType));
        if (Boolean(o.pkcs11Module) !== Boolean(o.pkcs11Token))
          throw new UsageError('--pkcs11-module and --pkcs11-token go together');
        if (o.pkcs11Module && keyType === 'sm2') {
          // SoftHSM2 and standard PKCS#11 have no SM2 mechanisms; vendor ones may come later.
          throw new UsageError('--key-type sm2 needs software keys: PKCS#11 tokens have no standard SM2 mechanism');
        }
        const storage = await openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
        try {
          let keys: KeyFactory;
          const opened: { close(): Promise<void> }[] = [];
          if (o.pkcs11Module) {
            const pin = pkcs11Pin(config);
            keys = async (purpose, _id) => {
              const s = await Pkcs11Signer.generate({
                module: String(o.pkcs11Module),
                token: String(o.pkcs11Token),
                pin,
                label: `certdesk-${purpose}-${new Date().toISOString().slice(0, 10)}`,
                keyType,
              });
              opened.push(s);
              return s;
            };
          } else keys = softwareKeyFactory(config, keyType);
          const names = defaultHierarchyFor(keyType);
          const rows = await initHierarchy(storage, keys, {
            keyType,
            pkiUrl: config.pkiUrl,
            organization: String(o.org),
            country: String(o.country),
            rootCommonName: o.rootCn !== undefined ? String(o.rootCn) : names.rootCommonName,
            issuingCommonName: o.issuingCn !== undefined ? String(o.issuingCn) : names.issuingCommonName,
            rootDays: Number(o.rootDays),
            issuingDays: Number(o.issuingDays),
            ocspDays: Number(o.ocspDays),
            actor: cliActor(),
          });
          for (const s of opened) await s.close();
          for (const r of rows)
            process.stdout.write(
              `created ${r.kind.padEnd(7)} ${r.id}  ${r.name}  (${r.key_type}, ${JSON.parse(r.key_ref).kind})\n`,
            );
        } finally {
          await storage.close();
        }
        // First CRLs, signed with the keys just stored.
        const rt = await openRuntime(config);
        try {
          for (const c of rt.ca.crlIssuers()) await rt.ca.generateCrl(c.record.id, cliActor());
          // an SM2 hierarchy has a seal-making unit (制章者) for electronic seals
          if (keyType === 'sm2') {
            const maker = await rt.sealService.ensureMaker(cliActor());
            process.stdout.write(
              `created seal maker ${maker.id}  (sm2, valid until ${new Date(maker.not_after).toISOString()})\n`,
            );
          }
        } finally {
          await rt.close();
        }
      }),
    );

  ca.command('issue')
    .description('issue a certificate from a PKCS#10 CSR; prints the PEM certificate on stdout')
    .requiredOption('--csr <file>', 'CSR file (PEM or DER)')
    .requiredOption('--profile <id>', 'certificate profile (e.g. org-identity, personal-identity)')
    .option('--subject <json>', 'subject replacing the CSR\'s, e.g. \'{"CN":"企业测试","O":"企业测试","C":"CN"}\'')
    .option('--days <n>', "validity in days (default: the profile's)", positiveInt('--days'))
    .option('--unique-id <id>', "the holder's 唯一识别号, written into the certificate and linked to the holder record")
    .action(
      action(async (o: { csr: string; profile: string; subject?: string; days?: number; uniqueId?: string }) => {
        let csr: Buffer;
        try {
          csr = await readFile(o.csr);
        } catch (e) {
          throw new UsageError(`--csr: cannot read ${o.csr}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        const text = csr.subarray(0, 100).toString('latin1');
        if (text.includes('-----BEGIN')) {
          const m = /-----BEGIN (NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (NEW )?CERTIFICATE REQUEST-----/.exec(
            csr.toString('latin1'),
          );
          if (!m) throw new UsageError(`--csr: ${o.csr} has no CERTIFICATE REQUEST PEM block`);
          csr = Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64');
        }
        let subject;
        if (o.subject !== undefined) {
          let obj: unknown;
          try {
            obj = JSON.parse(o.subject);
          } catch (e) {
            throw new UsageError(`--subject is not valid JSON: ${(e as Error).message}`);
          }
          if (!obj || typeof obj !== 'object' || Array.isArray(obj))
            throw new UsageError('--subject must be a JSON object such as {"CN":"…","O":"…","C":"CN"}');
          try {
            subject = attributesFromObject(obj as Record<string, unknown>);
          } catch (e) {
            if (e instanceof NameError) throw new UsageError(`--subject: ${e.message}`);
            throw e;
          }
        }
        const rt = await openRuntime(loadConfig());
        try {
          const issued = await rt.ca.issue({
            csr,
            profileId: o.profile,
            ...(subject ? { subject } : {}),
            ...(o.days ? { days: o.days } : {}),
            ...(o.uniqueId ? { uniqueId: o.uniqueId } : {}),
            actor: cliActor(),
          });
          process.stdout.write(toPem('CERTIFICATE', issued.der));
          const enc = rt.ca.profile(o.profile).encryptionProfile;
          if (enc)
            process.stderr.write(
              `note: ${o.profile} is the signing half of an SM2 dual pair; this command issues no encryption certificate (${enc}) — a renewal through the portal issues the pair with a KMC key\n`,
            );
        } finally {
          await rt.close();
        }
      }),
    );

  ca.command('revoke')
    .description('revoke a certificate and publish a new CRL')
    .requiredOption('--serial <hex>', 'serial number in hex (colons allowed)')
    .requiredOption('--reason <reason>', `RFC 5280 reason: ${END_ENTITY_REASONS.join(', ')}`)
    .action(
      action(async (o: { serial: string; reason: string }) => {
        const rt = await openRuntime(loadConfig());
        try {
          // the portal sessions logged in with it end in the same transaction
          const r = await rt.ca.revoke(o.serial, o.reason, cliActor(), undefined, (tx, c) =>
            endSessionsOfCertificate(tx, c.serial, c.revoked_at!),
          );
          process.stdout.write(
            `revoked ${r.serial} (${reasonName(r.revocation_reason ?? 0)}) at ${new Date(r.revoked_at!).toISOString()}\n`,
          );
        } finally {
          await rt.close();
        }
      }),
    );

  ca.command('rotate-responder')
    .description(
      "replace an issuing CA's delegated OCSP responder with a new key and certificate now (a running server picks it up within a minute; it also rotates by itself 30 days before expiry)",
    )
    .option('--issuing <id>', 'issuing CA id (default: every active issuing CA, e.g. the RSA/ECDSA and the SM2 one)')
    .option('--days <n>', "validity in days (default: the current responder's)", positiveInt('--days'))
    .action(
      action(async (o: { issuing?: string; days?: number }) => {
        const rt = await openRuntime(loadConfig());
        try {
          const ids = o.issuing ? [o.issuing] : rt.ca.families().map((f) => rt.ca.issuingFor(f).record.id);
          for (const issuingId of ids) {
            const previous = rt.ca.responderFor(issuingId)?.record.id;
            const r = await rotateResponder(rt, issuingId, cliActor(), o.days);
            process.stdout.write(
              `rotated the OCSP responder of ${issuingId}: ${r.record.id} (${r.record.key_type}, valid until ${new Date(r.record.not_after).toISOString()})${previous ? `; ${previous} is retired` : ''}\n`,
            );
          }
        } finally {
          await rt.close();
        }
      }),
    );

  ca.command('rotate-seal-maker')
    .description(
      "replace the SM2 issuing CA's seal-making unit (制章者) with a new key and certificate now; seals made before keep verifying with the old maker certificate they carry",
    )
    .option('--days <n>', 'validity in days (capped by the issuing CA)', positiveInt('--days'))
    .action(
      action(async (o: { days?: number }) => {
        const rt = await openRuntime(loadConfig());
        try {
          const m = await rt.sealService.rotateMaker(cliActor(), o.days);
          process.stdout.write(`rotated the seal maker: ${m.id} (valid until ${new Date(m.not_after).toISOString()})\n`);
        } finally {
          await rt.close();
        }
      }),
    );

  const printCas = (kind: 'root' | 'issuing') =>
    action(async () => {
      await withStorage(async (storage) => {
        const cas = await listCas(storage.db, kind);
        if (cas.length === 0) throw new UsageError('no CA yet: run `certdesk ca init` or start `certdesk serve` once');
        for (const c of cas) process.stdout.write(toPem('CERTIFICATE', c.cert_der));
      });
    });

  ca.command('roots').description('print the root CA certificate(s) as PEM').action(printCas('root'));
  ca.command('chain')
    .description('print the issuing CA certificate(s) as PEM (the intermediates for verification)')
    .action(printCas('issuing'));

  ca.command('list')
    .description('list issued certificates, newest first')
    .option('--status <status>', 'valid or revoked')
    .option('--profile <id>', 'only this profile')
    .option('--subject <text>', 'subject contains this text')
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 100)
    .option('--offset <n>', 'skip this many', (v) => Number(v), 0)
    .option('--json', 'one JSON object per line')
    .action(
      action(
        async (o: { status?: string; profile?: string; subject?: string; limit: number; offset: number; json?: boolean }) => {
          if (o.status && o.status !== 'valid' && o.status !== 'revoked')
            throw new UsageError('--status must be valid or revoked');
          await withStorage(async (storage) => {
            const rows = await listCertificates(storage.db, {
              ...(o.status ? { status: o.status as 'valid' | 'revoked' } : {}),
              ...(o.profile ? { profile: o.profile } : {}),
              ...(o.subject ? { subject: o.subject } : {}),
              limit: o.limit,
              offset: o.offset,
            });
            for (const r of rows) {
              const status = r.status === 'revoked' ? `revoked(${reasonName(r.revocation_reason ?? 0)})` : 'valid';
              if (o.json) {
                process.stdout.write(
                  JSON.stringify({
                    serial: r.serial,
                    subject: r.subject,
                    profile: r.profile,
                    status: r.status,
                    revocationReason: r.revocation_reason === null ? null : reasonName(r.revocation_reason),
                    notBefore: new Date(r.not_before).toISOString(),
                    notAfter: new Date(r.not_after).toISOString(),
                    caId: r.ca_id,
                    // an SM2 dual pair's encryption certificate names its signing certificate
                    signingSerial: r.signing_serial,
                  }) + '\n',
                );
              } else {
                process.stdout.write(
                  `${r.serial}  ${status.padEnd(8)}  ${new Date(r.not_after).toISOString().slice(0, 10)}  ${r.profile}  ${r.subject}\n`,
                );
              }
            }
            if (!o.json && rows.length === 0) process.stderr.write('no certificates\n');
          });
        },
      ),
    );
}
