// The catalogue of relying applications (应用管理, admin): the applications a holder can enable a
// certificate for (应用开通). Each gets an API credential for /api/apps/v1/: a public id and a
// random secret that is shown once and stored only as its SHA-256 (a 256-bit random secret needs no
// slow hash, unlike a password; the same reasoning as session tokens), rotatable. The webhook
// secret is an HMAC key the outbox must sign with, so it is stored as is but likewise shown only
// when created or rotated. Every change is audited (secrets never).
import { randomBytes, randomUUID } from 'node:crypto';
import { appendAudit } from '../sa/audit.js';
import { writeTransaction } from '../sa/database.js';
import type { RelyingAppTable } from '../sa/schema.js';
import type { Runtime } from '../runtime.js';
import type { RelyingAppView } from '../api/staff/shapes.js';
import type { StaffContext } from './accounts.js';
import { tokenHash } from './accounts.js';
import { invalid, notFound } from './errors.js';
import { checkWebhookUrl } from './webhook-url.js';

export interface RelyingAppInput {
  name: string;
  nameEn: string;
  description?: string;
  acceptedTypes: string[];
  feePerYearFen: number;
  webhookUrl?: string | null;
  active?: boolean;
}

/** Returned once, when a credential or webhook secret is created or rotated. */
export interface RelyingAppSecrets {
  credentialSecret?: string;
  webhookSecret?: string;
}

const text = (v: unknown, field: string, max: number, required = true): string => {
  if (v === undefined || v === null) v = '';
  if (typeof v !== 'string' || (required && !v.trim()) || v.trim().length > max)
    throw invalid(
      {
        en: `${field} ${required ? 'is required' : 'must be text'} (at most ${max} characters)`,
        zh: `${field} ${required ? '为必填项' : '须为文本'}（最多 ${max} 个字符）`,
      },
      field,
    );
  return v.trim();
};

const newSecret = (): string => randomBytes(32).toString('base64url');

export function appView(r: RelyingAppTable): RelyingAppView {
  return {
    id: r.id,
    name: r.name,
    nameEn: r.name_en,
    description: r.description,
    acceptedTypes: JSON.parse(r.accepted_types) as string[],
    feePerYearFen: r.fee_per_year_fen,
    credentialId: r.credential_id,
    webhookUrl: r.webhook_url,
    hasWebhookSecret: r.webhook_secret !== null,
    active: r.active === 1,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

export class StaffRelyingApps {
  constructor(readonly rt: Runtime) {}

  private get db() {
    return this.rt.storage.db;
  }

  async list(): Promise<RelyingAppView[]> {
    const rows = await this.db.selectFrom('relying_apps').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(appView);
  }

  private async row(id: string): Promise<RelyingAppTable> {
    const r = await this.db.selectFrom('relying_apps').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound({ en: `no relying application ${id}`, zh: `没有应用 ${id}` });
    return r;
  }

  private async fields(input: RelyingAppInput) {
    const types = input?.acceptedTypes;
    if (!Array.isArray(types) || types.length === 0 || !types.every((t) => typeof t === 'string'))
      throw invalid(
        { en: 'acceptedTypes: list at least one certificate type code', zh: '请至少选择一种可用的证书种类' },
        'acceptedTypes',
      );
    const known = new Set((await this.db.selectFrom('certificate_types').select('code').execute()).map((t) => t.code));
    const unknown = types.filter((t) => !known.has(t));
    if (unknown.length)
      throw invalid(
        { en: `acceptedTypes: no certificate type ${unknown.join(', ')}`, zh: `没有证书种类 ${unknown.join('、')}` },
        'acceptedTypes',
      );
    const fee = input.feePerYearFen;
    if (typeof fee !== 'number' || !Number.isSafeInteger(fee) || fee < 0 || fee > 100_000_000)
      throw invalid(
        { en: 'feePerYearFen must be a whole number of fen from 0 to 100000000', zh: '年费（分）须为 0 到 100000000 之间的整数' },
        'feePerYearFen',
      );
    return {
      name: text(input.name, 'name', 50),
      name_en: text(input.nameEn, 'nameEn', 80),
      description: text(input.description, 'description', 1000, false),
      accepted_types: JSON.stringify([...new Set(types)].sort()),
      fee_per_year_fen: fee,
      webhook_url: checkWebhookUrl(input.webhookUrl, this.rt.config),
      active: input.active === false ? 0 : 1,
    };
  }

  async create(ctx: StaffContext, input: RelyingAppInput): Promise<{ app: RelyingAppView } & Required<RelyingAppSecrets>> {
    const f = await this.fields(input);
    const credentialSecret = newSecret();
    const webhookSecret = newSecret();
    const now = Date.now();
    const row: RelyingAppTable = {
      id: randomUUID(),
      ...f,
      credential_id: `app_${randomBytes(12).toString('hex')}`,
      credential_hash: tokenHash(credentialSecret),
      webhook_secret: webhookSecret,
      created_at: now,
      updated_at: now,
    };
    await writeTransaction(this.rt.storage, async (tx) => {
      await tx.insertInto('relying_apps').values(row).execute();
      await appendAudit(tx, [
        { actor: ctx.actor, action: 'relying_app.created', target: `app:${row.id}`, details: { after: audited(row) } },
      ]);
    });
    return { app: appView(row), credentialSecret, webhookSecret };
  }

  async update(ctx: StaffContext, id: string, input: RelyingAppInput): Promise<RelyingAppView> {
    const f = await this.fields(input);
    return writeTransaction(this.rt.storage, async (tx) => {
      const before = await tx.selectFrom('relying_apps').selectAll().where('id', '=', id).executeTakeFirst();
      if (!before) throw notFound({ en: `no relying application ${id}`, zh: `没有应用 ${id}` });
      const after = { ...before, ...f, updated_at: Date.now() };
      await tx
        .updateTable('relying_apps')
        .set({ ...f, updated_at: after.updated_at })
        .where('id', '=', id)
        .execute();
      await appendAudit(tx, [
        {
          actor: ctx.actor,
          action: 'relying_app.updated',
          target: `app:${id}`,
          details: { before: audited(before), after: audited(after) },
        },
      ]);
      return appView(after);
    });
  }

  /** A new API credential secret (the id stays); the old secret stops working at once. */
  async rotate(ctx: StaffContext, id: string, what: 'credential' | 'webhook-secret'): Promise<RelyingAppSecrets> {
    await this.row(id);
    const secret = newSecret();
    await writeTransaction(this.rt.storage, async (tx) => {
      const set = what === 'credential' ? { credential_hash: tokenHash(secret) } : { webhook_secret: secret };
      await tx
        .updateTable('relying_apps')
        .set({ ...set, updated_at: Date.now() })
        .where('id', '=', id)
        .execute();
      await appendAudit(tx, [{ actor: ctx.actor, action: `relying_app.${what}_rotated`, target: `app:${id}`, details: {} }]);
    });
    return what === 'credential' ? { credentialSecret: secret } : { webhookSecret: secret };
  }
}

/** The row as the audit log keeps it: no secrets, not even hashed. */
function audited(r: RelyingAppTable): Omit<RelyingAppTable, 'credential_hash' | 'webhook_secret'> {
  const { credential_hash: _h, webhook_secret: _s, ...rest } = r;
  return rest;
}
