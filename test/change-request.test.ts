// 变更证书 through the HTTP APIs: each refused request names its field (document type by content,
// size, the 唯一识别号, nothing changed); a change and a renewal of one certificate block each other
// naming the open order; the reviewer's rejection reaches the holder; an approved ¥0 change is paid at
// once and issues the new subject with the same 唯一识别号 and end; the install revokes the old
// certificate affiliationChanged; a seal named after the old organisation is marked for a new
// application; a charged change takes no money before approval, nor from its approver (four eyes).
// On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IssueView, OrderView } from '../src/api/portal/shapes.js';
import { parseCertificate } from '../src/pki/certificate.js';
import { attributeValue } from '../src/pki/name.js';
import { REVOCATION_REASONS } from '../src/shared/revocation-reasons.js';
import { recordPayment } from '../src/ra/payment-ledger.js';
import { getCertificate } from '../src/sa/certificates.js';
import { getHolder } from '../src/sa/holders.js';
import { getSeal } from '../src/sa/seals.js';
import type { ChangeRequestView, ChangeReviewView, ChangeTermsView } from '../src/shared/change-views.js';
import type { SealApplicationView } from '../src/shared/seal-views.js';
import { BACKENDS } from './helpers/backends.js';
import { noticeMail, noticeSms } from './helpers/notices.js';
import { createHolder, ORDER_FORM, PortalClient, serveTestCa, type ServedCa, type TestHolder } from './helpers/holder.js';
import { createStaff, loggedInStaff, StaffClient, type TestStaff } from './helpers/staff.js';

const ORG = '上海旧名称科技有限公司';
const NEW_ORG = '上海新名称科技股份有限公司';
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
const EXE = Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00', 'latin1'), Buffer.alloc(64)]);
const doc = (content = PDF, fileName = '营业执照.pdf') => ({ fileName, contentBase64: content.toString('base64') });
const CONTACT = { recipient: ORDER_FORM.recipient, phone: ORDER_FORM.phone };

type Err = { error: string; message: string; field?: string; orderId?: string };

