// 变更证书: which details of a certificate a holder may change, how each value is checked, and the
// subject the new certificate gets — the old subject with the changed attributes replaced, the
// 唯一识别号 (subject serialNumber) untouched. Pure: no SQL, no HTTP.
import { z } from 'zod';
import { attributeValue, type NameAttribute } from '../pki/name.js';
import type { RevocationReason } from '../shared/revocation-reasons.js';
import type { HolderKind } from '../sa/schema.js';
import { RaError } from './errors.js';
import { typedText } from './order-form.js';

import type { ChangeField } from '../shared/change-views.js';

export type { ChangeField };

/** One changed detail, as stored with the request (change_requests.changes) and shown side by side. */
export interface ChangedField {
  field: ChangeField;
  /** the subject attribute it is written to; undefined for 法定代表人, which the certificate does not carry */
  attribute?: string;
  old: string | null;
  new: string;
}

interface FieldRule {
  /** the label the holder's page uses (errors name it) */
  label: string;
  attribute?: string;
  max: number;
  kinds: HolderKind[];
}

// Upper bounds from RFC 5280 Appendix A (ub-organization-name 64, ub-common-name 64,
// ub-state-name 128, ub-locality-name 128).
export const CHANGE_FIELDS: Record<ChangeField, FieldRule> = {
  organization: { label: '单位名称', attribute: 'O', max: 64, kinds: ['org'] },
  personName: { label: '姓名', attribute: 'CN', max: 64, kinds: ['person'] },
  province: { label: '所在省份', attribute: 'ST', max: 128, kinds: ['org', 'person'] },
  locality: { label: '所在地', attribute: 'L', max: 128, kinds: ['org', 'person'] },
  legalRepresentative: { label: '法定代表人', max: 50, kinds: ['org'] },
};

export const CHANGE_FIELD_ORDER: ChangeField[] = ['organization', 'personName', 'province', 'locality', 'legalRepresentative'];

/** The current value of each field the certificate carries (法定代表人: not in the certificate). */
export function currentValues(subject: NameAttribute[]): Record<ChangeField, string | null> {
  return {
    organization: attributeValue(subject, 'O') ?? null,
    personName: attributeValue(subject, 'CN') ?? null,
    province: attributeValue(subject, 'ST') ?? null,
    locality: attributeValue(subject, 'L') ?? null,
    legalRepresentative: null,
  };
}

/** The fields a holder of `kind` may change. */
export const fieldsFor = (kind: HolderKind): ChangeField[] =>
  CHANGE_FIELD_ORDER.filter((f) => CHANGE_FIELDS[f].kinds.includes(kind));

export interface ChangePlan {
  changes: ChangedField[];
  newSubject: NameAttribute[];
  legalRepresentative: string | null;
  /** the holder's 名称 (organisation name, or a person's name) before and after, when it changes */
  renamed?: { from: string; to: string };
}

const checkText = (field: ChangeField, raw: unknown): string => {
  const rule = CHANGE_FIELDS[field];
  if (typeof raw !== 'string') throw new RaError('invalid', `${rule.label} must be text`, field);
  const r = typedText(rule.label)
    .pipe(z.string().max(rule.max, `${rule.label} is at most ${rule.max} characters`))
    .safeParse(raw);
  if (!r.success) throw new RaError('invalid', r.error.issues[0]!.message, field);
  return r.data;
};

const sameId = (a: string, b: string): boolean => a.trim().toUpperCase() === b.trim().toUpperCase();

/**
 * Checks what the holder asked and builds the new subject. A field left out, empty, or equal to
 * the current value is not a change; at least one real change is needed. A 唯一识别号 other than
 * the certificate's is refused: it names another holder, which is a new certificate, not a change.
 */
export function planChange(input: {
  kind: HolderKind;
  subject: NameAttribute[];
  uniqueId: string | null;
  asked: Partial<Record<ChangeField | 'uniqueId', unknown>>;
}): ChangePlan {
  const asked = input.asked;
  if (asked.uniqueId !== undefined && asked.uniqueId !== null && asked.uniqueId !== '') {
    if (typeof asked.uniqueId !== 'string' || !input.uniqueId || !sameId(asked.uniqueId, input.uniqueId))
      throw new RaError(
        'invalid',
        `唯一识别号 cannot be changed: ${input.uniqueId ?? 'this certificate'}'s holder stays the same holder. ` +
          'A different 唯一识别号 is a different holder — apply for a new certificate at a service point instead',
        'uniqueId',
      );
  }
  const current = currentValues(input.subject);
  const changes: ChangedField[] = [];
  let legalRepresentative: string | null = null;
  for (const field of CHANGE_FIELD_ORDER) {
    const raw = asked[field];
    if (raw === undefined || raw === null || raw === '') continue;
    const rule = CHANGE_FIELDS[field];
    if (!rule.kinds.includes(input.kind))
      throw new RaError(
        'invalid',
        `${rule.label} is not a detail of ${input.kind === 'org' ? 'an organisation' : 'a personal'} certificate`,
        field,
      );
    const value = checkText(field, raw);
    if (field === 'legalRepresentative') {
      legalRepresentative = value;
      changes.push({ field, old: null, new: value });
      continue;
    }
    if (value === current[field]) continue; // unchanged: not part of the change
    changes.push({ field, attribute: rule.attribute!, old: current[field], new: value });
  }
  if (changes.length === 0)
    throw new RaError('invalid', 'nothing to change: give at least one new value that differs from the certificate', 'changes');

  let newSubject = input.subject.map((a) => ({ ...a }));
  const set = (type: string, value: string, alsoWhere?: (a: NameAttribute) => boolean) => {
    let found = false;
    newSubject = newSubject.map((a) => {
      if (a.type === type) {
        found = true;
        return { type, value };
      }
      return alsoWhere?.(a) ? { type: a.type, value } : a;
    });
    if (!found) newSubject.push({ type, value }); // the CA puts it in canonical order
  };
  let renamed: ChangePlan['renamed'];
  for (const c of changes) {
    if (!c.attribute) continue;
    if (c.field === 'organization') {
      // an organisation certificate's CN is the organisation's name: it changes with it
      const oldName = c.old;
      set('O', c.new, (a) => a.type === 'CN' && oldName !== null && a.value === oldName);
      if (oldName) renamed = { from: oldName, to: c.new };
    } else {
      set(c.attribute, c.new);
      if (c.field === 'personName' && c.old) renamed = { from: c.old, to: c.new };
    }
  }
  return { changes, newSubject, legalRepresentative, ...(renamed ? { renamed } : {}) };
}

/** affiliationChanged when the organisation's name changes (RFC 5280: the subject's name changed), else superseded. */
export const supersedeReasonFor = (changes: ChangedField[]): RevocationReason =>
  changes.some((c) => c.field === 'organization') ? 'affiliationChanged' : 'superseded';

/** The 名称 change a plan's stored fields describe (see ChangePlan.renamed). */
export function renamedBy(changes: ChangedField[]): { from: string; to: string } | undefined {
  const c = changes.find((x) => (x.field === 'organization' || x.field === 'personName') && x.old !== null);
  return c ? { from: c.old!, to: c.new } : undefined;
}
