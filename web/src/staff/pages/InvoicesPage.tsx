// Invoices: paper invoices to mail (oldest first) with the mailing address, marking one mailed with
// the carrier and tracking number, and the electronic PDF.
import { useState } from 'react';
import { Alert, App, Button, Card, Form, Input, Modal, Segmented, Space, Table, Tag } from 'antd';
import { api, ApiError, fmtTime, yuan, type Invoice } from '../api';
import { useI18n } from '../i18n';
import { useCan } from '../StaffApp';
import { usePaged } from './common';

export function MailModal({ orderId, onClose, onDone }: { orderId: string | null; onClose: () => void; onDone: () => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ carrier: string; trackingNo: string }>();
  const [error, setError] = useState<string | null>(null);
  return (
    <Modal
      open={!!orderId}
      title={`${t('markMailed')} · ${orderId ?? ''}`}
      onCancel={onClose}
      destroyOnHidden
      onOk={() =>
        void form.validateFields().then(async (v) => {
          setError(null);
          try {
            await api.markMailed(orderId!, v.carrier, v.trackingNo);
            void message.success(t('mailed'));
            onDone();
          } catch (e) {
            if (e instanceof ApiError && (e.field === 'carrier' || e.field === 'trackingNo'))
              form.setFields([{ name: e.field, errors: [e.message] }]);
            else setError(e instanceof Error ? e.message : String(e));
          }
        })
      }
    >
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 12 }} />}
      <Form form={form} layout="vertical" name="mail" initialValues={{ carrier: 'EMS' }}>
        <Form.Item name="carrier" label={t('carrier')} rules={[{ required: true, whitespace: true, max: 50 }]}>
          <Input />
        </Form.Item>
        <Form.Item name="trackingNo" label={t('trackingNo')} rules={[{ required: true, pattern: /^[A-Za-z0-9-]{4,40}$/ }]}>
          <Input autoFocus />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export default function InvoicesPage() {
  const { t } = useI18n();
  const can = useCan();
  const [paper, setPaper] = useState<string>('to_mail');
  const [q, setQ] = useState('');
  const [mailing, setMailing] = useState<string | null>(null);
  const list = usePaged(
    (page, pageSize) => api.invoices({ page, pageSize, paperStatus: paper === 'all' ? undefined : paper, q: q || undefined }),
    [paper, q],
  );
  return (
    <Card size="small" title={t('menuInvoices')}>
      <Space className="sc-filters" wrap>
        <Segmented
          value={paper}
          onChange={(v) => setPaper(String(v))}
          options={[
            { value: 'to_mail', label: t('paper.to_mail') },
            { value: 'mailed', label: t('paper.mailed') },
            { value: 'all', label: '∗' },
          ]}
        />
        <Input.Search
          placeholder={`${t('order')} / ${t('invoiceNumber')} / ${t('holder')}`}
          allowClear
          onSearch={setQ}
          style={{ width: 320 }}
        />
      </Space>
      {list.error && <Alert type="error" title={list.error} />}
      <Table<Invoice>
        size="small"
        rowKey="number"
        {...list.tableProps}
        columns={[
          { title: t('paidAt'), dataIndex: 'paidAt', width: 140, render: fmtTime },
          { title: t('invoiceNumber'), dataIndex: 'number' },
          {
            title: t('order'),
            dataIndex: 'orderId',
            render: (v: string) => <a href={`#/orders/${encodeURIComponent(v)}`}>{v}</a>,
          },
          { title: t('holder'), dataIndex: 'buyerName' },
          { title: t('amount'), dataIndex: 'amountFen', align: 'right', render: (v: number) => yuan(v) },
          {
            title: t('mailTo'),
            key: 'mailTo',
            render: (_: unknown, i: Invoice) =>
              i.mailTo ? `${i.mailTo.recipient} · ${i.mailTo.phone} · ${i.mailTo.address} ${i.mailTo.postcode}` : '',
          },
          {
            title: t('paperStatus'),
            key: 'paper',
            render: (_: unknown, i: Invoice) => (
              <>
                {i.status === 'void' && <Tag color="red">{t('invoice.void')}</Tag>}
                <Tag color={i.paperStatus === 'mailed' ? 'green' : i.paperStatus === 'to_mail' ? 'gold' : 'default'}>
                  {t(`paper.${i.paperStatus}`)}
                </Tag>
                {i.carrier && `${i.carrier} ${i.trackingNo ?? ''}`}
              </>
            ),
          },
          {
            title: t('actions'),
            key: 'a',
            render: (_: unknown, i: Invoice) => (
              <Space>
                {can('invoices.mail') && i.paperStatus === 'to_mail' && i.status === 'issued' && (
                  <Button size="small" type="primary" onClick={() => setMailing(i.orderId)} data-testid={`mail-${i.orderId}`}>
                    {t('markMailed')}
                  </Button>
                )}
                <Button size="small" href={api.invoicePdfUrl(i.orderId)} target="_blank" data-testid={`pdf-${i.orderId}`}>
                  PDF
                </Button>
              </Space>
            ),
          },
        ]}
      />
      <MailModal
        orderId={mailing}
        onClose={() => setMailing(null)}
        onDone={() => {
          setMailing(null);
          list.reload();
        }}
      />
    </Card>
  );
}
