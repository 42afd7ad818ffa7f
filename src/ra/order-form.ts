// Validation of the order page (请填写您的订单信息): every error names its field.
import { z } from 'zod';

export const PHONE = /^(1[3-9]\d{9}|0\d{2,3}-?\d{5,8}(-\d{1,6})?)$/; // 5–8 digits: service numbers such as 021-962600

export const OrderFormSchema = z.object({
  termYears: z.number().int().min(1, '更新有效期 must be 1, 2 or 3 years').max(3, '更新有效期 must be 1, 2 or 3 years'),
  recipient: z.string().trim().min(1, '收件人 is required').max(50, '收件人 is at most 50 characters'),
  phone: z
    .string()
    .trim()
    .regex(PHONE, '联系电话 must be a mobile number (11 digits, starting 13–19) or a landline such as 021-962600'),
  address: z
    .string()
    .trim()
    .min(5, '发票邮寄地址 must be at least 5 characters')
    .max(200, '发票邮寄地址 is at most 200 characters'),
  postcode: z
    .string()
    .trim()
    .regex(/^\d{6}$/, '邮编 must be 6 digits'),
  paymentMethod: z.enum(['online', 'postal', 'bank'], { message: '支付方式 must be online, postal or bank' }),
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
