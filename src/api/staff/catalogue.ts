// The catalogue (certificate types and prices) and settings (payment methods, remittance, invoice issuer).
import { StaffCatalogue, type SealTypeInput, type TypeInput, type UpgradePathInput } from '../../staff/catalogue.js';
import type { Body } from './params.js';
import type { StaffRoutes } from './staff-routes.js';
import type { CatalogueView } from './shapes.js';

export function registerStaffCatalogueRoutes({ api, rt, need, ctx, tags }: StaffRoutes): void {
  const catalogue = new StaffCatalogue(rt);
  api.get(
    '/api/staff/catalogue',
    {
      schema: { tags, summary: 'Certificate types, prices, payment methods, remittance, invoice issuer' },
      preHandler: need('catalogue.read'),
    },
    async (): Promise<CatalogueView> => catalogue.get(),
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

  api.put<{ Params: { code: string }; Body: Body }>(
    '/api/staff/catalogue/seal-types/:code',
    {
      schema: {
        tags,
        summary: 'Create or change a seal type (印章种类): price, validity (new applications only)',
        body: { type: 'object' },
      },
      preHandler: need('catalogue.write'),
    },
    async (req) => {
      await catalogue.saveSealType(ctx(req), { ...(req.body as unknown as SealTypeInput), code: req.params.code });
      return catalogue.get();
    },
  );

  api.put<{ Params: { from: string; to: string }; Body: Body }>(
    '/api/staff/catalogue/upgrade-paths/:from/:to',
    {
      schema: {
        tags,
        summary: 'Create or change an upgrade path (升级证书): price, term, carry-over, new key, open or closed',
        body: { type: 'object' },
      },
      preHandler: need('catalogue.write'),
    },
    async (req) => {
      await catalogue.saveUpgradePath(ctx(req), {
        ...(req.body as unknown as UpgradePathInput),
        fromType: req.params.from,
        toType: req.params.to,
      });
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
    '/api/staff/settings/reminder-days',
    {
      schema: {
        tags,
        summary: 'Days before expiry at which reminder mails go out (default 90, 60, 30, 7, 3)',
        body: { type: 'object' },
      },
      preHandler: need('catalogue.write'),
    },
    async (req) => ({ reminderDays: await catalogue.setReminderDays(ctx(req), req.body?.reminderDays) }),
  );

  api.put<{ Body: Body }>(
    '/api/staff/settings/change-price',
    {
      schema: {
        tags,
        summary: 'The price of a change of certificate details (变更证书), in fen; 0: free',
        body: { type: 'object' },
      },
      preHandler: need('catalogue.write'),
    },
    async (req) => ({ changePriceFen: await catalogue.setChangePrice(ctx(req), req.body?.priceFen) }),
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
}
