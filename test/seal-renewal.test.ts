// 印章更新 on the server: renewing a certificate re-makes every valid seal bound to it for the new
// certificate (same esID and picture, certList = exactly the new certificate, a new signature that
// verifies), once however often the issue step is retried; the earlier DER is kept; the old
// certificate's supersession leaves the seal valid; revoking the new one revokes the seal; the public
// status lookup follows. On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseSeal } from '../src/pki/ses-seal.js';
import { verifySeal } from '../src/pki/ses-verify.js';
import { recordPayment } from '../src/ra/payment-ledger.js';
import { RaError } from '../src/ra/errors.js';
import { sealVersions } from '../src/sa/seals.js';
import { renderSealPicture } from '../src/seal/seal-picture.js';
import type { IssueView } from '../src/api/portal/shapes.js';
import type { SealStatusView } from '../src/shared/seal-status.js';
import { BACKENDS } from './helpers/backends.js';
import { createHolder, ORDER_FORM, PortalClient, serveTestCa, type ServedCa, type TestHolder } from './helpers/holder.js';

for (const backend of BACKENDS) {
  describe(`印章更新: seals follow the renewed certificate (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let holder: TestHolder;
    let esId = '';
    before(async () => {
      served = await serveTestCa({ keyType: 'both', postgres: backend.postgres });
      holder = await createHolder(served.ca, { keyType: 'sm2', name: '印章更新单位', days: 20 });
    });
    after(async () => served?.close());

    const issuingCert = () => Buffer.from(served.ca.rt.ca.issuingFor('sm2').cert.der);
    const status = async (id: string) => (await (await fetch(`${served.base}/api/seals/${id}`)).json()) as SealStatusView;

    test('a seal is made for the holder certificate; the status lookup answers', async () => {
      const rt = served.ca.rt;
      await assert.rejects(
        rt.sealService.makeSeal({
          holderSigningCertDer: holder.certDer,
          type: '单位公章',
          name: '另一个单位',
          picture: renderSealPicture({ name: '另一个单位', typeLabel: '单位公章' }),
        }),
        (e: unknown) => e instanceof RaError && e.field === 'name',
      );
      const seal = await rt.sealService.makeSeal({
        holderSigningCertDer: holder.certDer,
        type: '单位公章',
        name: '印章更新单位',
        picture: renderSealPicture({ name: '印章更新单位', typeLabel: '单位公章' }),
        days: 365,
      });
      esId = seal.es_id;
      const v = verifySeal(Buffer.from(seal.der), { makerIssuers: [issuingCert()] });
      assert.ok(v.ok, v.ok ? '' : v.reason);
      assert.ok(seal.valid_end <= parseSeal(Buffer.from(seal.der)).validEnd.getTime());
      const st = await status(esId);
      assert.equal(st.status, 'valid');
      assert.deepEqual(st.certificateSerials, [holder.serial]);
      assert.equal(st.generation, 1);
      assert.equal((await fetch(`${served.base}/api/seals/NOPE`)).status, 404);
    });

    test('renewal re-makes the seal for exactly the new certificate, once; the old DER is kept', async () => {
      const client = new PortalClient(served.base, served.origin);
      assert.equal((await client.login(holder)).status, 200);
      const created = await client.call<{ order: { id: string; amountFen: number } }>('POST', '/api/portal/orders', {
        ...ORDER_FORM,
        paymentMethod: 'bank',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const order = created.body.order;
      const paid = await recordPayment(served.ca.rt.storage, {
        orderId: order.id,
        channel: 'bank',
        tradeNo: `B${order.id}`,
        amountFen: order.amountFen,
        paidAt: Date.now(),
        raw: {},
        actor: 'test',
      });
      assert.equal(paid, 'recorded');
      const req = await holder.renewalRequest(order.id);
      const body = { csr: req.csr.toString('base64'), proof: req.proof.toString('base64') };
      const issued = await client.call<IssueView>('POST', `/api/portal/orders/${order.id}/issue`, body);
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      const newCert = Buffer.from(issued.body.certificate, 'base64');
      assert.equal(issued.body.seals.length, 1);
      const remade = Buffer.from(issued.body.seals[0]!.der, 'base64');
      const p = parseSeal(remade);
      assert.equal(p.esId, esId, 'same esID');
      assert.deepEqual(p.certList, [newCert], 'certList is exactly the new certificate');
      assert.deepEqual(p.picture.data, renderSealPicture({ name: '印章更新单位', typeLabel: '单位公章' }).png, 'same picture');
      const v = verifySeal(remade, { makerIssuers: [issuingCert()] });
      assert.ok(v.ok, v.ok ? '' : v.reason);

      // a retried issue step (the assistant lost the answer) re-makes nothing
      const again = await client.call<IssueView>('POST', `/api/portal/orders/${order.id}/issue`, body);
      assert.equal(again.status, 200);
      assert.equal(again.body.seals[0]!.der, issued.body.seals[0]!.der);
      const versions = await sealVersions(served.ca.rt.storage.db, esId);
      assert.deepEqual(
        versions.map((x) => x.generation),
        [1, 2],
      );
      assert.deepEqual(parseSeal(Buffer.from(versions[0]!.der)).certList, [holder.certDer], 'the first version is kept as made');

      // the install confirmed: the old certificate is superseded, the seal (now on the new one) stays valid
      const installed = await client.call('POST', `/api/portal/orders/${order.id}/installed`);
      assert.equal(installed.status, 200, JSON.stringify(installed.body));
      const st = await status(esId);
      assert.equal(st.status, 'valid');
      assert.equal(st.generation, 2);
      assert.deepEqual(st.certificateSerials, [p.certList.length ? issued.body.summary.serial : '']);
    });

    test('revoking the certificate revokes its seals', async () => {
      const st = await status(esId);
      await served.ca.rt.ca.revoke(st.certificateSerials[0]!, 'cessationOfOperation', 'test');
      const revoked = await status(esId);
      assert.equal(revoked.status, 'revoked');
      assert.match(revoked.revocationReason ?? '', /cessationOfOperation/);
    });
  });
}
