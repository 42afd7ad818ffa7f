// 印章申请 end to end through the HTTP APIs: each refused input with the field it names, a rejection
// the holder reads, and approval + payment (in either order, and raced) making exactly one seal.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import type { MakeSeal } from '../src/ra/seal-applications.js';
import { checkSealPng } from '../src/seal/seal-picture.js';
import type { SealApplicationView, SealReviewView, SealTypeView } from '../src/shared/seal-views.js';
import { sm2SignSync } from '../src/pki/sm2.js';
import { assembleSeal, encodeSealInfo, parseSeal } from '../src/pki/ses-seal.js';
import { verifySeal } from '../src/pki/ses-verify.js';
import { getSealByOrder } from '../src/sa/seals.js';
import { BACKENDS } from './helpers/backends.js';
import { noticeMail } from './helpers/notices.js';
import { opensslSm2, scratch } from './helpers/sm2.js';
import { createHolder, ORDER_FORM, PortalClient, serveTestCa, type ServedCa, type TestHolder } from './helpers/holder.js';
import { loggedInStaff, type StaffClient } from './helpers/staff.js';

const ORG = '北京示例科技有限公司';
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
const doc = (content = PDF, fileName = '公安备案.pdf') => ({ fileName, contentBase64: content.toString('base64') });

function roundPng(opaque = false): Buffer {
  const img = new PNG({ width: 200, height: 200 });
  for (let y = 0; y < 200; y++)
    for (let x = 0; x < 200; x++) {
      const inside = (x - 100) ** 2 + (y - 100) ** 2 < 90 ** 2;
      img.data.set(inside || opaque ? [230, 0, 18, 255] : [0, 0, 0, 0], (y * 200 + x) * 4);
    }
  return PNG.sync.write(img);
}

const fromDataUrl = (u: string): Buffer => Buffer.from(u.replace(/^data:image\/png;base64,/, ''), 'base64');

