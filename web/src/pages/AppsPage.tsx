// 应用开通: the relying applications (e-tax, social insurance, housing fund …) open to the holder's
// certificate, which are enabled and until when; enabling one (or extending it) for a term is an
// order, paid on the order page like any other; an enablement can be ended. An enablement belongs
// to the holder, so it carries over to the renewed certificate.
import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Card, Empty, Form, InputNumber, Modal, Popconfirm, Space, Spin, Table, Tag, Typography } from 'antd';
import type { AppOfferView } from '../../../src/shared/app-views.js';
import { api, type PaymentMethod } from '../api';
import OrderContactFields from '../components/OrderContactFields';
import { errorText } from '../errors';
import { fmtDate, money, named } from '../format';
import { useI18n } from '../i18n';
import { navigate } from '../router';

interface EnableForm {
  years: number;
  recipient: string;
  phone: string;
  address: string;
  postcode: string;
  paymentMethod: PaymentMethod;
}

export default function AppsPage() {
  const { t, lang } = useI18n();
  const [apps, setApps] = useState<AppOfferView[] | null>(null);
  const [methods, setMethods] = useState<PaymentMethod[]>(['online']);
  const [error, setError] = useState<string | null>(null);
  const [enabling, setEnabling] = useState<AppOfferView | null>(null);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm<EnableForm>();
  const years = Form.useWatch('years', form) ?? 1;

  const load = useCallback(() => {
    api.apps().then(
      (r) => {
        setApps(r.apps);
        setMethods(r.paymentMethods as PaymentMethod[]);
      },
      (e: unknown) => setError(errorText(t, e)),
    );
  }, [t]);
  useEffect(load, [load]);

  const enable = async (v: EnableForm): Promise<void> => {
    if (!enabling) return;
    setBusy(true);
    try {
      const r = await api.enableApp(enabling.id, v);
      setEnabling(null);
      navigate(`/orders/${r.order.id}`);
    } catch (e) {
      const field = (e as { field?: string }).field;
      if (field && field in v) form.setFields([{ name: field as keyof EnableForm, errors: [errorText(t, e)] }]);
      else setError(errorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  const end = async (a: AppOfferView): Promise<void> => {
    try {
      await api.endApp(a.id);
      load();
    } catch (e) {
      setError(errorText(t, e));
    }
  };

  if (!apps) return error ? <Alert type="error" showIcon title={error} /> : <Spin />;
  return (
    <Card title={<h1 className="cd-card-title">{t('menuApps')}</h1>} data-testid="apps-card">
      <Typography.Paragraph type="secondary">{t('appsIntro')}</Typography.Paragraph>
      {error && <Alert className="cd-gap" type="error" showIcon title={error} />}
      {apps.length === 0 ? (
        <Empty description={t('appsNone')} />
      ) : (
        <Table<AppOfferView>
          rowKey="id"
          pagination={false}
          dataSource={apps}
          data-testid="apps-table"
          columns={[
            {
              title: t('appName'),
              key: 'name',
              render: (_, a) => (
                <Space orientation="vertical" size={0}>
                  <strong>{named(lang, a.name, a.nameEn)}</strong>
                  <Typography.Text type="secondary">{a.description}</Typography.Text>
                </Space>
              ),
            },
            {
              title: t('appFee'),
              key: 'fee',
              render: (_, a) =>
                a.feePerYearFen === 0 ? t('appFree') : t('appFeePerYear', { amount: money(t, a.feePerYearFen) }),
            },
            {
              title: t('appStatus'),
              key: 'status',
              render: (_, a) =>
                a.enabled ? (
                  <Tag color="green" data-testid={`app-enabled-${a.id}`}>
                    {t('appEnabledUntil', { date: fmtDate(lang, a.enabled.endsAt) })}
                  </Tag>
                ) : (
                  <Tag data-testid={`app-disabled-${a.id}`}>{t('appNotEnabled')}</Tag>
                ),
            },
            {
              title: t('colActions'),
              key: 'actions',
              render: (_, a) => (
                <Space>
                  <Button
                    size="small"
                    type="primary"
                    onClick={() => {
                      setEnabling(a);
                      form.setFieldsValue({ years: 1, paymentMethod: methods[0] });
                    }}
                    data-testid={`app-enable-${a.id}`}
                  >
                    {a.enabled ? t('appExtend') : t('appEnable')}
                  </Button>
                  {a.enabled && (
                    <Popconfirm title={t('appEndConfirm')} onConfirm={() => void end(a)} okText={t('confirm')}>
                      <Button size="small" danger data-testid={`app-end-${a.id}`}>
                        {t('appEnd')}
                      </Button>
                    </Popconfirm>
                  )}
                </Space>
              ),
            },
          ]}
        />
      )}
      <Modal
        open={enabling !== null}
        title={enabling ? `${t('appEnable')} · ${named(lang, enabling.name, enabling.nameEn)}` : ''}
        onCancel={() => setEnabling(null)}
        onOk={() => form.submit()}
        okText={t('confirm')}
        okButtonProps={{ loading: busy, 'data-testid': 'app-enable-submit' } as never}
        destroyOnHidden
        width={640}
      >
        <Form<EnableForm> form={form} layout="horizontal" labelCol={{ flex: '140px' }} onFinish={(v) => void enable(v)}>
          <Form.Item label={t('appYears')} name="years" rules={[{ required: true }]}>
            <InputNumber min={1} max={5} data-testid="app-years" />
          </Form.Item>
          <Form.Item label={t('fieldAmount')}>
            <span className="cd-amount" data-testid="app-amount">
              {enabling ? money(t, enabling.feePerYearFen * years) : '—'}
            </span>
          </Form.Item>
          <OrderContactFields paymentMethods={methods} />
        </Form>
      </Modal>
    </Card>
  );
}
