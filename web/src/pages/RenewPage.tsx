// 更新证书: 请确认您证书的信息 → 确认 → 请填写您的订单信息 → 确认 / 取消, as in the seed manual.
// An unfinished order is continued instead of creating another; an ineligible certificate says why
// and sends the holder to a service point.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Alert, Button, Card, Descriptions, Form, Result, Select, Space, Spin, Typography } from 'antd';
import { ApiError, api, UPDATE_STATES, type NewOrder, type Order, type RenewalInfo } from '../api';
import { errorText } from '../errors';
import { fmtDate, money, named, termLabel } from '../format';
import { hasKey, useI18n, type MessageKey } from '../i18n';
import { navigate } from '../router';
import { useApp } from '../state';
import OrderContactFields from '../components/OrderContactFields';
import { updateUnfinished, useUnfinishedInstalls } from '../unfinished';
import { orderKindText } from './OrderPage';

// The server's rules (docs/PORTAL-API.md), checked here first for a message beside the field.
// Landlines: 5–8 digits after the area code, so service numbers such as 021-962600 pass.

type OrderForm = Omit<NewOrder, 'termYears'>;

const normalize = (s: string): string =>
  s
    .replace(/[^0-9a-f]/gi, '')
    .replace(/^0+/, '')
    .toUpperCase();

export function orderTarget(o: Order, unfinished: ReadonlySet<string>): string {
  if (o.kind === 'change' && !UPDATE_STATES.includes(o.state) && !updateUnfinished(o, unfinished)) return `/changes/${o.id}`;
  return UPDATE_STATES.includes(o.state) || updateUnfinished(o, unfinished) ? `/orders/${o.id}/update` : `/orders/${o.id}`;
}