for (const backend of BACKENDS) {
  describe(`seal applications (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let holder: TestHolder;
    let portal: PortalClient;
    let reviewer: StaffClient;
    let cashier: StaffClient;
    let admin: StaffClient;
    const made: string[] = [];
    /** the seals the maker made, by esID */
    const seals = new Map<string, Buffer>();
    const s = scratch('portal-seal');
    const maker = opensslSm2(s, 'maker', '/CN=制章单位/O=Test CA/C=CN');
    after(() => s.cleanup());
    let failNext = false;

    before(async () => {
      served = await serveTestCa({ postgres: backend.postgres });
      const { ca, base, origin } = served;
      // The seal maker records each call; like the real one it returns one seal per order. Slow on
      // purpose, so racing callers overlap.
      const makeSeal: MakeSeal = async (input) => {
        if (failNext) {
          failNext = false;
          throw new Error('the seal maker is unreachable');
        }
        made.push(input.orderId!);
        assert.ok(input.holderSigningCertDer.equals(holder.certDer), 'bound to the holder’s signing certificate');
        checkSealPng(input.picture.png);
        await new Promise((r) => setTimeout(r, 200));
        // a real GB/T 38540 seal from the codec, signed by a maker key, so the test can verify what
        // the application asked for ended up in it
        const esId = `ES${input.orderId}`;
        const now = Date.now();
        const info = encodeSealInfo({
          vendorId: 'certdesk-test',
          esId,
          type: 1,
          name: input.name,
          holderCerts: [input.holderSigningCertDer],
          createDate: new Date(now),
          validStart: new Date(now),
          validEnd: new Date(now + (input.days ?? 365) * 86_400_000),
          picture: { type: 'png', data: input.picture.png, widthMm: input.picture.widthMm, heightMm: input.picture.heightMm },
        });
        seals.set(esId, assembleSeal(info, maker.certDer, sm2SignSync(maker.key, info)));
        return { esId };
      };
      ca.rt.seals.opts.makeSeal = makeSeal;
      holder = await createHolder(ca, { name: ORG, days: 365 });
      portal = new PortalClient(base, origin);
      assert.equal((await portal.login(holder)).status, 200);
      reviewer = await loggedInStaff(ca.rt, base, origin, ['reviewer']);
      cashier = await loggedInStaff(ca.rt, base, origin, ['operator']);
      admin = await loggedInStaff(ca.rt, base, origin, ['admin']);
    });
    after(async () => served?.close());

    const apply = (body: Record<string, unknown>) =>
      portal.call<{ application: SealApplicationView; error?: string; field?: string; message?: string }>(
        'POST',
        '/api/portal/seals/applications',
        { ...ORDER_FORM, typeCode: 'contract', name: '合同章测试', picture: { source: 'generated' }, document: doc(), ...body },
      );
    const mine = async () =>
      (await portal.call<{ applications: SealApplicationView[] }>('GET', '/api/portal/seals')).body.applications;

    test('the catalogue offers the five seal types; the preview is a seal PNG; a 单位公章 must carry the organisation', async () => {
      const t = await portal.call<{ types: SealTypeView[] }>('GET', '/api/portal/seals/types');
      assert.equal(t.status, 200);
      assert.deepEqual(
        t.body.types.map((x) => x.name).sort(),
        ['单位公章', '合同专用章', '财务专用章', '发票专用章', '法定代表人名章'].sort(),
      );
      const bad = await portal.call<{ field: string; message: string }>('POST', '/api/portal/seals/preview', {
        typeCode: 'official',
        name: '别的公司',
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.field, 'name');
      assert.match(bad.body.message, new RegExp(ORG));
      const ok = await portal.call<{ picture: string; widthMm: number }>('POST', '/api/portal/seals/preview', {
        typeCode: 'official',
        name: ORG,
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.widthMm, 42);
      assert.ok(checkSealPng(fromDataUrl(ok.body.picture)).widthPx >= 480);
    });

    test('bad picture, bad name, bad document, bad type: refused with the field, nothing recorded', async () => {
      const cases: [Record<string, unknown>, string, RegExp][] = [
        [{ picture: { source: 'uploaded', contentBase64: PDF.toString('base64') } }, 'picture', /not a PNG/],
        [{ picture: { source: 'uploaded', contentBase64: roundPng(true).toString('base64') } }, 'picture', /transparent/],
        [{ typeCode: 'official', name: '北京别的公司' }, 'name', /must be the organisation/],
        [{ name: '' }, 'name', /required/],
        [{ document: doc(Buffer.from('just text')) }, 'document', /not a PDF, JPG or PNG/],
        [{ document: doc(Buffer.concat([PDF, Buffer.alloc(5 * 1024 * 1024)])) }, 'document', /at most 5 MB/],
        [{ typeCode: 'nope' }, 'typeCode', /no seal type/],
        [{ phone: '12' }, 'phone', /联系电话/],
      ];
      for (const [body, field, message] of cases) {
        const r = await apply(body);
        assert.equal(r.status, 400, `${field}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.field, field);
        assert.match(String(r.body.message), message);
      }
      assert.deepEqual(await mine(), []);
    });

    test('a rejection needs a reason, the holder sees it, the unpaid order is cancelled, nothing is made', async () => {
      const r = await apply({
        picture: { source: 'uploaded', contentBase64: roundPng().toString('base64') },
        email: 'seal@example.test',
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = r.body.application.orderId;
      assert.equal(r.body.application.pictureSource, 'uploaded');
      const queue = await reviewer.call<{ items: SealReviewView[] }>('GET', '/api/staff/seal-reviews');
      const item = queue.body.items.find((x) => x.orderId === id)!;
      assert.equal(item.holder.name, ORG);
      assert.equal(item.sealName, '合同章测试');
      const file = await reviewer.call('GET', `/api/staff/seal-reviews/${id}/document`);
      assert.equal(file.status, 200);
      assert.ok(file.raw.equals(PDF), 'the reviewer downloads exactly the uploaded document');
      // under the holder's own file name (RFC 6266 filename* in UTF-8), not its percent-encoding
      assert.equal(
        file.headers.get('content-disposition'),
        `attachment; filename="____.pdf"; filename*=UTF-8''${encodeURIComponent('公安备案.pdf')}`,
      );
      assert.equal(file.headers.get('x-content-type-options'), 'nosniff');
      const forbidden = await cashier.call('POST', `/api/staff/seal-reviews/${id}/decision`, { approve: true });
      assert.equal(forbidden.status, 403);
      const noReason = await reviewer.call<{ field: string }>('POST', `/api/staff/seal-reviews/${id}/decision`, {
        approve: false,
      });
      assert.equal(noReason.status, 400);
      assert.equal(noReason.body.field, 'reason');
      const rej = await reviewer.call('POST', `/api/staff/seal-reviews/${id}/decision`, {
        approve: false,
        reason: '公安备案材料与印章名称不一致',
      });
      assert.equal(rej.status, 200, JSON.stringify(rej.body));
      const again = await reviewer.call('POST', `/api/staff/seal-reviews/${id}/decision`, { approve: true });
      assert.equal(again.status, 409);
      const seen = (await mine()).find((x) => x.orderId === id)!;
      assert.equal(seen.reviewState, 'rejected');
      assert.equal(seen.reason, '公安备案材料与印章名称不一致');
      assert.equal(seen.orderState, 'cancelled');
      assert.equal(seen.esId, null);
      const mail = await noticeMail(served.ca.rt, `mail:seal_rejected:${id}`);
      assert.equal(mail.to, 'seal@example.test');
      assert.match(mail.subject, /印章申请未通过审核/);
      assert.match(mail.text, /原因：公安备案材料与印章名称不一致/);
      assert.ok(!made.includes(id));
    });

    test('paid online, then approved while the holder’s page and the job race: one seal', async () => {
      const r = await apply({ typeCode: 'official', name: ORG });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = r.body.application.orderId;
      const pay = await portal.call<{ redirectUrl: string }>('POST', `/api/portal/orders/${id}/pay`);
      assert.equal(pay.status, 200, JSON.stringify(pay.body));
      const pageUrl = new URL(pay.body.redirectUrl);
      const page = await (await fetch(`${served.base}${pageUrl.pathname}${pageUrl.search}`)).text();
      const tradeNo = /name="trade_no" value="([^"]+)"/.exec(page)![1]!;
      const done = await fetch(`${served.base}/sandbox-pay/pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `trade_no=${tradeNo}&bank=${encodeURIComponent('招商银行')}`,
      });
      assert.match(await done.text(), /支付成功/);
      await portal.call('GET', `/api/portal/orders/${id}`); // the return page reconciles
      let seen = (await mine()).find((x) => x.orderId === id)!;
      assert.equal(seen.orderState, 'paid');
      assert.equal(seen.esId, null, 'paid but not approved: nothing made');
      assert.ok(!made.includes(id));
      const [decision] = await Promise.all([
        reviewer.call<{ application: SealReviewView }>('POST', `/api/staff/seal-reviews/${id}/decision`, { approve: true }),
        mine(),
        mine(),
        served.ca.rt.seals.makeDue(),
      ]);
      assert.equal(decision.status, 200, JSON.stringify(decision.body));
      await served.ca.rt.seals.makeDue();
      seen = (await mine()).find((x) => x.orderId === id)!;
      assert.equal(seen.esId, `ES${id}`);
      assert.equal(seen.orderState, 'issued');
      assert.ok(seen.validUntil);
      assert.equal(made.filter((x) => x === id).length, 1, 'made exactly once');
      // the seal made verifies, and carries the name, the holder's certificate and the picture applied for
      const der = seals.get(seen.esId!)!;
      const v = verifySeal(der, { makerIssuers: [maker.certDer] });
      assert.ok(v.ok, JSON.stringify(!v.ok && v));
      const parsed = parseSeal(der);
      assert.equal(parsed.name, ORG);
      assert.deepEqual(parsed.certList, [holder.certDer]);
      assert.ok(parsed.picture.data.equals(fromDataUrl(seen.picture)));
      assert.equal(parsed.picture.widthMm, 42);
      const w = await portal.call('POST', `/api/portal/seals/${id}/written`);
      assert.equal(w.status, 200, JSON.stringify(w.body));
      assert.equal((await mine()).find((x) => x.orderId === id)!.orderState, 'completed');
    });

    test('approved first, paid by bank transfer later: the confirmation makes the seal', async () => {
      const r = await apply({ typeCode: 'finance', name: '财务章测试', paymentMethod: 'bank' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = r.body.application.orderId;
      assert.equal((await reviewer.call('POST', `/api/staff/seal-reviews/${id}/decision`, { approve: true })).status, 200);
      assert.equal((await mine()).find((x) => x.orderId === id)!.esId, null, 'approved but unpaid: nothing made');
      const order = await served.ca.rt.renewals.order(id);
      const pay = await cashier.call('POST', `/api/staff/orders/${id}/confirm-payment`, {
        reference: order.reference,
        amountFen: order.amount_fen,
      });
      assert.equal(pay.status, 200, JSON.stringify(pay.body));
      const seen = (await mine()).find((x) => x.orderId === id)!;
      assert.equal(seen.esId, `ES${id}`);
      assert.equal(made.filter((x) => x === id).length, 1);
    });
    test('staff edit seal types: a new price applies to new applications; a withdrawn type is not offered', async () => {
      const type = { code: 'invoice', name: '发票专用章', nameEn: 'Invoice seal', validityDays: 730, nameIsOrganization: false };
      const bad = await admin.call<{ field: string }>('PUT', '/api/staff/catalogue/seal-types/invoice', { ...type, priceFen: 0 });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.field, 'priceFen');
      const denied = await reviewer.call('PUT', '/api/staff/catalogue/seal-types/invoice', { ...type, priceFen: 12345 });
      assert.equal(denied.status, 403);
      const ok = await admin.call<{ sealTypes: SealTypeView[] }>('PUT', '/api/staff/catalogue/seal-types/invoice', {
        ...type,
        priceFen: 12345,
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.sealTypes.find((x) => x.code === 'invoice')?.priceFen, 12345);
      const r = await apply({ typeCode: 'invoice', name: '发票章测试' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.application.amountFen, 12345);
      assert.equal(r.body.application.validityDays, 730);
      await admin.call('PUT', '/api/staff/catalogue/seal-types/invoice', { ...type, priceFen: 12345, active: false });
      const types = await portal.call<{ types: SealTypeView[] }>('GET', '/api/portal/seals/types');
      assert.ok(!types.body.types.some((x) => x.code === 'invoice'));
      const refused = await apply({ typeCode: 'invoice', name: '发票章测试' });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.field, 'typeCode');
    });
    test('the maker fails at approval: the approval stands, the order job makes the seal later, once', async () => {
      const r = await apply({ typeCode: 'legal_rep', name: '张三', paymentMethod: 'bank' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = r.body.application.orderId;
      const order = await served.ca.rt.renewals.order(id);
      const pay = await cashier.call('POST', `/api/staff/orders/${id}/confirm-payment`, {
        reference: order.reference,
        amountFen: order.amount_fen,
      });
      assert.equal(pay.status, 200);
      failNext = true;
      const d = await reviewer.call<{ application: SealReviewView }>('POST', `/api/staff/seal-reviews/${id}/decision`, {
        approve: true,
      });
      assert.equal(d.status, 200, JSON.stringify(d.body));
      assert.equal(d.body.application.reviewState, 'approved');
      assert.equal(d.body.application.esId, null);
      assert.equal(d.body.application.orderState, 'issuing', 'claimed, not finished');
      assert.equal(await served.ca.rt.seals.makeDue(), 1);
      assert.equal(await served.ca.rt.seals.makeDue(), 0);
      const seen = (await mine()).find((x) => x.orderId === id)!;
      assert.equal(seen.esId, `ES${id}`);
      assert.equal(seen.orderState, 'issued');
      assert.equal(made.filter((x) => x === id).length, 1);
    });
  });
}

describe('seal applications with the CA’s seal maker (SM2 hierarchy)', () => {
  let served: ServedCa;
  after(async () => served?.close());

  test('approved and paid: the CA makes one GB/T 38540 seal that verifies, bound to the holder’s certificate', async () => {
    served = await serveTestCa({ keyType: 'both' });
    const { ca, base, origin } = served;
    const holder = await createHolder(ca, { name: ORG, days: 365 });
    const portal = new PortalClient(base, origin);
    assert.equal((await portal.login(holder)).status, 200);
    const reviewer = await loggedInStaff(ca.rt, base, origin, ['reviewer']);
    const cashier = await loggedInStaff(ca.rt, base, origin, ['operator']);
    const r = await portal.call<{ application: SealApplicationView }>('POST', '/api/portal/seals/applications', {
      ...ORDER_FORM,
      paymentMethod: 'bank',
      typeCode: 'official',
      name: ORG,
      picture: { source: 'generated' },
      document: doc(),
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.application.orderId;
    const order = await ca.rt.renewals.order(id);
    const d = reviewer.call('POST', `/api/staff/seal-reviews/${id}/decision`, { approve: true });
    const p = cashier.call('POST', `/api/staff/orders/${id}/confirm-payment`, {
      reference: order.reference,
      amountFen: order.amount_fen,
    });
    assert.equal((await d).status, 200);
    assert.equal((await p).status, 200);
    await ca.rt.seals.makeDue();
    const seen = (await portal.call<{ applications: SealApplicationView[] }>('GET', '/api/portal/seals')).body.applications[0]!;
    assert.ok(seen.esId, JSON.stringify(seen));
    assert.equal(seen.orderState, 'issued');
    const rec = await getSealByOrder(ca.rt.storage.db, id);
    assert.equal(rec?.es_id, seen.esId);
    const v = verifySeal(Buffer.from(rec!.der));
    assert.ok(v.ok, JSON.stringify(!v.ok && v));
    const parsed = parseSeal(Buffer.from(rec!.der));
    assert.equal(parsed.name, ORG);
    assert.deepEqual(parsed.certList, [holder.certDer]);
    assert.ok(parsed.picture.data.equals(fromDataUrl(seen.picture)));
    const file = await portal.call('GET', `/api/portal/seals/${id}/seal.der`);
    assert.equal(file.status, 200);
    assert.ok(file.raw.equals(Buffer.from(rec!.der)), 'the holder downloads exactly the seal made');
    assert.equal((await portal.call('GET', '/api/portal/seals/S-nope/seal.der')).status, 404);
  });
});
