// One order: pay it (online: the gateway's page; offline: remittance instructions with the reference
// code, refreshed until the money arrives), then go to the update; its history.
import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import { Alert, Button, Card, Descriptions, Popconfirm, Result, Space, Spin, Tag, Timeline, Typography } from 'antd';
import { ClockCircleOutlined } from '@ant-design/icons';
import { api, type Order, type OrderInvoice, type OrderState } from '../api';
import { errorText } from '../errors';
import { fmtDate, fmtTime, money, named, termLabel } from '../format';
import { hasKey, useI18n, type MessageKey, type Translate } from '../i18n';
import { navigate } from '../router';
import { updateUnfinished, useUnfinishedInstalls } from '../unfinished';

const POLL_MS = 4000;
/** how long an online order is polled after the page opens (the return from the gateway) */
const ONLINE_POLL_FOR_MS = 3 * 60_000;

export const STATE_COLOR: Record<OrderState, string> = {
  awaiting_payment: 'orange',
  paid: 'blue',
  issuing: 'blue',
  issued: 'blue',
  installed: 'cyan',
  completed: 'green',
  cancelled: 'default',
  expired: 'default',
  refunded: 'purple',
};

export function StateTag({ state }: { state: OrderState }) {
  const { t } = useI18n();
  return (
    <Tag color={STATE_COLOR[state]} data-testid="order-state" data-state={state}>
      {t(`state.${state}` as MessageKey)}
    </Tag>
  );
}

export function payMethodText(t: Translate, m: Order['paymentMethod']): string {
  return t(m === 'online' ? 'payOnlineShort' : m === 'postal' ? 'payPostalShort' : 'payBankShort');
}

/** 业务类型: what the order is for, as the menu names it */
const ORDER_KIND: Record<Order['kind'], MessageKey> = {
  renewal: 'menuRenew',
  upgrade: 'menuUpgrade',
  change: 'orderKindChange',
  seal: 'menuSealApply',
  app: 'orderKindApp',
};

export const orderKindText = (t: Translate, kind: Order['kind']): string => t(ORDER_KIND[kind]);

export function orderItems(t: Translate, lang: 'zh' | 'en', o: Order) {
  return [
    { key: 'id', label: t('fieldOrderId'), children: <Typography.Text copyable>{o.id}</Typography.Text> },
    { key: 'state', label: t('fieldState'), children: <StateTag state={o.state} /> },
    { key: 'business', label: t('fieldBusiness'), children: <span data-testid="order-kind">{t(ORDER_KIND[o.kind])}</span> },
    { key: 'org', label: t('fieldOrganization'), children: o.organization ?? '—' },
    { key: 'kind', label: t('fieldKindName'), children: named(lang, o.certificateTypeName, o.certificateTypeNameEn) },
    // a change of details does not extend the term
    ...(o.kind === 'change'
      ? []
      : [{ key: 'term', label: t('fieldTerm'), children: `${termLabel(t, o.termYears)}（${o.months}）` }]),
    { key: 'amount', label: t('fieldAmount'), children: money(t, o.amountFen) },
    { key: 'method', label: t('fieldPayMethod'), children: payMethodText(t, o.paymentMethod) },
    { key: 'recipient', label: t('fieldRecipient'), children: o.recipient },
    { key: 'phone', label: t('fieldPhone'), children: o.phone },
    { key: 'address', label: t('fieldAddress'), children: o.address },
    { key: 'postcode', label: t('fieldPostcode'), children: o.postcode },
    { key: 'created', label: t('fieldCreatedAt'), children: fmtTime(lang, o.createdAt) },
    ...(o.state === 'awaiting_payment' && o.expiresAt
      ? [{ key: 'expires', label: t('fieldExpiresAt'), children: fmtTime(lang, o.expiresAt) }]
      : []),
    ...(o.paidAt ? [{ key: 'paid', label: t('fieldPaidAt'), children: fmtTime(lang, o.paidAt) }] : []),
    ...(o.newNotAfter ? [{ key: 'newNotAfter', label: t('fieldNewNotAfter'), children: fmtDate(lang, o.newNotAfter) }] : []),
    ...(o.issuedSerial
      ? [{ key: 'issued', label: t('fieldIssuedSerial'), children: <code>{o.issuedSerial.toUpperCase()}</code> }]
      : []),
    ...(o.invoice ? [{ key: 'invoice', label: t('fieldInvoice'), children: <InvoiceInfo invoice={o.invoice} /> }] : []),
  ];
}

