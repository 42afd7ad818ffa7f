// Orders: search by holder name, unique ID, order number/reference, state and date range (paged on
// the server); an order's full history with who and when; cancel, refund, confirm payment.
import { useEffect, useState } from 'react';
import {
  Alert,
  App,
  Button,
  Card,
  DatePicker,
  Descriptions,
  Drawer,
  Form,
  Input,
  Modal,
  Radio,
  Select,
  Space,
  Table,
  Timeline,
  Typography,
} from 'antd';
import type { Dayjs } from 'dayjs';
import { api, ApiError, fmtTime, yuan, type Order, type OrderDetail, type OrderState } from '../api';
import { useI18n } from '../i18n';
import { named } from '../../format';
import { go, useCan } from '../StaffApp';
import { StateTag, usePaged } from './common';
import { ConfirmPaymentModal } from './PaymentsPage';
import { TRANSITIONS } from '../../../../src/ra/order-states.js';
import { MailModal } from './InvoicesPage';

// the state machine's own list (a pure module: it carries no server code into the bundle)
const STATES = Object.keys(TRANSITIONS) as OrderState[];

interface Filters {
  name?: string;
  uniqueId?: string;
  order?: string;
  state?: OrderState[];
  range?: [Dayjs, Dayjs] | null;
}

function RefundModal({
  detail,
  open,
  onClose,
  onDone,
}: {
  detail: OrderDetail;
  open: boolean;
  onClose: () => void;
  onDone: () => void;
}) {
  const { t } = useI18n();
  const [form] = Form.useForm<{
    kind: 'order' | 'extra';
    tradeNo?: string;
    amount: string;
    refundReference: string;
    reason: string;
  }>();
  const [error, setError] = useState<string | null>(null);
  const kind = Form.useWatch('kind', form);
  const extras = detail.events.filter((e) => e.type === 'payment.extra');
  return (
    <Modal
      open={open}
      title={`${t('refund')} · ${detail.order.id}`}
      onCancel={onClose}
      destroyOnHidden
      onOk={() =>
        void form.validateFields().then(async (v) => {
          setError(null);
          try {
            await api.refund(detail.order.id, v);
            onDone();
          } catch (e) {
            setError(e instanceof ApiError ? e.message : String(e));
          }
        })
      }
    >
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 12 }} />}
      <Form
        form={form}
        layout="vertical"
        name="refund"
        initialValues={{ kind: 'order', amount: detail.payment ? yuan(detail.payment.amountFen) : '' }}
      >
        <Form.Item name="kind" label={t('refundKind')}>
          <Radio.Group>
            <Space orientation="vertical">
              <Radio value="order">{t('refundOrder')}</Radio>
              <Radio value="extra" disabled={extras.length === 0}>
                {t('refundExtra')}
              </Radio>
            </Space>
          </Radio.Group>
        </Form.Item>
        {kind === 'extra' && (
          <Form.Item name="tradeNo" label={t('tradeNo')} rules={[{ required: true }]}>
            <Select
              options={extras.map((e) => ({
                value: String(e.detail.tradeNo),
                label: `${String(e.detail.tradeNo)} · ¥${yuan(Number(e.detail.amountFen))}`,
              }))}
            />
          </Form.Item>
        )}
        <Form.Item name="amount" label={t('amount')} rules={[{ required: true, pattern: /^\d{1,9}(\.\d{1,2})?$/ }]}>
          <Input />
        </Form.Item>
        <Form.Item name="refundReference" label={t('refundReference')} rules={[{ required: true, whitespace: true }]}>
          <Input />
        </Form.Item>
        <Form.Item name="reason" label={t('reason')} rules={[{ required: true, whitespace: true }]}>
          <Input.TextArea rows={2} maxLength={500} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export function OrderDrawer({ id, onClose, onChanged }: { id: string | undefined; onClose: () => void; onChanged: () => void }) {
  const { t, lang } = useI18n();
  const can = useCan();
  const { modal, message } = App.useApp();
  const [detail, setDetail] = useState<OrderDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [refunding, setRefunding] = useState(false);
  const [mailing, setMailing] = useState(false);
  const load = (): void => {
    if (!id) return;
    setError(null);
    api.order(id).then(setDetail, (e: Error) => setError(e.message));
  };
  useEffect(() => {
    setDetail(null);
    load();
  }, [id]);
  const changed = (): void => {
    load();
    onChanged();
  };
  const o = detail?.order;
  const cancel = (): void => {
    let reason = '';
    modal.confirm({
      title: `${t('cancelOrder')} ${o?.id ?? ''}`,
      content: <Input placeholder={t('cancelReason')} onChange={(e) => (reason = e.target.value)} />,
      onOk: async () => {
        try {
          await api.cancel(o!.id, reason);
          changed();
        } catch (e) {
          void message.error(e instanceof Error ? e.message : String(e));
        }
      },
    });
  };
  return (
    <Drawer open={!!id} onClose={onClose} size="large" title={o ? `${t('order')} ${o.id}` : t('loading')} destroyOnHidden>
      {error && <Alert type="error" title={error} />}
      {detail && o && (
        <Space orientation="vertical" style={{ width: '100%' }} size="middle">
          <Space wrap>
            {can('payments.confirm') &&
              o.paymentMethod !== 'online' &&
              (o.state === 'awaiting_payment' || o.state === 'expired') && (
                <Button type="primary" onClick={() => setConfirming(true)}>
                  {t('confirmPayment')}
                </Button>
              )}
            {can('orders.cancel') && o.state === 'awaiting_payment' && (
              <Button danger onClick={cancel}>
                {t('cancelOrder')}
              </Button>
            )}
            {can('orders.refund') && detail.payment && <Button onClick={() => setRefunding(true)}>{t('refund')}</Button>}
            {can('invoices.mail') && detail.invoice?.paperStatus === 'to_mail' && detail.invoice.status === 'issued' && (
              <Button onClick={() => setMailing(true)}>{t('markMailed')}</Button>
            )}
            {detail.invoice && (
              <Button href={api.invoicePdfUrl(o.id)} target="_blank">
                {t('downloadPdf')}
              </Button>
            )}
          </Space>
          <Descriptions size="small" bordered column={2}>
            <Descriptions.Item label={t('state')}>
              <StateTag state={o.state} />
            </Descriptions.Item>
            <Descriptions.Item label={t('reference')}>
              <Typography.Text code>{o.reference}</Typography.Text>
            </Descriptions.Item>
            <Descriptions.Item label={t('holder')}>{o.organization}</Descriptions.Item>
            <Descriptions.Item label={t('uniqueId')}>{o.uniqueId}</Descriptions.Item>
            <Descriptions.Item label={t('certificateType')}>
              {named(lang, o.certificateTypeName, o.certificateTypeNameEn)} · {t('years', { n: o.termYears })}
            </Descriptions.Item>
            <Descriptions.Item label={t('amount')}>¥{yuan(o.amountFen)}</Descriptions.Item>
            <Descriptions.Item label={t('paymentMethod')}>{t(`method.${o.paymentMethod}`)}</Descriptions.Item>
            <Descriptions.Item label={t('createdAt')}>{fmtTime(o.createdAt)}</Descriptions.Item>
            <Descriptions.Item label={t('serial')} span={2}>
              <a href={`#/certificates/${o.certificateSerial}`} className="sc-mono">
                {o.certificateSerial}
              </a>
              {o.issuedSerial && (
                <>
                  {' → '}
                  <a href={`#/certificates/${o.issuedSerial}`} className="sc-mono">
                    {o.issuedSerial}
                  </a>
                </>
              )}
            </Descriptions.Item>
            <Descriptions.Item label={t('mailTo')} span={2}>
              {o.recipient} · {o.phone} · {o.address} · {o.postcode}
            </Descriptions.Item>
          </Descriptions>
          {detail.payment && (
            <Card size="small" title={t('payment')}>
              {t(`method.${detail.payment.channel}`)} · <Typography.Text code>{detail.payment.tradeNo}</Typography.Text> · ¥
              {yuan(detail.payment.amountFen)} · {fmtTime(detail.payment.paidAt)} · {detail.payment.recordedBy}
            </Card>
          )}
          {detail.refunds.length > 0 && (
            <Card size="small" title={t('refunds')}>
              {detail.refunds.map((r) => (
                <div key={r.tradeNo}>
                  {r.kind} · ¥{yuan(r.amountFen)} · {r.refundReference} · {r.reason} · {r.recordedBy} · {fmtTime(r.recordedAt)}
                </div>
              ))}
            </Card>
          )}
          {detail.invoice && (
            <Card size="small" title={t('invoice')}>
              {detail.invoice.number} · {t(`invoice.${detail.invoice.status}`)} · {t(`paper.${detail.invoice.paperStatus}`)}
              {detail.invoice.carrier && ` · ${detail.invoice.carrier} ${detail.invoice.trackingNo ?? ''}`}
            </Card>
          )}
          <Card size="small" title={t('history')}>
            <Timeline
              items={detail.events.map((e) => ({
                content: (
                  <span>
                    <b>{e.type}</b> · {fmtTime(e.at)} · {e.actor}
                    {Object.keys(e.detail ?? {}).length > 0 && <div className="sc-mono">{JSON.stringify(e.detail)}</div>}
                  </span>
                ),
              }))}
            />
          </Card>
          <Card size="small" title={t('auditTrail')}>
            <Table
              size="small"
              rowKey="seq"
              pagination={false}
              dataSource={detail.audit}
              columns={[
                { title: '#', dataIndex: 'seq', width: 60 },
                { title: t('time'), dataIndex: 'at', render: fmtTime, width: 130 },
                { title: t('actor'), dataIndex: 'actor' },
                { title: t('action'), dataIndex: 'action' },
                {
                  title: t('details'),
                  dataIndex: 'details',
                  render: (d: unknown) => <span className="sc-mono">{JSON.stringify(d)}</span>,
                },
              ]}
            />
          </Card>
          <ConfirmPaymentModal
            order={confirming ? o : null}
            onClose={() => setConfirming(false)}
            onDone={() => {
              setConfirming(false);
              changed();
            }}
          />
          <RefundModal
            detail={detail}
            open={refunding}
            onClose={() => setRefunding(false)}
            onDone={() => {
              setRefunding(false);
              changed();
            }}
          />
          <MailModal
            orderId={mailing ? o.id : null}
            onClose={() => setMailing(false)}
            onDone={() => {
              setMailing(false);
              changed();
            }}
          />
        </Space>
      )}
    </Drawer>
  );
}

