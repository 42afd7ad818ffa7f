// Offline payments: the queue of postal/bank orders awaiting their money (oldest first), confirming
// one with the transfer reference and the amount received, and importing a bank statement.
import { useState } from 'react';
import { Alert, App, Button, Card, Form, Input, Modal, Space, Table, Tabs, Typography, Upload } from 'antd';
import { api, ApiError, fmtTime, yuan, type ImportResult, type LineResult, type Order } from '../api';
import { useI18n } from '../i18n';
import { StateTag, usePaged } from './common';

export function ConfirmPaymentModal({
  order,
  onClose,
  onDone,
}: {
  order: Order | null;
  onClose: () => void;
  onDone: () => void;
}) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ reference: string; amount: string; note?: string }>();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (): Promise<void> => {
    const v = await form.validateFields();
    if (!order) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api.confirmPayment(order.id, {
        reference: v.reference,
        amount: v.amount.trim(),
        ...(v.note ? { note: v.note } : {}),
      });
      const text =
        r.outcome === 'recorded'
          ? t('paymentRecorded', { id: order.id })
          : r.outcome === 'duplicate'
            ? t('paymentDuplicate')
            : t('paymentExtra');
      if (r.outcome === 'recorded') void message.success(text);
      else void message.warning(text);
      form.resetFields();
      onDone();
    } catch (e) {
      if (e instanceof ApiError && e.field && ['reference', 'amount'].includes(e.field))
        form.setFields([{ name: e.field as 'amount', errors: [e.message] }]);
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      open={!!order}
      title={order ? t('confirmPaymentTitle', { id: order.id }) : ''}
      onCancel={onClose}
      onOk={() => void submit()}
      okText={t('confirm')}
      confirmLoading={busy}
      destroyOnHidden
    >
      {order && (
        <Typography.Paragraph>
          {order.organization} · {t(`method.${order.paymentMethod}`)} · {t('reference')}{' '}
          <Typography.Text code>{order.reference}</Typography.Text> · {t('expectedAmount', { amount: yuan(order.amountFen) })}
        </Typography.Paragraph>
      )}
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 12 }} data-testid="confirm-error" />}
      <Form form={form} layout="vertical" name="confirm">
        <Form.Item name="reference" label={t('remittanceReference')} rules={[{ required: true, whitespace: true, max: 100 }]}>
          <Input autoFocus />
        </Form.Item>
        <Form.Item name="amount" label={t('amountReceived')} rules={[{ required: true, pattern: /^\s*\d{1,9}(\.\d{1,2})?\s*$/ }]}>
          <Input inputMode="decimal" placeholder={order ? yuan(order.amountFen) : ''} />
        </Form.Item>
        <Form.Item name="note" label={t('note')}>
          <Input maxLength={200} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function LineTable({ rows }: { rows: LineResult[] }) {
  const { t } = useI18n();
  return (
    <Table<LineResult>
      size="small"
      rowKey={(r) => `${r.line}`}
      dataSource={rows}
      pagination={false}
      columns={[
        { title: t('line'), dataIndex: 'line', width: 60 },
        { title: t('time'), dataIndex: 'date', width: 130 },
        { title: t('amount'), dataIndex: 'amountFen', width: 100, align: 'right', render: (v: number | null) => yuan(v) },
        { title: t('reference'), dataIndex: 'memo' },
        {
          title: t('order'),
          dataIndex: 'orderId',
          render: (v: string | null) => (v ? <a href={`#/orders/${encodeURIComponent(v)}`}>{v}</a> : ''),
        },
        {
          title: t('reason'),
          key: 'reason',
          render: (_: unknown, r: LineResult) =>
            r.outcome === 'amount_mismatch' || r.outcome === 'invalid'
              ? r.message
              : `${r.already ? '⟲ ' : ''}${t(`outcome.${r.outcome}`)}`,
        },
      ]}
    />
  );
}

function StatementImport({ onDone }: { onDone: () => void }) {
  const { t } = useI18n();
  const [result, setResult] = useState<ImportResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const upload = async (file: File): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      setResult(await api.importStatement(file.name, await file.text()));
      onDone();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title={t('importTitle')} size="small" style={{ marginTop: 16 }}>
      <Typography.Paragraph type="secondary">{t('importHint')}</Typography.Paragraph>
      <Upload accept=".csv,text/csv" showUploadList={false} beforeUpload={(f) => (void upload(f), false)}>
        <Button loading={busy} data-testid="import-statement">
          {t('chooseFile')}
        </Button>
      </Upload>
      {error && <Alert type="error" showIcon title={error} style={{ marginTop: 12 }} />}
      {result && (
        <div data-testid="import-result" style={{ marginTop: 12 }}>
          <Alert
            type={result.unmatched.length ? 'warning' : 'success'}
            showIcon
            title={t('importDone', {
              lines: result.lines,
              matched: result.matched.length,
              already: result.alreadyRecorded.length,
              extra: result.extra.length,
              unmatched: result.unmatched.length,
            })}
          />
          <Tabs
            items={[
              {
                key: 'matched',
                label: `${t('matched')} (${result.matched.length})`,
                children: <LineTable rows={result.matched} />,
              },
              {
                key: 'unmatched',
                label: `${t('unmatched')} (${result.unmatched.length})`,
                children: <LineTable rows={result.unmatched} />,
              },
              {
                key: 'already',
                label: `${t('alreadyRecorded')} (${result.alreadyRecorded.length})`,
                children: <LineTable rows={result.alreadyRecorded} />,
              },
              {
                key: 'extra',
                label: `${t('extraPayments')} (${result.extra.length})`,
                children: <LineTable rows={result.extra} />,
              },
            ]}
          />
        </div>
      )}
    </Card>
  );
}

export default function PaymentsPage() {
  const { t } = useI18n();
  const [confirming, setConfirming] = useState<Order | null>(null);
  const list = usePaged((page, size) => api.offlineQueue(page, size), []);
  return (
    <>
      <Card
        title={t('queueTitle')}
        size="small"
        extra={
          <Space>
            <Button onClick={list.reload}>{t('refresh')}</Button>
          </Space>
        }
      >
        {list.error && <Alert type="error" title={list.error} />}
        <Table<Order>
          size="small"
          rowKey="id"
          {...list.tableProps}
          columns={[
            { title: t('createdAt'), dataIndex: 'createdAt', width: 140, render: fmtTime },
            { title: t('order'), dataIndex: 'id', render: (v: string) => <a href={`#/orders/${encodeURIComponent(v)}`}>{v}</a> },
            { title: t('reference'), dataIndex: 'reference', render: (v: string) => <Typography.Text code>{v}</Typography.Text> },
            { title: t('holder'), dataIndex: 'organization' },
            { title: t('paymentMethod'), dataIndex: 'paymentMethod', render: (v: string) => t(`method.${v}`) },
            { title: t('amount'), dataIndex: 'amountFen', align: 'right', render: (v: number) => yuan(v) },
            { title: t('state'), dataIndex: 'state', render: (v: Order['state']) => <StateTag state={v} /> },
            {
              title: t('actions'),
              key: 'a',
              render: (_: unknown, o: Order) => (
                <Button type="primary" size="small" onClick={() => setConfirming(o)} data-testid={`confirm-${o.reference}`}>
                  {t('confirmPayment')}
                </Button>
              ),
            },
          ]}
        />
      </Card>
      <StatementImport onDone={list.reload} />
      <ConfirmPaymentModal
        order={confirming}
        onClose={() => setConfirming(null)}
        onDone={() => {
          setConfirming(null);
          list.reload();
        }}
      />
    </>
  );
}