export default function RenewPage() {
  const { t, lang } = useI18n();
  const [info, setInfo] = useState<RenewalInfo | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [step, setStep] = useState<'confirm' | 'order'>('confirm');
  const [termYears, setTermYears] = useState<number | undefined>();
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState<string | null>(null);
  const [form] = Form.useForm<OrderForm>();
  const [orders, setOrders] = useState<Order[]>([]);
  const unfinished = useUnfinishedInstalls();

  const load = useCallback(async () => {
    setLoadError(null);
    try {
      const [r, list] = await Promise.all([api.renewal(), api.orders().catch(() => ({ orders: [] as Order[] }))]);
      setInfo(r);
      setOrders(list.orders);
      setTermYears((cur) => cur ?? r.terms[0]?.years);
    } catch (e) {
      setLoadError(errorText(t, e));
    }
  }, [t]);

  useEffect(() => {
    void load();
  }, [load]);

  // Prefill the mailing details from the holder's last order.
  useEffect(() => {
    if (step !== 'order') return;
    void api
      .orders()
      .then(({ orders }) => {
        const last = orders[0];
        if (!last) return;
        const cur = form.getFieldsValue();
        form.setFieldsValue({
          recipient: cur.recipient || last.recipient,
          phone: cur.phone || last.phone,
          address: cur.address || last.address,
          postcode: cur.postcode || last.postcode,
        });
      })
      .catch(() => undefined);
  }, [step, form]);

  const term = useMemo(() => info?.terms.find((x) => x.years === termYears), [info, termYears]);

  if (loadError)
    return <Result status="error" title={loadError} extra={<Button onClick={() => void load()}>{t('retry')}</Button>} />;
  if (!info) return <Spin className="cd-spin" />;

  const cert = info.certificate;
  const typeName = named(lang, info.certificateType.name, info.certificateType.nameEn);

  // An update interrupted after the labels were switched leaves the NEW certificate current on the
  // key: the holder logs in with it, and its order (for the old one) is still to finish — on the
  // server, or only on the key (the old pair not yet retired).
  const serial = normalize(cert.serial);
  const open =
    info.openOrder ??
    orders.find(
      (o) =>
        (UPDATE_STATES.includes(o.state) || unfinished.has(o.id)) &&
        (normalize(o.certificateSerial) === serial || normalize(o.issuedSerial ?? '') === serial),
    );
  if (open) {
    const o = open;
    return (
      <Card title={<h1 className="cd-card-title">{t('menuRenew')}</h1>}>
        <Alert
          type="info"
          showIcon
          title={t('openOrderTitle')}
          description={t('openOrderText', {
            id: `${orderKindText(t, o.kind)} ${o.id}`,
            // completed on the server, still to finish on the key: the certificate is written;
            // a change not yet reviewed is waiting for the review, not for money
            state:
              o.kind === 'change' && o.state === 'awaiting_payment' && o.review?.state !== 'approved'
                ? t('changeAwaitingReview')
                : t(`state.${o.state === 'completed' ? 'installed' : o.state}` as MessageKey),
          })}
          data-testid="open-order"
          action={
            <Button type="primary" onClick={() => navigate(orderTarget(o, unfinished))} data-testid="continue-order">
              {t('continueOrder')}
            </Button>
          }
        />
      </Card>
    );
  }

  if (!info.eligible) {
    const reasonKey = `reason.${info.reason ?? 'unknown'}`;
    return (
      <Result
        status="warning"
        title={t('ineligibleTitle')}
        data-testid="ineligible"
        subTitle={
          <Space orientation="vertical">
            <span>{hasKey(reasonKey) ? t(reasonKey) : t('reason.unknown', { reason: info.reason ?? '' })}</span>
            {info.window && (
              <span>
                {t('windowText', { from: fmtDate(lang, info.window.opensAt), to: fmtDate(lang, info.window.closesAt) })}
              </span>
            )}
            <span>
              {t('fieldNotAfter')}：{fmtDate(lang, cert.notAfter)}
            </span>
            <b>{t('servicePoint')}</b>
          </Space>
        }
      />
    );
  }

  const submit = async (values: OrderForm): Promise<void> => {
    if (!term) return;
    setSubmitting(true);
    setSubmitError(null);
    try {
      const { order } = await api.createOrder({ ...values, termYears: term.years });
      navigate(`/orders/${order.id}`);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'order_open') {
        const o = (e.body.order as Order | undefined) ?? undefined;
        if (o) return navigate(orderTarget(o, unfinished));
        await load();
      } else if (e instanceof ApiError && e.field) {
        if (e.field === 'termYears') {
          setStep('confirm');
          setSubmitError(e.message);
        } else form.setFields([{ name: e.field as keyof OrderForm, errors: [e.message] }]);
      } else setSubmitError(errorText(t, e));
    } finally {
      setSubmitting(false);
    }
  };

  if (step === 'confirm')
    return (
      <Card title={<h1 className="cd-card-title">{t('confirmTitle')}</h1>} data-testid="confirm-card">
        {submitError && <Alert className="cd-gap" type="error" showIcon title={submitError} />}
        <Descriptions
          bordered
          column={1}
          size="middle"
          className="cd-desc"
          styles={{ label: { width: 200 } }}
          items={[
            { key: 'name', label: t('fieldName'), children: cert.commonName },
            { key: 'kind', label: t('fieldKind'), children: typeName },
            { key: 'uid', label: t('fieldUniqueId'), children: cert.uniqueId ?? '—' },
            { key: 'notAfter', label: t('fieldNotAfter'), children: fmtDate(lang, cert.notAfter) },
            {
              key: 'term',
              label: <label htmlFor="term-select">{t('fieldTerm')}</label>,
              children: (
                <Select
                  id="term-select"
                  data-testid="term-select"
                  style={{ minWidth: 160 }}
                  value={termYears}
                  onChange={(v: number) => setTermYears(v)}
                  options={info.terms.map((x) => ({ value: x.years, label: termLabel(t, x.years) }))}
                />
              ),
            },
            {
              key: 'price',
              label: t('fieldPrice'),
              children: <span data-testid="price">{term ? money(t, term.priceFen) : '—'}</span>,
            },
            { key: 'pay', label: t('fieldPayStatus'), children: t('unpaid') },
          ]}
        />
        <div className="cd-actions">
          <Button type="primary" size="large" disabled={!term} onClick={() => setStep('order')} data-testid="confirm-cert">
            {t('confirm')}
          </Button>
        </div>
      </Card>
    );

  return (
    <Card title={<h1 className="cd-card-title">{t('orderTitle')}</h1>} data-testid="order-card">
      <Form<OrderForm>
        form={form}
        layout="horizontal"
        labelCol={{ flex: '160px' }}
        wrapperCol={{ flex: 'auto' }}
        className="cd-order-form"
        initialValues={{ paymentMethod: info.paymentMethods[0] }}
        onFinish={(v) => void submit(v)}
        onValuesChange={() => setSubmitError(null)}
        scrollToFirstError
      >
        <Form.Item label={t('fieldOrganization')}>
          <span className="cd-static">{cert.organization ?? cert.commonName}</span>
        </Form.Item>
        <Form.Item label={t('fieldKindName')}>
          <span className="cd-static">{typeName}</span>
        </Form.Item>
        <Form.Item label={t('fieldMonths')}>
          <span className="cd-static" data-testid="months">
            {term?.months}
          </span>
        </Form.Item>
        <Form.Item label={t('fieldAmount')}>
          <span className="cd-static cd-amount" data-testid="amount">
            {term ? money(t, term.priceFen) : '—'}
          </span>
        </Form.Item>
        <OrderContactFields paymentMethods={info.paymentMethods} />
        <Typography.Paragraph type="secondary">
          {t('orderNote')}
          <Hotline />
        </Typography.Paragraph>
        {submitError && <Alert className="cd-gap" type="error" showIcon role="alert" title={submitError} />}
        <div className="cd-actions">
          <Space>
            <Button type="primary" size="large" htmlType="submit" loading={submitting} data-testid="submit-order">
              {t('confirm')}
            </Button>
            <Button size="large" onClick={() => setStep('confirm')} disabled={submitting}>
              {t('cancel')}
            </Button>
          </Space>
        </div>
      </Form>
    </Card>
  );
}

function Hotline() {
  const { t } = useI18n();
  const { config } = useApp();
  return config.hotline ? <> {t('orderNoteHotline', { hotline: config.hotline })}</> : null;
}
