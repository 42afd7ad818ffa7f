// Certificate profiles: what each certificate type (证书种类) may contain. Built-in defaults, or a
// JSON file named by PROFILES_FILE that replaces them (same shape, validated at start).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { KEY_TYPES, type KeyType } from '../pki/algorithms.js';
import { builtInTypeFor } from '../pki/certificate-types.js';
import { isKnownAttribute } from '../pki/name.js';
import { oidProblem } from '../pki/oids.js';
import { EKU_NAMES, KEY_USAGE_BITS, type KeyUsageName } from './extensions.js';

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
  })
  .refine((p) => p.validityDays <= p.maxValidityDays, { message: 'validityDays exceeds maxValidityDays' })
  .refine((p) => [...p.subject.allowed, ...p.subject.required].every(isKnownAttribute), { message: 'unknown subject attribute' })
  .refine((p) => p.subject.required.every((r) => p.subject.allowed.includes(r)), {
    message: 'a required attribute is not allowed',
  })
  .refine((p) => !p.keyUsage.includes('keyCertSign') && !p.keyUsage.includes('cRLSign'), {
    message: 'end-entity profiles cannot have keyCertSign or cRLSign',
  });

export type Profile = z.infer<typeof ProfileSchema> & { keyTypes: KeyType[] };

const ORG = builtInTypeFor('org');
const PERSON = builtInTypeFor('person');

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
  return map;
}