for (const backend of BACKENDS) {
  describe(`变更证书 (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let holder: TestHolder;
    let portal: PortalClient;
    let reviewer: StaffClient;
    let operator: StaffClient;
    let admin: StaffClient;
    const uniqueId = `UID${Math.floor(Math.random() * 1e12)}`;
    let sealOrder = '';
    let esId = '';

    before(async () => {
      served = await serveTestCa({ keyType: 'both', postgres: backend.postgres });
      const { ca, base, origin } = served;
      // inside the renewal window, so a renewal can be opened too
      holder = await createHolder(ca, { keyType: 'sm2', name: ORG, uniqueId, days: 60 });
      portal = new PortalClient(base, origin);
      assert.equal((await portal.login(holder)).status, 200);
      reviewer = await loggedInStaff(ca.rt, base, origin, ['reviewer']);
      operator = await loggedInStaff(ca.rt, base, origin, ['operator']);
      admin = await loggedInStaff(ca.rt, base, origin, ['admin']);
    });
    after(async () => served?.close());

    const submit = (body: Record<string, unknown>, client = portal) =>
      client.call<{ change: ChangeRequestView } & Err>('POST', '/api/portal/changes', {
        ...CONTACT,
        organization: NEW_ORG,
        reason: '工商登记名称变更',
        documents: [doc()],
        ...body,
      });
    const decide = (id: string, body: Record<string, unknown>, who = reviewer) =>
      who.call<{ change: ChangeReviewView } & Err>('POST', `/api/staff/change-reviews/${id}/decision`, body);
    const mySeals = async () =>
      (await portal.call<{ applications: SealApplicationView[] }>('GET', '/api/portal/seals')).body.applications;

    test('a 单位公章 named after the organisation, applied for, approved, paid and made', async () => {
      const r = await portal.call<{ application: SealApplicationView }>('POST', '/api/portal/seals/applications', {
        ...ORDER_FORM,
        paymentMethod: 'bank',
        typeCode: 'official',
        name: ORG,
        picture: { source: 'generated' },
        document: doc(PDF, '公安备案.pdf'),
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      sealOrder = r.body.application.orderId;
      assert.equal((await reviewer.call('POST', `/api/staff/seal-reviews/${sealOrder}/decision`, { approve: true })).status, 200);
      await recordPayment(served.ca.rt.storage, {
        orderId: sealOrder,
        channel: 'bank',
        tradeNo: `B${sealOrder}`,
        amountFen: r.body.application.amountFen,
        paidAt: Date.now(),
        raw: {},
        actor: 'test',
      });
      const app = (await mySeals()).find((a) => a.orderId === sealOrder)!;
      assert.ok(app.esId, 'the seal is made');
      assert.equal(app.reapply, null);
      esId = app.esId;
    });

    test('the change page: the organisation fields, the current values, free of charge', async () => {
      const t = await portal.call<ChangeTermsView>('GET', '/api/portal/change');
      assert.equal(t.status, 200, JSON.stringify(t.body));
      assert.equal(t.body.holderKind, 'org');
      assert.deepEqual(t.body.fields, ['organization', 'province', 'locality', 'legalRepresentative']);
      assert.equal(t.body.current.organization, ORG);
      assert.equal(t.body.uniqueId, uniqueId);
      assert.equal(t.body.priceFen, 0);
      assert.equal(t.body.openOrder, null);
    });

    test('refused, naming the field, with nothing recorded: type by content, size, 唯一识别号, nothing to change', async () => {
      const cases: [Record<string, unknown>, string, RegExp][] = [
        [{ documents: [doc(EXE, '营业执照.pdf')] }, 'documents[0]', /not a PDF, JPG or PNG file \(checked by its content\)/],
        [{ documents: [doc(), doc(Buffer.from('plain text'), '变更通知书.pdf')] }, 'documents[1]', /not a PDF, JPG or PNG/],
        [{ documents: [doc(Buffer.concat([PDF, Buffer.alloc(5 * 1024 * 1024)]))] }, 'documents[0]', /at most 5 MB/],
        [{ documents: [] }, 'documents', /营业执照/],
        [{ uniqueId: 'UID-SOMEONE-ELSE' }, 'uniqueId', /唯一识别号 cannot be changed.*different holder/],
        [{ organization: ORG }, 'changes', /nothing to change/],
        [{ personName: '张三' }, 'personName', /not a detail of an organisation certificate/],
        [{ organization: `${'名'.repeat(65)}` }, 'organization', /at most 64/],
        [{ organization: 'A\u200bB' }, 'organization', /invisible/],
        [{ reason: '' }, 'reason', /变更原因 is required/],
        [{ phone: '12' }, 'phone', /联系电话/],
      ];
      for (const [body, field, message] of cases) {
        const r = await submit(body);
        assert.equal(r.status, 400, `${field}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.field, field, JSON.stringify(r.body));
        assert.match(r.body.message, message);
      }
      // the same 唯一识别号, as printed on the certificate, is no change and no refusal
      assert.equal((await portal.call<{ changes: unknown[] }>('GET', '/api/portal/changes')).body.changes.length, 0);
    });

    test('an open renewal blocks a change, naming the order', async () => {
      const renewal = await portal.call<{ order: OrderView }>('POST', '/api/portal/orders', ORDER_FORM);
      assert.equal(renewal.status, 201, JSON.stringify(renewal.body));
      const id = renewal.body.order.id;
      const blocked = await submit({});
      assert.equal(blocked.status, 409);
      assert.equal(blocked.body.error, 'order_open');
      assert.equal(blocked.body.orderId, id);
      assert.match(blocked.body.message, new RegExp(`order ${id} \\(更新证书\\)`));
      assert.equal((await portal.call<ChangeTermsView>('GET', '/api/portal/change')).body.openOrder?.id, id);
      assert.equal((await portal.call('POST', `/api/portal/orders/${id}/cancel`)).status, 200);
    });

    test('a rejection needs a reason; the holder reads it (portal, mail, SMS); the order is cancelled', async () => {
      const r = await submit({ locality: '浦东新区', email: 'change@example.test', phone: '13800138000' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = r.body.change.orderId;
      assert.match(id, /^C\d{8}-/);
      assert.equal((await decide(id, { approve: false })).body.field, 'reason');
      const forbidden = await decide(id, { approve: true }, operator);
      assert.equal(forbidden.status, 403);
      const rej = await decide(id, { approve: false, reason: '营业执照上的名称与申请不符' });
      assert.equal(rej.status, 200, JSON.stringify(rej.body));
      assert.equal(rej.body.change.reviewState, 'rejected');
      assert.equal((await decide(id, { approve: true })).status, 409, 'decided once');
      const seen = await portal.call<{ change: ChangeRequestView }>('GET', `/api/portal/changes/${id}`);
      assert.equal(seen.body.change.reviewState, 'rejected');
      assert.equal(seen.body.change.reviewReason, '营业执照上的名称与申请不符');
      assert.equal(seen.body.change.orderState, 'cancelled');
      assert.deepEqual(seen.body.change.sealsToReapply, []);
      const mail = await noticeMail(served.ca.rt, `mail:change_rejected:${id}`);
      assert.equal(mail.to, 'change@example.test', 'the form’s 电子邮箱 is the holder’s contact');
      assert.match(mail.subject, /证书变更未通过审核/);
      assert.match(mail.text, /原因：营业执照上的名称与申请不符/);
      const sms = await noticeSms(served.ca.rt, `sms:change_rejected:${id}`);
      assert.equal(sms.to, '13800138000', 'SMS to the mobile number');
      assert.match(sms.body, /变更申请.*未通过审核，原因：营业执照上的名称与申请不符/);
    });

    let changeId = '';
    test('a change: old and new side by side for the reviewer, documents for holder and staff only', async () => {
      const r = await submit({
        locality: '上海市',
        legalRepresentative: '李四',
        uniqueId: uniqueId.toLowerCase(), // the same 唯一识别号, however it is typed, is not a change
        documents: [doc(), doc(PNG, '变更通知书.pdf')],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const c = r.body.change;
      changeId = c.orderId;
      assert.equal(c.orderState, 'awaiting_payment');
      assert.equal(c.reviewState, 'pending');
      assert.equal(c.amountFen, 0);
      assert.deepEqual(
        c.changes.map((x) => [x.field, x.old, x.new]),
        [
          ['organization', ORG, NEW_ORG],
          ['locality', null, '上海市'],
          ['legalRepresentative', null, '李四'],
        ],
      );
      // the type comes from the bytes: a PNG named .pdf is kept as a PNG
      assert.deepEqual(
        c.documents.map((d) => d.mediaType),
        ['application/pdf', 'image/png'],
      );
      assert.match(c.newSubject, new RegExp(`CN=${NEW_ORG}.*O=${NEW_ORG}`));
      assert.match(c.newSubject, new RegExp(`serialNumber=${uniqueId}`));
      assert.deepEqual(
        c.sealsToReapply.map((s) => [s.esId, s.marked]),
        [[esId, false]],
        'the holder is told before approval which seals will need a new application',
      );

      // a renewal while the change is open is refused, naming the change
      const renewal = await portal.call<Err>('POST', '/api/portal/orders', ORDER_FORM);
      assert.equal(renewal.status, 409);
      assert.equal(renewal.body.orderId, changeId);
      assert.match(renewal.body.message, new RegExp(changeId));
      // and nothing is issued before approval
      const req = await holder.renewalRequest(changeId);
      const early = await portal.call<Err>('POST', `/api/portal/orders/${changeId}/issue`, {
        csr: req.csr.toString('base64'),
        proof: req.proof.toString('base64'),
      });
      assert.equal(early.status, 409);
      assert.equal(early.body.error, 'order_not_paid');

      const queue = await reviewer.call<{ items: ChangeReviewView[] }>('GET', '/api/staff/change-reviews');
      const item = queue.body.items.find((x) => x.orderId === changeId)!;
      assert.ok(item, 'in the pending queue');
      assert.equal(item.holder.uniqueId, uniqueId);
      assert.equal(item.legalRepresentative, '李四');
      assert.equal(item.changes[0]!.old, ORG);
      const file = await reviewer.call('GET', item.documents[0]!.url);
      assert.equal(file.status, 200);
      assert.ok(file.raw.equals(PDF), 'the reviewer downloads exactly the uploaded bytes');
      assert.equal(file.headers.get('cache-control'), 'private, no-store');
      assert.equal(
        file.headers.get('content-disposition'),
        `attachment; filename="____.pdf"; filename*=UTF-8''${encodeURIComponent('营业执照.pdf')}`,
      );
      assert.equal(
        (await portal.call('GET', c.documents[1]!.url)).raw.equals(PNG),
        true,
        'the holder downloads their own document',
      );
      // nobody else: another holder, or no session at all
      const other = await createHolder(served.ca, { name: '别的单位' });
      const otherPortal = new PortalClient(served.base, served.origin);
      assert.equal((await otherPortal.login(other)).status, 200);
      assert.equal((await otherPortal.call('GET', c.documents[0]!.url)).status, 404);
      assert.equal((await otherPortal.call('GET', `/api/portal/changes/${changeId}`)).status, 404);
      assert.equal((await fetch(`${served.base}${c.documents[0]!.url}`)).status, 401);
      assert.equal((await fetch(`${served.base}${item.documents[0]!.url}`)).status, 401);
    });

    test('approved (¥0: paid at once), issued with the new subject, same 唯一识别号 and end; the install supersedes', async () => {
      const ok = await decide(changeId, { approve: true });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.change.reviewState, 'approved');
      assert.equal(ok.body.change.orderState, 'paid');

      const req = await holder.renewalRequest(changeId);
      const body = { csr: req.csr.toString('base64'), proof: req.proof.toString('base64') };
      const issued = await portal.call<IssueView>('POST', `/api/portal/orders/${changeId}/issue`, body);
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      const cert = parseCertificate(Buffer.from(issued.body.certificate, 'base64'));
      const old = parseCertificate(holder.certDer);
      assert.equal(attributeValue(cert.subject, 'O'), NEW_ORG);
      assert.equal(attributeValue(cert.subject, 'CN'), NEW_ORG);
      assert.equal(attributeValue(cert.subject, 'L'), '上海市');
      assert.equal(attributeValue(cert.subject, 'serialNumber'), uniqueId);
      assert.equal(issued.body.summary.uniqueId, uniqueId);
      assert.equal(cert.notAfter.getTime(), old.notAfter.getTime(), 'a change does not extend the term');
      assert.equal(issued.body.order.newNotAfter, old.notAfter.toISOString());
      // the seal is re-made for the new certificate (the key keeps a working seal) and marked
      assert.deepEqual(
        issued.body.seals.map((s) => s.esId),
        [esId],
      );
      const again = await portal.call<IssueView>('POST', `/api/portal/orders/${changeId}/issue`, body);
      assert.equal(again.body.certificate, issued.body.certificate, 'one certificate per order');

      const seal = await getSeal(served.ca.rt.storage.db, esId);
      assert.equal(seal?.reapply_order, changeId);
      const app = (await mySeals()).find((a) => a.orderId === sealOrder)!;
      assert.equal(app.reapply?.orderId, changeId, '印章查询 says the seal needs a new application');
      const seen = (await portal.call<{ change: ChangeRequestView }>('GET', `/api/portal/changes/${changeId}`)).body.change;
      assert.deepEqual(
        seen.sealsToReapply.map((s) => [s.esId, s.marked]),
        [[esId, true]],
      );

      const installed = await portal.call<{ order: OrderView }>('POST', `/api/portal/orders/${changeId}/installed`);
      assert.equal(installed.status, 200, JSON.stringify(installed.body));
      assert.equal(installed.body.order.state, 'completed');
      const oldRec = await getCertificate(served.ca.rt.storage.db, holder.serial);
      assert.equal(oldRec?.status, 'revoked');
      assert.equal(oldRec?.revocation_reason, REVOCATION_REASONS.affiliationChanged);
      const newRec = await getCertificate(served.ca.rt.storage.db, issued.body.summary.serial);
      assert.equal(newRec?.status, 'valid');
      assert.equal(newRec?.renews_serial, holder.serial);
      assert.equal((await getHolder(served.ca.rt.storage.db, newRec!.holder_id!))?.name, NEW_ORG, 'the holder is renamed');
      // the re-made seal lives on with the new certificate (marked), not revoked with the old one
      const after = await getSeal(served.ca.rt.storage.db, esId);
      assert.equal(after?.status, 'valid');
      assert.equal(after?.bound_serial, newRec?.serial);
    });

    test('the request and its decision are evidence: never rewritten or removed', async () => {
      const db = served.ca.rt.storage.db;
      await assert.rejects(
        db.updateTable('change_reviews').set({ decision: 'rejected' }).where('order_id', '=', changeId).execute(),
        /append-only/,
      );
      await assert.rejects(db.deleteFrom('change_reviews').where('order_id', '=', changeId).execute(), /append-only/);
      await assert.rejects(
        db.updateTable('change_requests').set({ new_subject: '[]' }).where('order_id', '=', changeId).execute(),
        /append-only/,
      );
    });

    test('a personal certificate changes its name (CN); the old one is superseded', async () => {
      const person = await createHolder(served.ca, { name: '王小明', profile: 'personal-identity', days: 300 });
      const p = new PortalClient(served.base, served.origin);
      assert.equal((await p.login(person)).status, 200);
      const t = await p.call<ChangeTermsView>('GET', '/api/portal/change');
      assert.deepEqual(t.body.fields, ['personName', 'province', 'locality']);
      const org = await submit({ organization: '某公司' }, p);
      assert.equal(org.status, 400);
      assert.equal(org.body.field, 'organization');
      const r = await submit({ organization: undefined, personName: '王晓明', reason: '姓名变更' }, p);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = r.body.change.orderId;
      assert.equal((await decide(id, { approve: true })).body.change.orderState, 'paid');
      const req = await person.renewalRequest(id);
      const issued = await p.call<IssueView>('POST', `/api/portal/orders/${id}/issue`, {
        csr: req.csr.toString('base64'),
        proof: req.proof.toString('base64'),
      });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      assert.equal(issued.body.summary.commonName, '王晓明');
      assert.equal((await p.call('POST', `/api/portal/orders/${id}/installed`)).status, 200);
      const old = await getCertificate(served.ca.rt.storage.db, person.serial);
      assert.equal(old?.revocation_reason, REVOCATION_REASONS.superseded);
    });

    test('a charged change: no payment before approval, none confirmed by its approver (four eyes)', async () => {
      const price = await admin.call<{ changePriceFen: number }>('PUT', '/api/staff/settings/change-price', { priceFen: 5000 });
      assert.equal(price.status, 200, JSON.stringify(price.body));
      const bad = await admin.call<Err>('PUT', '/api/staff/settings/change-price', { priceFen: -1 });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.field, 'priceFen');
      await admin.call('PUT', '/api/staff/settings/payment-methods', { paymentMethods: ['online', 'bank'] });

      const h2 = await createHolder(served.ca, { name: '收费变更单位', days: 200 });
      const p2 = new PortalClient(served.base, served.origin);
      assert.equal((await p2.login(h2)).status, 200);
      assert.equal((await p2.call<ChangeTermsView>('GET', '/api/portal/change')).body.priceFen, 5000);
      // charged: the invoice mailing and the payment method are asked too
      const noAddress = await submit({ organization: '收费变更后单位' }, p2);
      assert.equal(noAddress.status, 400);
      assert.equal(noAddress.body.field, 'address');
      const r = await submit({ ...ORDER_FORM, paymentMethod: 'bank', organization: '收费变更后单位' }, p2);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = r.body.change.orderId;
      assert.equal(r.body.change.amountFen, 5000);

      const early = await operator.call<Err>('POST', `/api/staff/orders/${id}/confirm-payment`, {
        reference: 'ICBC-CHANGE-1',
        amount: '50.00',
      });
      assert.equal(early.status, 409, JSON.stringify(early.body));
      assert.equal(early.body.error, 'awaiting_review');

      const both: TestStaff = await createStaff(served.ca.rt, ['reviewer', 'operator']);
      const bothClient = new StaffClient(served.base, served.origin);
      assert.equal((await bothClient.login(both)).status, 200);
      const approved = await decide(id, { approve: true }, bothClient);
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      assert.equal(approved.body.change.orderState, 'awaiting_payment', 'charged: paid only when the money arrives');

      const sameHands = await bothClient.call<Err>('POST', `/api/staff/orders/${id}/confirm-payment`, {
        reference: 'ICBC-CHANGE-1',
        amount: '50.00',
      });
      assert.equal(sameHands.status, 403, JSON.stringify(sameHands.body));
      assert.equal(sameHands.body.error, 'four_eyes');
      assert.match(sameHands.body.message, /another staff member/);

      const paid = await operator.call<{ outcome: string; order: { state: string } }>(
        'POST',
        `/api/staff/orders/${id}/confirm-payment`,
        { reference: 'ICBC-CHANGE-1', amount: '50.00' },
      );
      assert.equal(paid.status, 200, JSON.stringify(paid.body));
      assert.equal(paid.body.order.state, 'paid');
      const invoice = await served.ca.rt.storage.db
        .selectFrom('invoices')
        .select('items')
        .where('order_id', '=', id)
        .executeTakeFirstOrThrow();
      assert.match(invoice.items, /变更证书/, 'the invoice names the service, not a renewal term');
      const req = await h2.renewalRequest(id);
      const issued = await p2.call<IssueView>('POST', `/api/portal/orders/${id}/issue`, {
        csr: req.csr.toString('base64'),
        proof: req.proof.toString('base64'),
      });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      assert.equal(issued.body.summary.organization, '收费变更后单位');
      await admin.call('PUT', '/api/staff/settings/change-price', { priceFen: 0 });
    });
  });
}
