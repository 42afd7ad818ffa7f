// The staff console API under /api/staff/ (docs/STAFF.md): login (password, then TOTP), work
// queues, orders, payments, statement import, refunds, invoices, certificates, catalogue and
// settings, audit, accounts. HTTP only: the rules live in src/staff/, the SQL in src/sa/.
// Every route names the permission it needs; the server checks it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import QRCode from 'qrcode';
import type {} from '@fastify/rate-limit';
import type { Runtime } from '../../runtime.js';
import { checkFen, yuanToFen } from '../../ra/money.js';
import { appendAudit } from '../../sa/audit.js';
import { writeTransaction } from '../../sa/database.js';
import type { OrderState, PaymentMethod } from '../../sa/schema.js';
import { StaffAccounts, staffView, type StaffContext } from '../../staff/accounts.js';
import { StaffAudit } from '../../staff/audit.js';
import { StaffCatalogue, type TypeInput } from '../../staff/catalogue.js';
import { StaffCertificates } from '../../staff/certificates.js';
import { invalid, StaffError, staffLang } from '../../staff/errors.js';
import { StaffInvoices } from '../../staff/invoices.js';
import { StaffOrders } from '../../staff/orders.js';
import { importStatement } from '../../staff/statement.js';
import { mapError } from '../errors.js';
import { registerStaffKmcRoutes } from './kmc.js';
import { checkCsrf, checkOrigin, clearStaffCookie, requireStaff, setStaffCookie, STAFF_COOKIE } from './session.js';
import { auditView, certificateRowView, eventView, invoiceView, orderView, paymentView, refundView, sendPdf } from './views.js';

type Q = Record<string, string | undefined>;
type Body = Record<string, unknown>;

const ORDER_STATES: OrderState[] = [
  'awaiting_payment',
  'paid',
  'issuing',
  'issued',
  'installed',
  'completed',
  'cancelled',
  'expired',
  'refunded',
];
const METHODS: PaymentMethod[] = ['online', 'postal', 'bank'];

function paging(q: Q): { limit: number; offset: number; page: number; pageSize: number } {
  const page = Math.max(1, Math.min(1_000_000, Number.parseInt(q.page ?? '1', 10) || 1));
  const pageSize = Math.max(1, Math.min(100, Number.parseInt(q.pageSize ?? '20', 10) || 20));
  return { limit: pageSize, offset: (page - 1) * pageSize, page, pageSize };
}