/** The invoice's number, the e-invoice download, and where the paper invoice is. */
function InvoiceInfo({ invoice }: { invoice: OrderInvoice }) {
  const { t, lang } = useI18n();
  if (invoice.status === 'void')
    return (
      <span data-testid="order-invoice">
        {invoice.number} · {t('invoiceVoid')}
      </span>
    );
  return (
    <Space wrap size={4} data-testid="order-invoice">
      <span>{invoice.number}</span>
      <Typography.Link href={invoice.pdfUrl} target="_blank" rel="noopener">
        {t('invoiceDownload')}
      </Typography.Link>
      {invoice.paper === 'to_mail' && <Tag>{t('invoicePaperToMail')}</Tag>}
      {invoice.paper === 'mailed' && (
        <Tag color="green">
          {t('invoicePaperMailed')}
          {invoice.carrier ? ` · ${invoice.carrier}` : ''}
          {invoice.trackingNo ? ` ${t('detailTrackingNo')} ${invoice.trackingNo}` : ''}
          {invoice.mailedAt ? ` · ${fmtDate(lang, invoice.mailedAt)}` : ''}
        </Tag>
      )}
    </Space>
  );
}

/** An event's detail, whatever its shape: text as is; of an object, the fields a holder cares about. */
export function detailText(t: Translate, detail: unknown): string {
  if (detail === null || detail === undefined || detail === '') return '';
  if (typeof detail === 'string' || typeof detail === 'number') return String(detail);
  if (typeof detail !== 'object' || Array.isArray(detail)) return '';
  const d = detail as Record<string, unknown>;
  const parts: string[] = [];
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
  if (typeof d.amountFen === 'number') parts.push(`${t('colAmount')} ${money(t, d.amountFen)}`);
  if (typeof d.termYears === 'number') parts.push(termLabel(t, d.termYears));
  const pm = str(d.paymentMethod);
  if (pm === 'online' || pm === 'postal' || pm === 'bank') parts.push(payMethodText(t, pm));
  const trade = str(d.tradeNo) ?? str(d.reference);
  if (trade) parts.push(`${t('detailTradeNo')} ${trade}`);
  const serial = str(d.serial) ?? str(d.issuedSerial) ?? str(d.newSerial);
  if (serial) parts.push(`${t('fieldSerial')} ${serial.toUpperCase()}`);
  const tracking = str(d.trackingNo);
  if (tracking) parts.push(`${t('detailTrackingNo')} ${tracking}`);
  const reason = str(d.reason) ?? str(d.message);
  if (reason) parts.push(reason);
  return parts.join(' · ');
}

function actorText(t: Translate, actor: string | undefined): string {
  if (!actor) return '';
  if (actor === 'holder' || actor.startsWith('holder:')) return t('actorHolder');
  if (actor.startsWith('staff:') || actor.startsWith('cli:')) return t('actorStaff'); // the console or the operator's CLI
  if (actor === 'system' || actor.startsWith('job') || actor.startsWith('gateway')) return t('actorSystem');
  return actor;
}

export function OrderEvents({ order }: { order: Order }) {
  const { t, lang } = useI18n();
  if (!order.events?.length) return null;
  return (
    <Card size="small" title={t('events')} className="cd-gap-top">
      <Timeline
        items={order.events.map((e, i) => {
          const key = `event.${e.type}`;
          const detail = detailText(t, e.detail);
          const who = actorText(t, e.actor);
          return {
            key: i,
            content: (
              <div>
                <div>
                  {hasKey(key) ? t(key) : e.type}
                  {detail ? <Typography.Text type="secondary"> — {detail}</Typography.Text> : null}
                </div>
                <Typography.Text type="secondary" className="cd-small">
                  {fmtTime(lang, e.at)}
                  {who ? ` · ${who}` : ''}
                </Typography.Text>
              </div>
            ),
          };
        })}
      />
    </Card>
  );
}

