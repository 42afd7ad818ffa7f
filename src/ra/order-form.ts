// Validation of the order page (请填写您的订单信息): every error names its field.
import { z } from 'zod';

export const EMAIL = /^[^\s@<>,;"]{1,64}@[^\s@<>,;"]{1,255}\.[^\s@<>,;"]{1,63}$/;
export const PHONE = /^(1[3-9]\d{9}|0\d{2,3}-?\d{5,8}(-\d{1,6})?)$/; // 5–8 digits: service numbers such as 021-962600

// Text a person typed, as printed on the invoice envelope: a lone surrogate (half of a UTF-16 pair)
// is not text at all, and control (Cc) or format (Cf) characters — NUL, zero-width spaces, RTL
// overrides — print as nothing or rearrange what is printed. Refused, naming the field; what is left
// is NFC-normalised and trimmed, and must not be blank.
const LONE_SURROGATE = /\p{Cs}/u;
const INVISIBLE = /[\p{Cc}\p{Cf}]/u;

const codePoint = (c: string): string => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

export const typedText = (label: string) =>
  z.string().transform((raw, ctx) => {
    const lone = LONE_SURROGATE.exec(raw);
    if (lone) {
      ctx.addIssue({ code: 'custom', message: `${label} contains a broken character (lone surrogate ${codePoint(lone[0])})` });
      return z.NEVER;
    }
    const text = raw.normalize('NFC').trim();
    const bad = INVISIBLE.exec(text);
    if (bad) {
      ctx.addIssue({
        code: 'custom',
        message: `${label} contains an invisible or control character (${codePoint(bad[0])}); type it again without it`,
      });
      return z.NEVER;
    }
    if (text === '') {
      ctx.addIssue({ code: 'custom', message: `${label} is required` });
      return z.NEVER;
    }
    return text;
  });

export const OrderFormSchema = z.object({
  termYears: z.number().int().min(1, '更新有效期 must be 1, 2 or 3 years').max(3, '更新有效期 must be 1, 2 or 3 years'),
  recipient: typedText('收件人').pipe(z.string().max(50, '收件人 is at most 50 characters')),
  phone: typedText('联系电话').pipe(
    z.string().regex(PHONE, '联系电话 must be a mobile number (11 digits, starting 13–19) or a landline such as 021-962600'),
  ),
  address: typedText('发票邮寄地址').pipe(
    z.string().min(5, '发票邮寄地址 must be at least 5 characters').max(200, '发票邮寄地址 is at most 200 characters'),
  ),
  postcode: typedText('邮编').pipe(z.string().regex(/^\d{6}$/, '邮编 must be 6 digits')),
  paymentMethod: z.enum(['online', 'postal', 'bank'], { message: '支付方式 must be online, postal or bank' }),
  // optional: where expiry reminders and order mails go (kept on the holder); blank means none
  email: z
    .string()
    .trim()
    .max(254, '电子邮箱 is at most 254 characters')
    .transform((v) => (v === '' ? undefined : v))
    .pipe(z.string().regex(EMAIL, '电子邮箱 must be an e-mail address such as name@example.com').optional())
    .optional(),
});

export type OrderForm = z.infer<typeof OrderFormSchema>;

export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly code = 'invalid',
  ) {
    super(message);
    this.name = 'FieldError';
  }
}

export function parseOrderForm(body: unknown): OrderForm {
  const r = OrderFormSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = String(issue.path[0] ?? 'body');
    const message = issue.code === 'invalid_type' ? `${field} is required` : issue.message;
    throw new FieldError(field, message);
  }
  return r.data;
}

/** The order page of a service without 更新有效期 (a change of details): 收件人 and 联系电话 always. */
export type ServiceForm = Pick<OrderForm, 'recipient' | 'phone' | 'email'> &
  Partial<Pick<OrderForm, 'address' | 'postcode' | 'paymentMethod'>>;

/**
 * Checks a service's order page: the contact (收件人, 联系电话) always — staff reviewing a request may
 * call — and, when the service is charged, the invoice mailing address and the payment method too.
 */
export function parseServiceForm(body: unknown, opts: { charged: boolean }): ServiceForm {
  const schema = opts.charged
    ? OrderFormSchema.omit({ termYears: true })
    : OrderFormSchema.pick({ recipient: true, phone: true, email: true });
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = String(issue.path[0] ?? 'body');
    throw new FieldError(field, issue.code === 'invalid_type' ? `${field} is required` : issue.message);
  }
  return r.data;
}
