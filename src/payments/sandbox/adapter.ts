// The merchant side of the sandbox gateway: what certdesk runs to take payments through it. It
// signs payment requests with the merchant key and trusts only what the platform key signed.
import type { KeyObject } from 'node:crypto';
import {
  GatewayError,
  type GatewayPayment,
  type GatewayQueryResult,
  type PaymentGateway,
  type PaymentRequest,
} from '../gateway.js';
import { parseFen } from '../../ra/money.js';
import { signParams, verifyParams } from './signing.js';

export interface SandboxAdapterOptions {
  merchantId: string;
  /** the platform as the holder's browser reaches it (payment page) */
  publicGatewayUrl: string;
  /** the platform as this server reaches it (queries) */
  apiGatewayUrl: string;
  /** where the platform posts notifications */
  notifyUrl: string;
  merchantKey: KeyObject;
  platformPublicKey: KeyObject;
}

export class SandboxGatewayAdapter implements PaymentGateway {
  readonly id = 'sandbox';

  constructor(private readonly o: SandboxAdapterOptions) {}

  async createPayment(req: PaymentRequest): Promise<{ redirectUrl: string }> {
    const params: Record<string, string> = {
      merchant_id: this.o.merchantId,
      out_trade_no: req.orderId,
      total_amount_fen: String(req.amountFen),
      subject: req.subject,
      notify_url: this.o.notifyUrl,
      return_url: req.returnUrl,
      timestamp: String(Date.now()),
    };
    params.sign = signParams(params, this.o.merchantKey);
    return { redirectUrl: `${this.o.publicGatewayUrl}/sandbox-pay/gateway?${new URLSearchParams(params).toString()}` };
  }

  parseNotification(form: Record<string, string>): GatewayPayment | undefined {
    if (!verifyParams(form, this.o.platformPublicKey))
      throw new GatewayError('bad_signature', 'notification signature does not verify with the platform key');
    if (form.merchant_id !== this.o.merchantId)
      throw new GatewayError('wrong_merchant', `notification for merchant ${form.merchant_id}, we are ${this.o.merchantId}`);
    if (form.trade_status !== 'TRADE_SUCCESS') return undefined;
    return this.toPayment(form);
  }

  returnedOrderId(params: Record<string, string>): string | undefined {
    if (!verifyParams(params, this.o.platformPublicKey) || params.merchant_id !== this.o.merchantId) return undefined;
    return params.out_trade_no || undefined;
  }

  acknowledgement(ok: boolean): string {
    return ok ? 'success' : 'fail';
  }

  async query(orderId: string): Promise<GatewayQueryResult> {
    const params: Record<string, string> = {
      merchant_id: this.o.merchantId,
      out_trade_no: orderId,
      timestamp: String(Date.now()),
    };
    params.sign = signParams(params, this.o.merchantKey);
    let res: Response;
    try {
      res = await fetch(`${this.o.apiGatewayUrl}/sandbox-pay/api/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (e) {
      throw new GatewayError('unavailable', `payment platform query failed: ${(e as Error).message}`);
    }
    const body = (await res.json()) as Record<string, string>;
    if (!verifyParams(body, this.o.platformPublicKey))
      throw new GatewayError('bad_signature', 'query answer signature does not verify');
    if (body.merchant_id !== this.o.merchantId || body.out_trade_no !== orderId)
      throw new GatewayError('malformed', 'query answer is for another order');
    if (body.trade_status === 'TRADE_SUCCESS') return { status: 'paid', payment: this.toPayment(body) };
    if (body.trade_status === 'TRADE_NOT_EXIST') return { status: 'not_found' };
    if (body.trade_status === 'TRADE_CLOSED') return { status: 'closed' };
    return { status: 'pending' };
  }

  private toPayment(p: Record<string, string>): GatewayPayment {
    let amount: number;
    try {
      amount = parseFen(p.total_amount_fen);
    } catch (e) {
      throw new GatewayError('malformed', `total_amount_fen: ${(e as Error).message}`);
    }
    const paidAt = Number(p.gmt_payment);
    if (!p.out_trade_no || !p.trade_no || !/^[0-9]{1,15}$/.test(p.gmt_payment ?? '') || !Number.isSafeInteger(paidAt)) {
      throw new GatewayError('malformed', 'payment fields missing or malformed');
    }
    return { orderId: p.out_trade_no, tradeNo: p.trade_no, amountFen: amount, paidAt, raw: { ...p } };
  }
}
