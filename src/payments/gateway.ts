// The payment gateway adapter interface. A real gateway (UnionPay, Alipay, WeChat Pay) is another
// implementation of this plus configuration; the RA only ever talks to this interface.
export interface PaymentRequest {
  /** our order id (the gateway's out_trade_no) */
  orderId: string;
  amountFen: number;
  subject: string;
  /** where the browser returns to (a hint only; never proof of payment) */
  returnUrl: string;
}

/** A verified payment notification or query answer. */
export interface GatewayPayment {
  orderId: string;
  tradeNo: string;
  amountFen: number;
  paidAt: number;
  /** everything the gateway sent, for the record */
  raw: Record<string, unknown>;
}

export type GatewayQueryResult = { status: 'paid'; payment: GatewayPayment } | { status: 'pending' | 'not_found' | 'closed' };

export class GatewayError extends Error {
  constructor(
    readonly code: 'bad_signature' | 'wrong_merchant' | 'malformed' | 'unavailable',
    message: string,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

export interface PaymentGateway {
  /** channel name recorded with payments, and the :gateway of the notify URL */
  readonly id: string;
  /** the URL of the gateway's payment page for this order */
  createPayment(req: PaymentRequest): Promise<{ redirectUrl: string }>;
  /** Verifies an asynchronous notification (signature, merchant); undefined when it reports no payment. */
  parseNotification(form: Record<string, string>): GatewayPayment | undefined;
  /**
   * The order id of a browser return the gateway signed (its return URL's parameters), or undefined
   * for a return without a valid signature. Still only a hint: the payment is what a query says.
   */
  returnedOrderId(params: Record<string, string>): string | undefined;
  /** the body the gateway expects back: it retries until it sees the success answer */
  acknowledgement(ok: boolean): string;
  /** Active order query, for when the notification is late or lost. */
  query(orderId: string): Promise<GatewayQueryResult>;
}