export default function OrderPage({ orderId }: { orderId: string }) {
  const { t, lang } = useI18n();
  const [order, setOrder] = useState<Order | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<'pay' | 'cancel' | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const opened = useRef(Date.now());
  const unfinished = useUnfinishedInstalls();

  const load = useCallback(async () => {
    try {
      const { order: o } = await api.order(orderId);
      setOrder(o);
      setError(null);
    } catch (e) {
      setError(errorText(t, e));
    }
  }, [orderId, t]);

  useEffect(() => {
    void load();
  }, [load]);

  // Awaiting payment: ask again every few seconds (offline: until the money arrives).
  const awaiting = order?.state === 'awaiting_payment';
  const online = order?.paymentMethod === 'online';
  useEffect(() => {
    if (!awaiting) return;
    const id = window.setInterval(() => {
      if (online && Date.now() - opened.current > ONLINE_POLL_FOR_MS) return;
      if (document.visibilityState === 'hidden') return;
      void load();
    }, POLL_MS);
    return () => window.clearInterval(id);
  }, [awaiting, online, load]);

  if (error && !order)
    return <Result status="error" title={error} extra={<Button onClick={() => void load()}>{t('retry')}</Button>} />;
  if (!order) return <Spin className="cd-spin" />;

  const pay = async (): Promise<void> => {
    setBusy('pay');
    setActionError(null);
    try {
      const { redirectUrl } = await api.pay(order.id);
      window.location.assign(redirectUrl);
    } catch (e) {
      setActionError(errorText(t, e));
      setBusy(null);
    }
  };

  const cancel = async (): Promise<void> => {
    setBusy('cancel');
    setActionError(null);
    try {
      const { order: o } = await api.cancel(order.id);
      setOrder(o);
    } catch (e) {
      setActionError(errorText(t, e));
    } finally {
      setBusy(null);
    }
  };

  const cancelButton = (
    <Popconfirm title={t('cancelOrderConfirm')} onConfirm={() => void cancel()} okText={t('confirm')} cancelText={t('cancel')}>
      <Button danger loading={busy === 'cancel'} disabled={busy === 'pay'} data-testid="cancel-order">
        {t('cancelOrder')}
      </Button>
    </Popconfirm>
  );

  let head: ReactNode = null;
  const s = order.state;
  if (order.kind === 'change' && s === 'awaiting_payment' && order.review?.state === 'pending') {
    // a change is paid (or free) only once the CA approved it
    head = (
      <Result
        status="info"
        title={t('changeAwaitingReview')}
        subTitle={t('changeAwaitingReviewText')}
        data-testid="awaiting-review"
        extra={
          <Space wrap>
            <Button type="primary" onClick={() => navigate(`/changes/${order.id}`)} data-testid="go-change">
              {t('changeDetailTitle')}
            </Button>
            {cancelButton}
          </Space>
        }
      />
    );
  } else if (s === 'awaiting_payment' && order.paymentMethod === 'online') {
    head = (
      <Card className="cd-gap">
        <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
          <div className="cd-pay-amount">
            {t('fieldAmount')}：<b data-testid="pay-amount">{money(t, order.amountFen)}</b>
          </div>
          <Space wrap>
            <Button type="primary" size="large" loading={busy === 'pay'} onClick={() => void pay()} data-testid="pay">
              {busy === 'pay' ? t('paying') : t('payNow')}
            </Button>
            {cancelButton}
          </Space>
          <Typography.Text type="secondary">{t('awaitingOnline')}</Typography.Text>
        </Space>
      </Card>
    );
  } else if (s === 'awaiting_payment') {
    const r = order.remittance;
    head = (
      <Card
        className="cd-gap"
        title={
          <Space>
            {t('remittanceTitle')}
            <Tag icon={<ClockCircleOutlined />} color="orange" data-testid="awaiting">
              {t('awaitingPayment')}
            </Tag>
          </Space>
        }
        data-testid="remittance"
      >
        <Typography.Paragraph>{t('remittanceIntro')}</Typography.Paragraph>
        <div className="cd-reference" aria-label={t('remittanceReference')}>
          <div className="cd-reference-label">{t('remittanceReference')}</div>
          <Typography.Text copyable className="cd-reference-code" data-testid="reference">
            {r?.reference ?? order.reference}
          </Typography.Text>
        </div>
        <Descriptions
          bordered
          size="small"
          column={1}
          className="cd-gap-top"
          styles={{ label: { width: 200 } }}
          items={[
            { key: 'amount', label: t('remittanceAmount'), children: <b>{money(t, order.amountFen)}</b> },
            ...(r ? [{ key: 'payee', label: t('remittancePayee'), children: r.payee }] : []),
            ...(r?.bank ? [{ key: 'bank', label: t('remittanceBank'), children: r.bank }] : []),
            ...(r?.account
              ? [
                  {
                    key: 'account',
                    label: t('remittanceAccount'),
                    children: <Typography.Text copyable>{r.account}</Typography.Text>,
                  },
                ]
              : []),
            ...(r?.postalAddress ? [{ key: 'postal', label: t('remittancePostalAddress'), children: r.postalAddress }] : []),
            ...(r?.postcode ? [{ key: 'postcode', label: t('remittancePostcode'), children: r.postcode }] : []),
          ]}
        />
        {r?.note && <Typography.Paragraph className="cd-gap-top">{r.note}</Typography.Paragraph>}
        <Space className="cd-gap-top" wrap>
          <Typography.Text type="secondary">{t('autoRefresh')}</Typography.Text>
          {cancelButton}
        </Space>
      </Card>
    );
  } else if (order.kind === 'seal' && s !== 'expired' && s !== 'cancelled') {
    // a seal order: after payment it waits for the review; the seal shows in 印章查询
    head = (
      <Result
        status="success"
        title={t(s === 'paid' ? 'paySuccess' : 'sealMade')}
        subTitle={t('sealReviewNote')}
        data-testid="paid"
        extra={
          <Button type="primary" size="large" onClick={() => navigate('/seals')} data-testid="go-seals">
            {t('menuSeals')}
          </Button>
        }
      />
    );
  } else if (order.kind === 'app' && (s === 'paid' || s === 'completed')) {
    // 应用开通: paid is enabled (the server enables it on this look); nothing to install
    head = (
      <Result
        status="success"
        title={t('appEnabledTitle')}
        subTitle={t('appEnabledText')}
        data-testid="paid"
        extra={
          <Button type="primary" size="large" onClick={() => navigate('/apps')} data-testid="go-apps">
            {t('menuApps')}
          </Button>
        }
      />
    );
  } else if (updateUnfinished(order, unfinished) || s === 'paid') {
    // Paid: the update starts here. Under way — the server may even call it completed while the
    // assistant still has the old pair to retire: 继续更新, never 更新成功 before the key is done.
    const begun = updateUnfinished(order, unfinished);
    head = (
      <Result
        status={begun ? 'warning' : 'success'}
        title={t(begun ? 'updateUnfinishedTitle' : 'paySuccess')}
        subTitle={t(begun ? 'updateUnfinished' : 'paySuccessText')}
        data-testid={begun ? 'update-unfinished' : 'paid'}
        extra={
          <Button type="primary" size="large" onClick={() => navigate(`/orders/${order.id}/update`)} data-testid="go-update">
            {t(begun ? 'resumeUpdate' : 'goUpdate')}
          </Button>
        }
      />
    );
  } else if (s === 'completed') {
    head = (
      <Result
        status="success"
        title={t('orderCompleted')}
        subTitle={t('orderCompletedText')}
        extra={<Button href="#/certificates">{t('viewCertificates')}</Button>}
      />
    );
  } else {
    head = <Alert className="cd-gap" type="info" showIcon title={t('orderClosed', { state: t(`state.${s}` as MessageKey) })} />;
  }

  return (
    <div className="cd-page">
      <div className="cd-row-between cd-gap">
        <Typography.Title level={1} className="cd-page-title">
          {t('orderDetailTitle')}
        </Typography.Title>
        <a href="#/orders">{t('backToOrders')}</a>
      </div>
      {actionError && <Alert className="cd-gap" type="error" showIcon role="alert" title={actionError} />}
      {head}
      <Card size="small">
        <Descriptions bordered size="small" column={{ xs: 1, md: 2 }} items={orderItems(t, lang, order)} />
      </Card>
      <OrderEvents order={order} />
    </div>
  );
}
