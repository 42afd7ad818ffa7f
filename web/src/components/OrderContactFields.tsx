// The invoice mailing and payment fields every order page asks for (收件人, 联系电话, 发票邮寄地址,
// 邮编, 支付方式): one set of rules for the renewal and the seal application.
import { Form, Input, Radio, Space } from 'antd';
import type { PaymentMethod } from '../api';
import { useI18n, type MessageKey } from '../i18n';

export const PHONE_RE = /^(?:1[3-9]\d{9}|0\d{2,3}-?\d{5,8}(?:-\d{1,6})?)$/;
export const POSTCODE_RE = /^\d{6}$/;
export const PAY_LABEL: Record<PaymentMethod, MessageKey> = { online: 'payOnline', postal: 'payPostal', bank: 'payBank' };

/** `contactOnly`: only 收件人 and 联系电话 (a free service has no invoice to mail and nothing to pay). */
export default function OrderContactFields({
  paymentMethods,
  contactOnly = false,
}: {
  paymentMethods: PaymentMethod[];
  contactOnly?: boolean;
}) {
  const { t } = useI18n();
  return (
    <>
      <Form.Item
        label={t('fieldRecipient')}
        name="recipient"
        rules={[{ required: true, whitespace: true, max: 50, message: t('vRecipient') }]}
      >
        <Input maxLength={50} autoComplete="name" />
      </Form.Item>
      <Form.Item
        label={t('fieldPhone')}
        name="phone"
        rules={[
          { required: true, message: t('vPhone') },
          { pattern: PHONE_RE, message: t('vPhone') },
        ]}
      >
        <Input maxLength={20} autoComplete="tel" inputMode="tel" />
      </Form.Item>
      {/* optional: expiry reminders and order mails go here (the holder can unsubscribe from every mail) */}
      <Form.Item label={t('fieldEmail')} name="email" rules={[{ type: 'email', message: t('vEmail') }]} extra={t('emailHint')}>
        <Input maxLength={254} autoComplete="email" inputMode="email" />
      </Form.Item>
      {!contactOnly && <PaymentFields paymentMethods={paymentMethods} />}
    </>
  );
}

function PaymentFields({ paymentMethods }: { paymentMethods: PaymentMethod[] }) {
  const { t } = useI18n();
  return (
    <>
      <Form.Item
        label={t('fieldAddress')}
        name="address"
        rules={[{ required: true, whitespace: true, min: 5, max: 200, message: t('vAddress') }]}
      >
        <Input maxLength={200} autoComplete="street-address" />
      </Form.Item>
      <Form.Item
        label={t('fieldPostcode')}
        name="postcode"
        rules={[
          { required: true, message: t('vPostcode') },
          { pattern: POSTCODE_RE, message: t('vPostcode') },
        ]}
      >
        <Input maxLength={6} inputMode="numeric" autoComplete="postal-code" style={{ maxWidth: 160 }} />
      </Form.Item>
      <Form.Item label={t('fieldPayMethod')} name="paymentMethod" rules={[{ required: true, message: t('vPayMethod') }]}>
        <Radio.Group>
          <Space orientation="vertical">
            {paymentMethods.map((m) => (
              <Radio key={m} value={m} data-testid={`pay-${m}`}>
                {t(PAY_LABEL[m])}
              </Radio>
            ))}
          </Space>
        </Radio.Group>
      </Form.Item>
    </>
  );
}