export default function OrdersPage({ openId }: { openId: string | undefined }) {
  const { t, lang } = useI18n();
  const [form] = Form.useForm<Filters>();
  const [filters, setFilters] = useState<Filters>({});
  const list = usePaged(
    (page, pageSize) =>
      api.orders({
        page,
        pageSize,
        name: filters.name?.trim(),
        uniqueId: filters.uniqueId?.trim(),
        order: filters.order?.trim(),
        state: filters.state?.join(','),
        from: filters.range?.[0].format('YYYY-MM-DD'),
        to: filters.range?.[1].format('YYYY-MM-DD'),
      }),
    [filters],
  );
  return (
    <Card size="small" title={t('menuOrders')}>
      <Form form={form} layout="inline" name="orderFilters" className="sc-filters" onFinish={(v) => setFilters(v)}>
        <Form.Item name="name">
          <Input placeholder={t('holder')} allowClear style={{ width: 160 }} />
        </Form.Item>
        <Form.Item name="uniqueId">
          <Input placeholder={t('uniqueId')} allowClear style={{ width: 170 }} />
        </Form.Item>
        <Form.Item name="order">
          <Input placeholder={`${t('order')} / ${t('reference')}`} allowClear style={{ width: 190 }} />
        </Form.Item>
        <Form.Item name="state">
          <Select
            mode="multiple"
            allowClear
            placeholder={t('state')}
            style={{ minWidth: 160 }}
            options={STATES.map((s) => ({ value: s, label: t(`state.${s}`) }))}
          />
        </Form.Item>
        <Form.Item name="range">
          <DatePicker.RangePicker placeholder={[t('dateRange'), '']} />
        </Form.Item>
        <Space>
          <Button type="primary" htmlType="submit">
            {t('search')}
          </Button>
          <Button
            onClick={() => {
              form.resetFields();
              setFilters({});
            }}
          >
            {t('reset')}
          </Button>
        </Space>
      </Form>
      {list.error && <Alert type="error" title={list.error} />}
      <Table<Order>
        size="small"
        rowKey="id"
        {...list.tableProps}
        onRow={(o) => ({ onClick: () => go(`/orders/${encodeURIComponent(o.id)}`), style: { cursor: 'pointer' } })}
        columns={[
          { title: t('createdAt'), dataIndex: 'createdAt', width: 140, render: fmtTime },
          { title: t('order'), dataIndex: 'id' },
          { title: t('holder'), dataIndex: 'organization' },
          { title: t('uniqueId'), dataIndex: 'uniqueId' },
          {
            title: t('certificateType'),
            dataIndex: 'certificateTypeName',
            render: (_: string, o: Order) => named(lang, o.certificateTypeName, o.certificateTypeNameEn),
          },
          { title: t('paymentMethod'), dataIndex: 'paymentMethod', render: (v: string) => t(`method.${v}`) },
          { title: t('amount'), dataIndex: 'amountFen', align: 'right', render: (v: number) => yuan(v) },
          { title: t('state'), dataIndex: 'state', render: (v: OrderState) => <StateTag state={v} /> },
        ]}
      />
      <OrderDrawer id={openId} onClose={() => go('/orders')} onChanged={list.reload} />
    </Card>
  );
}
