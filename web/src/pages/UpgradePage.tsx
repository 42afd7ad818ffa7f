// 升级证书: the upgrades open to the certificate the holder logged in with (from the catalogue's
// upgrade paths), what each changes — type, algorithm, term, price, the new end date — and the order
// form. The order is paid on the order page and installed by 证书更新 like a renewal.
import { useEffect, useState } from 'react';
import { Alert, Button, Card, Descriptions, Form, Radio, Space, Spin, Tag, Typography } from 'antd';
import { api, type PaymentMethod, type UpgradeInfo, type UpgradeOptionView } from '../api';
import OrderContactFields from '../components/OrderContactFields';
import { errorText } from '../errors';
import { fmtDate, money, named } from '../format';
import { useI18n, type MessageKey } from '../i18n';
import { navigate } from '../router';

interface UpgradeForm {
  toType: string;
  recipient: string;
  phone: string;
  address: string;
  postcode: string;
  paymentMethod: PaymentMethod;
}

const KEY_TYPE: Record<string, MessageKey> = {
  sm2: 'keyTypeSm2',
  'ec-p256': 'keyTypeEc',
  'ec-p384': 'keyTypeEc',
  'rsa-2048': 'keyTypeRsa',
  'rsa-3072': 'keyTypeRsa',
  'rsa-4096': 'keyTypeRsa',
};

export default function UpgradePage() {
  const { t, lang } = useI18n();
  const [info, setInfo] = useState<UpgradeInfo | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm<UpgradeForm>();
  const toType = Form.useWatch('toType', form);

  useEffect(() => {
    api.upgrades().then(setInfo, (e: unknown) => setLoadError(errorText(t, e)));
  }, [t]);

  const submit = async (v: UpgradeForm): Promise<void> => {
    setError(null);
    setBusy(true);
    try {
      const r = await api.createUpgrade(v);
      navigate(`/orders/${r.order.id}`);
    } catch (e) {
      const field = (e as { field?: string }).field;
      if (field && field in v) form.setFields([{ name: field as keyof UpgradeForm, errors: [errorText(t, e)] }]);
      else setError(errorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  if (loadError) return <Alert type="error" showIcon title={loadError} />;
  if (!info) return <Spin />;
  const c = info.certificate;
  const chosen: UpgradeOptionView | undefined = info.options.find((o) => o.toType === toType);
  const algorithm = (o: UpgradeOptionView): string => (o.dual ? t('upgradeDualPair') : t(KEY_TYPE[o.keyType] ?? 'keyTypeEc'));

  return (
    <Card title={<h1 className="cd-card-title">{t('menuUpgrade')}</h1>} data-testid="upgrade-card">
      <Descriptions
        size="small"
        bordered
        column={1}
        className="cd-gap"
        styles={{ label: { width: 200 } }}
        items={[
          { key: 'kind', label: t('upgradeFrom'), children: named(lang, info.certificateType.name, info.certificateType.nameEn) },
          { key: 'serial', label: t('fieldSerial'), children: <code>{c.serial.toUpperCase()}</code> },
          { key: 'notAfter', label: t('fieldNotAfter'), children: fmtDate(lang, c.notAfter) },
        ]}
      />
      {info.openOrder ? (
        <Alert
          type="info"
          showIcon
          title={t('upgradeOrderOpen', { id: info.openOrder.id })}
          action={<Button href={`#/orders/${info.openOrder.id}`}>{t('continueOrder')}</Button>}
          data-testid="upgrade-open-order"
        />
      ) : info.refusal ? (
        <Alert type="warning" showIcon title={t('upgradeNotOpen')} description={info.refusal} data-testid="upgrade-refusal" />
      ) : info.options.length === 0 ? (
        <Alert type="info" showIcon title={t('upgradeNone')} data-testid="upgrade-none" />
      ) : (
        <Form<UpgradeForm>
          form={form}
          layout="horizontal"
          labelCol={{ flex: '160px' }}
          wrapperCol={{ flex: 'auto' }}
          initialValues={{ toType: info.options[0]!.toType, paymentMethod: info.paymentMethods[0] }}
          onFinish={(v) => void submit(v)}
          onValuesChange={() => setError(null)}
        >
          <Form.Item label={t('upgradeTo')} name="toType" rules={[{ required: true }]}>
            <Radio.Group data-testid="upgrade-options">
              <Space orientation="vertical">
                {info.options.map((o) => (
                  <Radio key={o.toType} value={o.toType} data-testid={`upgrade-option-${o.toType}`}>
                    <Space wrap>
                      <strong>{named(lang, o.name, o.nameEn)}</strong>
                      <Tag color={o.dual ? 'red' : 'blue'}>{algorithm(o)}</Tag>
                      <span>{t('upgradeTerm', { years: String(o.termYears) })}</span>
                      <span className="cd-amount">{money(t, o.priceFen)}</span>
                    </Space>
                  </Radio>
                ))}
              </Space>
            </Radio.Group>
          </Form.Item>
          {chosen && (
            <Form.Item label={t('upgradeWhatChanges')}>
              <Descriptions
                size="small"
                column={1}
                data-testid="upgrade-changes"
                items={[
                  { key: 'type', label: t('fieldKind'), children: named(lang, chosen.name, chosen.nameEn) },
                  { key: 'alg', label: t('upgradeAlgorithm'), children: algorithm(chosen) },
                  {
                    key: 'end',
                    label: t('upgradeNewEnd'),
                    children: <span data-testid="upgrade-new-end">{fmtDate(lang, chosen.notAfter)}</span>,
                  },
                  {
                    key: 'carry',
                    label: t('upgradeCarry'),
                    children: chosen.carryOver ? t('upgradeCarryYes') : t('upgradeCarryNo'),
                  },
                  {
                    key: 'price',
                    label: t('fieldAmount'),
                    children: <span data-testid="amount">{money(t, chosen.priceFen)}</span>,
                  },
                ]}
              />
              <Typography.Paragraph type="secondary" className="cd-gap-top">
                {t('upgradeNewKeyNote')}
              </Typography.Paragraph>
            </Form.Item>
          )}
          <OrderContactFields paymentMethods={info.paymentMethods} />
          {error && <Alert className="cd-gap" type="error" showIcon role="alert" title={error} />}
          <div className="cd-actions">
            <Button type="primary" size="large" htmlType="submit" loading={busy} data-testid="submit-upgrade">
              {t('confirm')}
            </Button>
          </div>
        </Form>
      )}
    </Card>
  );
}