function timeParam(v: string | undefined, field: string, endOfDay = false): number | undefined {
  if (!v) return undefined;
  // a bare date is a day in China time; `to` includes that whole day
  const m = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00+08:00`) + (endOfDay ? 86_400_000 : 0) : Date.parse(v);
  if (Number.isNaN(m))
    throw invalid(
      { en: `${field} must be a date (YYYY-MM-DD) or an ISO time`, zh: `${field} 须为日期（YYYY-MM-DD）或 ISO 时间` },
      field,
    );
  return m;
}

function listParam<T extends string>(v: string | undefined, allowed: readonly T[], field: string): T[] | undefined {
  if (!v) return undefined;
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((s) => !(allowed as readonly string[]).includes(s));
  if (bad.length)
    throw invalid({ en: `${field}: unknown ${bad.join(', ')}`, zh: `${field}：无效的取值 ${bad.join('、')}` }, field);
  return list as T[];
}

function str(b: Body | undefined, field: string, required = true): string {
  const v = b?.[field];
  if (v === undefined || v === null || v === '') {
    if (required) throw invalid({ en: `${field} is required`, zh: `${field} 为必填项` }, field);
    return '';
  }
  if (typeof v !== 'string') throw invalid({ en: `${field} must be text`, zh: `${field} 须为文本` }, field);
  return v;
}

/** An amount as yuan text ("300.00", field `amount`) or integer fen (`amountFen`); positive, see ra/money.ts. */
function amountOf(b: Body | undefined): number {
  if (b?.amountFen !== undefined) {
    try {
      return checkFen(b.amountFen);
    } catch {
      throw invalid({ en: 'amountFen must be whole fen, at least 1', zh: 'amountFen 须为正整数（单位：分）' }, 'amount');
    }
  }
  const text = str(b, 'amount');
  try {
    return yuanToFen(text);
  } catch (e) {
    throw invalid(
      { en: (e as Error).message, zh: `金额须为大于零的元数、最多两位小数（如 300.00），而不是 ${JSON.stringify(text)}` },
      'amount',
    );
  }
}

const ip = (req: FastifyRequest): string => req.ip;

export function registerStaffRoutes(app: FastifyInstance, rt: Runtime): void {
  const accounts = new StaffAccounts(rt);
  const orders = new StaffOrders(rt);
  const invoices = new StaffInvoices(rt);
  const certificates = new StaffCertificates(rt);
  const catalogue = new StaffCatalogue(rt);
  const audit = new StaffAudit(rt);
  const tags = ['staff'];
  const need = (p?: Parameters<typeof requireStaff>[2]) => requireStaff(rt, accounts, p);
  const ctx = (req: FastifyRequest): StaffContext => req.staff!;

  app.get('/staff', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/staff.html'));
  app.get('/staff/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/staff.html'));

  void app.register(async (api) => {
    // StaffError → its status; anything else goes on to the server's handler (mapError, 500 …).
    // Its message is in Chinese when the request's first Accept-Language is zh*, else in English.
    api.setErrorHandler((err: Error, req, reply) => {
      if (err instanceof StaffError) {
        const message = err.messageIn(staffLang(req.headers['accept-language']));
        return reply
          .code(err.status)
          .send({ error: err.code, message, ...(err.field ? { field: err.field } : {}), ...(err.details ?? {}) });
      }
      const mapped = mapError(err);
      if (mapped) return reply.code(mapped.status).send(mapped.body);
      throw err;
    });

    const sessionBody = async (c: StaffContext) => ({
      staff: staffView(c.account),
      permissions: [...c.permissions].sort(),
      csrfToken: c.session.csrf_token,
      idleMinutes: rt.config.staffIdleMinutes,
    });

    // ---- login -------------------------------------------------------------------------------
    api.post<{ Body: Body }>(
      '/api/staff/login',
      {
        schema: { tags, summary: 'Step 1: user name and password', body: { type: 'object' } },
        config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
      },
      async (req, reply) => {
        checkOrigin(rt, req);
        const username = str(req.body, 'username');
        const password = str(req.body, 'password');
        if (username.length > 64 || password.length > 256)
          throw invalid({ en: 'user name or password too long', zh: '用户名或密码过长' });
        const { token, session, account } = await accounts.loginPassword(username, password, ip(req));
        setStaffCookie(rt, reply, token);
        if (account.totp_confirmed_at !== null) return { next: 'totp', csrfToken: session.csrf_token };
        const uri = accounts.enrolmentUri(account);
        return {
          next: 'enrol',
          csrfToken: session.csrf_token,
          enrol: { otpauthUri: uri, secret: account.totp_secret, qr: await QRCode.toDataURL(uri, { margin: 1, width: 220 }) },
        };
      },
    );

    api.post<{ Body: Body }>(
      '/api/staff/login/totp',
      {
        schema: { tags, summary: 'Step 2: the TOTP code (the first one confirms enrolment)', body: { type: 'object' } },
        config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
      },
      async (req, reply) => {
        checkOrigin(rt, req);
        const pendingToken = req.cookies[STAFF_COOKIE];
        const pending = await accounts.pending(pendingToken);
        checkCsrf(req, pending.session.csrf_token);
        // a new cookie and CSRF token for the full session: the password-only ones stop working
        const { token, context } = await accounts.loginTotp(pendingToken, str(req.body, 'code'), ip(req));
        setStaffCookie(rt, reply, token);
        return sessionBody(context);
      },
    );

    api.get('/api/staff/session', { schema: { tags, summary: 'The current staff session' }, preHandler: need() }, async (req) =>
      sessionBody(ctx(req)),
    );

    api.post('/api/staff/logout', { schema: { tags, summary: 'End the staff session' } }, async (req, reply) => {
      const token = req.cookies[STAFF_COOKIE];
      const c = await accounts.session(token).catch(() => undefined);
      if (c) checkCsrf(req, c.session.csrf_token);
      await accounts.logout(token, c);
      clearStaffCookie(reply);
      return reply.code(204).send();
    });

    api.post<{ Body: Body }>(
      '/api/staff/password',
      { schema: { tags, summary: 'Change your own password', body: { type: 'object' } }, preHandler: need() },
      async (req, reply) => {
        await accounts.changeOwnPassword(ctx(req), str(req.body, 'current'), str(req.body, 'next'));
        return reply.code(204).send();
      },
    );

    // ---- offline payments --------------------------------------------------------------------
    api.get<{ Querystring: Q }>(
      '/api/staff/queue/offline-payments',
      { schema: { tags, summary: 'Orders awaiting 邮政汇款 / 银行转帐, oldest first' }, preHandler: need('orders.read') },
      async (req) => {
        const p = paging(req.query);
        const r = await orders.queue(p.limit, p.offset);
        return { items: r.rows.map(orderView), total: r.total, page: p.page, pageSize: p.pageSize };
      },
    );

    api.post<{ Params: { id: string }; Body: Body }>(
      '/api/staff/orders/:id/confirm-payment',
      {
        schema: { tags, summary: 'Confirm an offline payment (reference and amount received)', body: { type: 'object' } },
        preHandler: need('payments.confirm'),
      },
      async (req) => {
        const received = str(req.body, 'receivedAt', false);
        const receivedAt = received ? timeParam(received, 'receivedAt') : undefined;
        const r = await orders.confirmPayment(ctx(req), req.params.id, {
          reference: str(req.body, 'reference'),
          amountFen: amountOf(req.body),
          ...(receivedAt !== undefined ? { receivedAt } : {}),
          note: str(req.body, 'note', false),
        });
        return { outcome: r.outcome, order: orderView(r.order) };
      },
    );

    api.post<{ Body: Body }>(
      '/api/staff/statements',
      {
        schema: {
          tags,
          summary: 'Import a bank statement (CSV): match reference codes, record payments',
          body: { type: 'object' },
        },
        preHandler: need('statements.import'),
        bodyLimit: 8 * 1024 * 1024,
      },
      async (req) => importStatement(rt, ctx(req), str(req.body, 'filename', false) || 'statement.csv', str(req.body, 'content')),
    );

    // ---- orders ------------------------------------------------------------------------------
    api.get<{ Querystring: Q }>(
      '/api/staff/orders',
      { schema: { tags, summary: 'Search orders' }, preHandler: need('orders.read') },
      async (req) => {
        const q = req.query;
        const p = paging(q);
        const states = listParam(q.state, ORDER_STATES, 'state');
        const methods = listParam(q.method, METHODS, 'method');
        const from = timeParam(q.from, 'from');
        const to = timeParam(q.to, 'to', true);
        const r = await orders.search({
          ...(q.name ? { name: q.name } : {}),
          ...(q.uniqueId ? { uniqueId: q.uniqueId } : {}),
          ...(q.order ? { order: q.order } : {}),
          ...(states ? { states } : {}),
          ...(methods ? { methods } : {}),
          ...(from !== undefined ? { from } : {}),
          ...(to !== undefined ? { to } : {}),
          limit: p.limit,
          offset: p.offset,
        });
        return { items: r.rows.map(orderView), total: r.total, page: p.page, pageSize: p.pageSize };
      },
    );

    api.get<{ Params: { id: string } }>(
      '/api/staff/orders/:id',
      { schema: { tags, summary: 'An order with its full history' }, preHandler: need('orders.read') },
      async (req) => {
        const d = await orders.detail(req.params.id);
        return {
          order: orderView({ ...d.order, holder_unique_id: d.holder?.unique_id ?? null, holder_name: d.holder?.name ?? null }),
          events: d.events.map(eventView),
          payment: d.payment ? paymentView(d.payment) : null,
          refunds: d.refunds.map(refundView),
          invoice: d.invoice ? invoiceView(d.invoice) : null,
          certificate: d.certificate
            ? {
                serial: d.certificate.serial,
                notAfter: new Date(d.certificate.not_after).toISOString(),
                status: d.certificate.status,
              }
            : null,
          audit: d.audit.map(auditView),
        };
      },
    );

    api.post<{ Params: { id: string }; Body: Body }>(
      '/api/staff/orders/:id/cancel',
      { schema: { tags, summary: 'Cancel an unpaid order', body: { type: 'object' } }, preHandler: need('orders.cancel') },
      async (req) => ({
        order: orderView(await orders.cancel(ctx(req), req.params.id, str(req.body, 'reason', false))),
      }),
    );

    api.post<{ Params: { id: string }; Body: Body }>(
      '/api/staff/orders/:id/refund',
      { schema: { tags, summary: 'Record a refund', body: { type: 'object' } }, preHandler: need('orders.refund') },
      async (req) => {
        const kind = str(req.body, 'kind');
        if (kind !== 'order' && kind !== 'extra')
          throw invalid({ en: 'kind must be order or extra', zh: 'kind 须为 order（订单款）或 extra（多付款）' }, 'kind');
        const order = await orders.refund(ctx(req), req.params.id, {
          kind,
          tradeNo: str(req.body, 'tradeNo', false),
          amountFen: amountOf(req.body),
          refundReference: str(req.body, 'refundReference'),
          reason: str(req.body, 'reason'),
        });
        return { order: orderView(order) };
      },
    );

    // ---- invoices ----------------------------------------------------------------------------
    api.get<{ Querystring: Q }>(
      '/api/staff/invoices',
      {
        schema: { tags, summary: 'Invoices; paperStatus=to_mail lists the paper invoices to mail, oldest first' },
        preHandler: need('invoices.read'),
      },
      async (req) => {
        const q = req.query;
        const p = paging(q);
        const paperStatus = listParam(q.paperStatus, ['to_mail', 'mailed', 'not_required'] as const, 'paperStatus')?.[0];
        const status = listParam(q.status, ['issued', 'void'] as const, 'status')?.[0];
        const r = await invoices.list({
          ...(paperStatus ? { paperStatus } : {}),
          ...(status ? { status } : {}),
          ...(q.q ? { q: q.q } : {}),
          limit: p.limit,
          offset: p.offset,
        });
        return { items: r.rows.map(invoiceView), total: r.total, page: p.page, pageSize: p.pageSize };
      },
    );

    api.get<{ Params: { id: string } }>(
      '/api/staff/orders/:id/invoice',
      { schema: { tags, summary: "The order's invoice" }, preHandler: need('invoices.read') },
      async (req) => ({
        invoice: invoiceView(await invoices.forOrder((await orders.find(req.params.id)).id)),
      }),
    );

    api.post<{ Params: { id: string }; Body: Body }>(
      '/api/staff/orders/:id/invoice/mailed',
      { schema: { tags, summary: 'Mark the paper invoice mailed', body: { type: 'object' } }, preHandler: need('invoices.mail') },
      async (req) => ({
        invoice: invoiceView(
          await invoices.markMailed(
            ctx(req),
            (await orders.find(req.params.id)).id,
            str(req.body, 'carrier'),
            str(req.body, 'trackingNo'),
          ),
        ),
      }),
    );

    api.get<{ Params: { id: string } }>(
      '/api/staff/orders/:id/invoice.pdf',
      { schema: { tags, summary: 'The electronic invoice (PDF)' }, preHandler: need('invoices.read') },
      async (req, reply) => {
        const { pdf, invoice } = await invoices.pdf((await orders.find(req.params.id)).id);
        return sendPdf(reply, pdf, `${invoice.number}.pdf`);
      },
    );

    // ---- certificates ------------------------------------------------------------------------
    api.get<{ Querystring: Q }>(
      '/api/staff/certificates',
      { schema: { tags, summary: 'Search certificates' }, preHandler: need('certificates.read') },
      async (req) => {
        const q = req.query;
        const p = paging(q);
        const status = listParam(q.status, ['valid', 'revoked'] as const, 'status')?.[0];
        const r = await certificates.search({
          ...(q.serial ? { serial: q.serial } : {}),
          ...(q.subject ? { subject: q.subject } : {}),
          ...(q.uniqueId ? { uniqueId: q.uniqueId } : {}),
          ...(status ? { status } : {}),
          limit: p.limit,
          offset: p.offset,
        });
        return { items: r.rows.map(certificateRowView), total: r.total, page: p.page, pageSize: p.pageSize };
      },
    );

    api.get<{ Params: { serial: string } }>(
      '/api/staff/certificates/:serial',
      { schema: { tags, summary: 'A certificate with OCSP and CRL status' }, preHandler: need('certificates.read') },
      async (req) => {
        const d = await certificates.detail(req.params.serial);
        return {
          certificate: d.summary,
          pem: d.pem,
          holder: d.holder ? { name: d.holder.name, uniqueId: d.holder.unique_id, kind: d.holder.kind } : null,
          revocation: d.revocation,
          ocsp: d.ocsp,
          crl: d.crl,
          orders: d.orders.map((o) => ({
            id: o.id,
            state: o.state,
            amountFen: o.amount_fen,
            createdAt: new Date(o.created_at).toISOString(),
            role: o.issued_serial === d.record.serial ? 'issued' : 'renews',
          })),
          audit: d.audit.map(auditView),
          // an SM2 dual pair: the other certificate of the pair
          pair: { signingSerial: d.record.signing_serial, encryptionSerial: d.encryptionSerial },
        };
      },
    );

    api.post<{ Params: { serial: string }; Body: Body }>(
      '/api/staff/certificates/:serial/revoke',
      {
        schema: { tags, summary: "Revoke on the holder's request", body: { type: 'object' } },
        preHandler: need('certificates.revoke'),
      },
      async (req) => {
        const rec = await certificates.revoke(ctx(req), req.params.serial, {
          reason: str(req.body, 'reason'),
          requestedBy: str(req.body, 'requestedBy'),
          note: str(req.body, 'note', false),
        });
        return { serial: rec.serial, status: rec.status, revokedAt: new Date(rec.revoked_at!).toISOString() };
      },
    );

    // ---- catalogue and settings --------------------------------------------------------------
    api.get(
      '/api/staff/catalogue',
      {
        schema: { tags, summary: 'Certificate types, prices, payment methods, remittance, invoice issuer' },
        preHandler: need('catalogue.read'),
      },
      async () => catalogue.get(),
    );

    api.put<{ Params: { code: string }; Body: Body }>(
      '/api/staff/catalogue/types/:code',
      {
        schema: {
          tags,
          summary: 'Create or change a certificate type and its prices (new orders only)',
          body: { type: 'object' },
        },
        preHandler: need('catalogue.write'),
      },
      async (req) => {
        await catalogue.saveType(ctx(req), { ...(req.body as unknown as TypeInput), code: req.params.code });
        return catalogue.get();
      },
    );

    api.put<{ Body: Body }>(
      '/api/staff/settings/payment-methods',
      { schema: { tags, summary: 'Enabled payment methods', body: { type: 'object' } }, preHandler: need('catalogue.write') },
      async (req) => ({
        paymentMethods: await catalogue.setPaymentMethods(ctx(req), req.body?.paymentMethods),
      }),
    );

    api.put<{ Body: Body }>(
      '/api/staff/settings/remittance',
      {
        schema: { tags, summary: 'Remittance instructions shown to holders', body: { type: 'object' } },
        preHandler: need('catalogue.write'),
      },
      async (req) => ({
        remittance: await catalogue.setRemittance(ctx(req), req.body ?? {}),
      }),
    );

    api.put<{ Body: Body }>(
      '/api/staff/settings/invoice-issuer',
      {
        schema: { tags, summary: 'Who issues invoices; whether paper invoices are mailed', body: { type: 'object' } },
        preHandler: need('catalogue.write'),
      },
      async (req) => ({
        invoiceIssuer: await catalogue.setInvoiceIssuer(ctx(req), req.body ?? {}),
      }),
    );

    // ---- audit -------------------------------------------------------------------------------
    const auditFilter = (q: Q) => {
      const from = timeParam(q.from, 'from');
      const to = timeParam(q.to, 'to', true);
      return {
        ...(q.actor ? { actor: q.actor } : {}),
        ...(q.action ? { action: q.action } : {}),
        ...(q.target ? { target: q.target } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
      };
    };

    api.get<{ Querystring: Q }>(
      '/api/staff/audit',
      { schema: { tags, summary: 'Audit entries, newest first (keyset: beforeSeq)' }, preHandler: need('audit.read') },
      async (req) => {
        const limit = Math.max(1, Math.min(200, Number.parseInt(req.query.limit ?? '50', 10) || 50));
        const beforeSeq = req.query.beforeSeq ? Number.parseInt(req.query.beforeSeq, 10) : undefined;
        const rows = await audit.browse({ ...auditFilter(req.query), ...(beforeSeq ? { beforeSeq } : {}), limit: limit + 1 });
        return { items: rows.slice(0, limit).map(auditView), nextBeforeSeq: rows.length > limit ? rows[limit - 1]!.seq : null };
      },
    );

    api.get<{ Querystring: Q }>(
      '/api/staff/audit.csv',
      { schema: { tags, summary: 'Export audit entries (CSV, UTF-8 with BOM)' }, preHandler: need('audit.read') },
      async (req, reply) => {
        const filter = auditFilter(req.query);
        await writeAuditExport(rt, ctx(req), filter);
        reply.header('content-disposition', `attachment; filename="certdesk-audit-${new Date().toISOString().slice(0, 10)}.csv"`);
        reply.type('text/csv; charset=utf-8');
        return reply.send(Readable.from(audit.exportCsv(filter)));
      },
    );

    api.get(
      '/api/staff/audit/verify',
      { schema: { tags, summary: 'Check the audit hash chain' }, preHandler: need('audit.read') },
      async () => audit.verify(),
    );

    // ---- key recovery (kmc) ------------------------------------------------------------------
    registerStaffKmcRoutes(api, rt, accounts);

    // ---- accounts (admin) --------------------------------------------------------------------
    api.get(
      '/api/staff/accounts',
      { schema: { tags, summary: 'Staff accounts' }, preHandler: need('staff.manage') },
      async () => ({ items: (await accounts.list()).map((a) => staffView(a)) }),
    );

    api.post<{ Body: Body }>(
      '/api/staff/accounts',
      {
        schema: {
          tags,
          summary: 'Create a staff account (password shown once; TOTP enrolled at first login)',
          body: { type: 'object' },
        },
        preHandler: need('staff.manage'),
      },
      async (req, reply) => {
        const roles = req.body?.roles;
        if (!Array.isArray(roles)) throw invalid({ en: 'roles must be a list', zh: 'roles 须为角色列表' }, 'roles');
        const created = await accounts.create(
          { username: str(req.body, 'username'), displayName: str(req.body, 'displayName', false), roles: roles.map(String) },
          ctx(req).actor,
        );
        return reply.code(201).send({ account: staffView(created.account), password: created.password });
      },
    );

    api.patch<{ Params: { id: string }; Body: Body }>(
      '/api/staff/accounts/:id',
      { schema: { tags, summary: 'Change roles, name, disabled', body: { type: 'object' } }, preHandler: need('staff.manage') },
      async (req) => {
        const b = req.body ?? {};
        const a = await accounts.update(
          Number(req.params.id),
          {
            ...(Array.isArray(b.roles) ? { roles: b.roles.map(String) } : {}),
            ...(typeof b.displayName === 'string' ? { displayName: b.displayName } : {}),
            ...(typeof b.disabled === 'boolean' ? { disabled: b.disabled } : {}),
          },
          ctx(req).actor,
        );
        return { account: staffView(a) };
      },
    );

    api.post<{ Params: { id: string } }>(
      '/api/staff/accounts/:id/reset-password',
      { schema: { tags, summary: 'A new random password (shown once)' }, preHandler: need('staff.manage') },
      async (req) => ({
        password: await accounts.resetPassword(Number(req.params.id), ctx(req).actor),
      }),
    );

    api.post<{ Params: { id: string } }>(
      '/api/staff/accounts/:id/reset-totp',
      { schema: { tags, summary: 'New TOTP secret, enrolled at the next login' }, preHandler: need('staff.manage') },
      async (req, reply) => {
        await accounts.resetTotp(Number(req.params.id), ctx(req).actor);
        return reply.code(204).send();
      },
    );

    api.post<{ Params: { id: string } }>(
      '/api/staff/accounts/:id/unlock',
      { schema: { tags, summary: 'Unlock after failed logins' }, preHandler: need('staff.manage') },
      async (req, reply) => {
        await accounts.unlock(Number(req.params.id), ctx(req).actor);
        return reply.code(204).send();
      },
    );
  });
}

async function writeAuditExport(rt: Runtime, c: StaffContext, filter: Record<string, unknown>): Promise<void> {
  await writeTransaction(rt.storage, (tx) =>
    appendAudit(tx, [{ actor: c.actor, action: 'audit.exported', target: null, details: { filter } }]),
  );
}
