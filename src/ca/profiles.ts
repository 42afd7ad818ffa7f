// Certificate profiles: what each certificate type (证书种类) may contain. Built-in defaults, or a
// JSON file named by PROFILES_FILE that replaces them (same shape, validated at start).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { KEY_TYPES, type KeyType } from '../pki/algorithms.js';
import { BUILT_IN_CERTIFICATE_TYPES, builtInTypeFor } from '../pki/certificate-types.js';
import { isKnownAttribute } from '../pki/name.js';
import { oidProblem } from '../pki/oids.js';
import { EKU_NAMES, KEY_USAGE_BITS, type KeyUsageName } from './extensions.js';
import { CA_FAMILIES, type CaFamily } from './hierarchy.js';

const keyUsageNames = Object.keys(KEY_USAGE_BITS) as [KeyUsageName, ...KeyUsageName[]];
// OIDs every common verifier parses (Go's crypto/x509 and GnuTLS refuse arcs ≥ 2^31; see oidProblem).
const oidIssue = (names: Record<string, string>) =>
  z.string().superRefine((s, ctx) => {
    if (s in names) return;
    const problem = oidProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} ${problem}` });
  });
const parsableOid = oidIssue({});
const oidOrName = oidIssue(EKU_NAMES);

/** Key usages that make a key one for encryption (GM/T 0015's encryption certificate has one of them). */
const ENCIPHERING: readonly KeyUsageName[] = ['keyEncipherment', 'dataEncipherment', 'keyAgreement'];
/** Never in an encryption certificate: its key is escrowed, so it must not sign anything. */
const SIGNING_USAGES: readonly KeyUsageName[] = ['digitalSignature', 'nonRepudiation', 'keyCertSign', 'cRLSign'];

const ProfileSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes'),
    name: z.string().min(1),
    nameEn: z.string().min(1),
    holderKind: z.enum(['org', 'person']),
    keyTypes: z.array(z.enum(KEY_TYPES)).min(1),
    validityDays: z.number().int().min(1),
    maxValidityDays: z.number().int().min(1),
    keyUsage: z.array(z.enum(keyUsageNames)).min(1),
    extendedKeyUsage: z.array(oidOrName),
    /** certificate policy OIDs; none unless the operator configures their own */
    policies: z.array(parsableOid).default([]),
    subject: z.object({
      required: z.array(z.string()),
      allowed: z.array(z.string()),
    }),
    /**
     * signing (default): issued from a CSR. encryption: the second certificate of an SM2 dual pair,
     * issued for a key the KMC made, only together with its signing certificate.
     */
    usage: z.enum(['signing', 'encryption']).default('signing'),
    /** which hierarchy issues it; unset: the one of the subject key's family (SM2 key → SM2 CA) */
    hierarchy: z.enum(CA_FAMILIES as [CaFamily, ...CaFamily[]]).optional(),
    /** a signing profile of a dual pair names the encryption profile of its partner */
    encryptionProfile: z.string().optional(),
  })
  .refine((p) => p.validityDays <= p.maxValidityDays, { message: 'validityDays exceeds maxValidityDays' })
  .refine((p) => [...p.subject.allowed, ...p.subject.required].every(isKnownAttribute), { message: 'unknown subject attribute' })
  .refine((p) => p.subject.required.every((r) => p.subject.allowed.includes(r)), {
    message: 'a required attribute is not allowed',
  })
  .refine((p) => !p.keyUsage.includes('keyCertSign') && !p.keyUsage.includes('cRLSign'), {
    message: 'end-entity profiles cannot have keyCertSign or cRLSign',
  })
  .superRefine((p, ctx) => {
    const dual = p.usage === 'encryption' || p.encryptionProfile !== undefined;
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (p.usage === 'encryption') {
      const signing = p.keyUsage.filter((u) => SIGNING_USAGES.includes(u));
      if (signing.length) issue('keyUsage', `an encryption profile cannot have ${signing.join(', ')}`);
      if (!p.keyUsage.some((u) => ENCIPHERING.includes(u)))
        issue('keyUsage', `an encryption profile needs one of ${ENCIPHERING.join(', ')}`);
      if (p.encryptionProfile !== undefined) issue('encryptionProfile', 'an encryption profile cannot name another one');
    }
    if (dual && (p.keyTypes.length !== 1 || p.keyTypes[0] !== 'sm2'))
      issue('keyTypes', 'the profiles of an SM2 dual pair have keyTypes ["sm2"] (the KMC makes SM2 keys)');
    if (dual && p.hierarchy && p.hierarchy !== 'sm2') issue('hierarchy', 'an SM2 dual pair is issued by the SM2 hierarchy');
  });

export type Profile = z.infer<typeof ProfileSchema> & { keyTypes: KeyType[] };

const ORG = builtInTypeFor('org');
const PERSON = builtInTypeFor('person');
const ORG_SM2 = BUILT_IN_CERTIFICATE_TYPES.find((t) => t.id === 'org-identity-sm2')!;

// What the two built-in types are for (docs/PROFILES.md): logging in to applications (TLS client
// authentication) and signing documents (digitalSignature + nonRepudiation). No emailProtection:
// the certificates carry no rfc822Name and no encryption key usage, so S/MIME would be refused anyway.
export const DEFAULT_PROFILES: Profile[] = [
  {
    ...ORG,
    keyTypes: ['ec-p256', 'rsa-2048', 'rsa-3072', 'sm2'],
    validityDays: 365,
    // three years of renewal stacked on up to three months left of the old term
    maxValidityDays: 3 * 366 + 92,
    keyUsage: ['digitalSignature', 'nonRepudiation'],
    extendedKeyUsage: ['clientAuth'],
    policies: [],
    subject: { required: ['CN', 'O'], allowed: ['C', 'ST', 'L', 'O', 'OU', 'CN', 'serialNumber', 'emailAddress'] },
    usage: 'signing',
  },
  {
    ...PERSON,
    keyTypes: ['ec-p256', 'rsa-2048', 'rsa-3072', 'sm2'],
    validityDays: 365,
    maxValidityDays: 3 * 366 + 92,
    keyUsage: ['digitalSignature', 'nonRepudiation'],
    extendedKeyUsage: ['clientAuth'],
    policies: [],
    subject: { required: ['CN'], allowed: ['C', 'ST', 'L', 'O', 'OU', 'CN', 'serialNumber', 'emailAddress'] },
    usage: 'signing',
  },
  // The SM2 dual pair (GM/T 0015 / GB/T 35276): a signing certificate for the key made on the UKey,
  // and an encryption certificate for the key the KMC made and escrowed. Same subject, same 唯一识别号.
  {
    ...ORG_SM2,
    keyTypes: ['sm2'],
    validityDays: 365,
    maxValidityDays: 3 * 366 + 92,
    keyUsage: ['digitalSignature', 'nonRepudiation'],
    extendedKeyUsage: ['clientAuth'],
    policies: [],
    subject: { required: ['CN', 'O'], allowed: ['C', 'ST', 'L', 'O', 'OU', 'CN', 'serialNumber', 'emailAddress'] },
    usage: 'signing',
    hierarchy: 'sm2',
    encryptionProfile: 'org-identity-sm2-enc',
  },
  {
    id: 'org-identity-sm2-enc',
    name: `${ORG_SM2.name}加密证书`,
    nameEn: `${ORG_SM2.nameEn}, encryption certificate`,
    holderKind: 'org',
    keyTypes: ['sm2'],
    validityDays: 365,
    maxValidityDays: 3 * 366 + 92,
    keyUsage: ['keyEncipherment', 'dataEncipherment', 'keyAgreement'],
    extendedKeyUsage: [],
    policies: [],
    subject: { required: ['CN', 'O'], allowed: ['C', 'ST', 'L', 'O', 'OU', 'CN', 'serialNumber', 'emailAddress'] },
    usage: 'encryption',
    hierarchy: 'sm2',
  },
];

export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileError';
  }
}

export function loadProfiles(file: string | undefined): Map<string, Profile> {
  let list: Profile[] = DEFAULT_PROFILES;
  if (file) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ProfileError(`PROFILES_FILE ${file}: ${(e as Error).message}`);
    }
    const r = z.array(ProfileSchema).min(1).safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new ProfileError(`PROFILES_FILE ${file}: at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    list = r.data as Profile[];
  }
  const map = new Map<string, Profile>();
  for (const p of list) {
    if (map.has(p.id)) throw new ProfileError(`duplicate profile id ${p.id}`);
    map.set(p.id, p);
  }
  // A dual pair's signing profile names an encryption profile of the same file, for the same holders.
  for (const p of map.values()) {
    if (p.encryptionProfile === undefined) continue;
    const enc = map.get(p.encryptionProfile);
    const where = `${file ? `PROFILES_FILE ${file}: ` : ''}profile ${p.id}: encryptionProfile ${JSON.stringify(p.encryptionProfile)}`;
    if (!enc) throw new ProfileError(`${where} is not a profile here`);
    if (enc.usage !== 'encryption') throw new ProfileError(`${where} is not an encryption profile (usage "encryption")`);
    if (enc.holderKind !== p.holderKind) throw new ProfileError(`${where} is for another holder kind (${enc.holderKind})`);
  }
  return map;
}
