// A certificate as certdesk issued them before issue 8: the 唯一识别号 in an extension under the
// UUID-derived 2.25 arc (UTF8String), certdesk's 2.25 policy, no subject serialNumber. Built from
// the CA's own parts and recorded like an issued one, so login and renewal meet it as a real one.
import { hash } from 'node:crypto';
import { buildTbs, makeTemplate, randomSerial, signTbs, wholeSeconds } from '../../src/ca/certificate-builder.js';
import * as ext from '../../src/ca/extensions.js';
import { caUrls } from '../../src/ca/urls.js';
import { parseCsr } from '../../src/pki/csr.js';
import * as der from '../../src/pki/der.js';
import { LEGACY_CERTDESK_ARC, LEGACY_UNIQUE_ID_OID } from '../../src/pki/holder-identity.js';
import { attributeValue, encodeName, nameToString } from '../../src/pki/name.js';
import { CertificateWriter } from '../../src/sa/certificate-writer.js';
import { legacyCrlUntil } from '../../src/sa/crls.js';
import { ensureHolder } from '../../src/sa/holders.js';
import type { TestCa } from './ca.js';

export async function issueLegacyCertificate(
  ca: TestCa,
  csrDer: Buffer,
  opts: { uniqueId: string; days: number },
): Promise<{ der: Buffer; serial: string }> {
  const issuer = ca.rt.ca.issuing;
  const csr = parseCsr(csrDer);
  const urls = caUrls(ca.config.publicUrl, issuer.record.id);
  const template = makeTemplate({ signer: issuer.signer, subjectDer: issuer.cert.subjectDer }, [
    ext.basicConstraints(false),
    ext.keyUsage(['digitalSignature', 'nonRepudiation']),
    ext.extKeyUsage(['clientAuth', 'emailProtection']),
    ext.authorityKeyIdentifier(issuer.keyId),
    ext.certificatePolicies([`${LEGACY_CERTDESK_ARC}.2.1`]),
    ext.crlDistributionPoints(urls.crl),
    ext.authorityInfoAccess(urls.ocsp, urls.caIssuers),
  ]);
  const now = Date.now();
  const notBefore = wholeSeconds(now - 60_000);
  const notAfter = wholeSeconds(now + opts.days * 86_400_000);
  const serial = randomSerial();
  const tbs = buildTbs(template, {
    serial,
    notBefore,
    notAfter,
    subjectDer: encodeName(csr.subject),
    spki: csr.spki,
    extraExtensions: [ext.extension(LEGACY_UNIQUE_ID_OID, false, der.utf8String(opts.uniqueId))],
  });
  const certDer = await signTbs(issuer.signer, tbs);
  const holder = await ensureHolder(ca.rt.storage.db, {
    kind: 'org',
    name: attributeValue(csr.subject, 'O') ?? attributeValue(csr.subject, 'CN')!,
    uniqueId: opts.uniqueId,
  });
  const writer = new CertificateWriter(ca.rt.storage);
  const hex = serial.toString('hex');
  await writer.record(
    {
      serial: hex,
      ca_id: issuer.record.id,
      holder_id: holder.id,
      profile: 'org-identity',
      subject: nameToString(csr.subject),
      not_before: notBefore.getTime(),
      not_after: notAfter.getTime(),
      status: 'valid',
      revoked_at: null,
      revocation_reason: null,
      renews_serial: null,
      order_id: null,
      spki_sha256: hash('sha256', csr.spki, 'hex'),
      signing_serial: null,
      // named the CA's full CRL in its DP, as certificates from before CRL shards do
      crl_shard: null,
      der: certDer,
      issued_at: now,
    },
    { actor: 'test', action: 'certificate.issued', target: hex, details: { legacy: true } },
  );
  await writer.close();
  // what migration 0021 records for certificates it finds: the CA's full CRL stays fresh for them
  const db = ca.rt.storage.db;
  const until = await legacyCrlUntil(db, issuer.record.id);
  if (until === 0)
    await db.insertInto('legacy_crl_scopes').values({ ca_id: issuer.record.id, not_after: notAfter.getTime() }).execute();
  else if (until < notAfter.getTime())
    await db
      .updateTable('legacy_crl_scopes')
      .set({ not_after: notAfter.getTime() })
      .where('ca_id', '=', issuer.record.id)
      .execute();
  return { der: certDer, serial: hex };
}
