// The audit log: filters, keyset pages (newest first), CSV export of what the filters match, and
// the hash-chain check.
import { useEffect, useState } from 'react';
import { Alert, Button, Card, DatePicker, Form, Input, Space, Table } from 'antd';
import type { Dayjs } from 'dayjs';
import { api, fmtTime, type AuditEntry } from '../api';
import { useI18n } from '../i18n';

interface Filters {
  actor?: string;
  action?: string;
  target?: string;
  range?: [Dayjs, Dayjs] | null;
}

export default function AuditPage() {
  const { t } = useI18n();
  const [form] = Form.useForm<Filters>();
  const [filters, setFilters] = useState<Record<string, string | undefined>>({});
  const [cursor, setCursor] = useState<number[]>([]);
  const [rows, setRows] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [verdict, setVerdict] = useState<{ ok: boolean; text: string } | null>(null);
  const before = cursor[cursor.length - 1];
  useEffect(() => {
    setLoading(true);
    setError(null);
    api
      .audit({ ...filters, limit: 50, ...(before ? { beforeSeq: before } : {}) })
      .then(
        (r) => {
          setRows(r.items);
          setNext(r.nextBeforeSeq);
        },
        (e: Error) => setError(e.message),
      )
      .finally(() => setLoading(false));
  }, [filters, before]);
  const apply = (v: Filters): void => {
    setCursor([]);
    setFilters({
      actor: v.actor?.trim() || undefined,
      action: v.action?.trim() || undefined,
      target: v.target?.trim() || undefined,
      from: v.range?.[0].format('YYYY-MM-DD'),
      to: v.range?.[1].format('YYYY-MM-DD'),
    });
  };
  const verify = async (): Promise<void> => {
    const r = await api.verifyAudit();
    setVerdict({
      ok: r.ok,
      text: r.ok ? t('chainOk', { n: r.entries }) : t('chainBroken', { n: r.brokenAt ?? '?', reason: r.reason ?? '' }),
    });
  };
  return (
    <Card
      size="small"
      title={t('menuAudit')}
      extra={
        <Space>
          <Button href={api.auditCsvUrl(filters)} data-testid="audit-export">
            {t('exportCsv')}
          </Button>
          <Button onClick={() => void verify()} data-testid="audit-verify">
            {t('verifyChain')}
          </Button>
        </Space>
      }
    >
      {verdict && (
        <Alert
          type={verdict.ok ? 'success' : 'error'}
          showIcon
          title={verdict.text}
          style={{ marginBottom: 12 }}
          data-testid="audit-verdict"
        />
      )}
      <Form form={form} layout="inline" name="auditFilters" className="sc-filters" onFinish={apply}>
        <Form.Item name="actor">
          <Input placeholder={`${t('actor')} (staff:…)`} allowClear />
        </Form.Item>
        <Form.Item name="action">
          <Input placeholder={`${t('action')} (payment.)`} allowClear />
        </Form.Item>
        <Form.Item name="target">
          <Input placeholder={t('target')} allowClear />
        </Form.Item>
        <Form.Item name="range">
          <DatePicker.RangePicker />
        </Form.Item>
        <Button type="primary" htmlType="submit">
          {t('search')}
        </Button>
      </Form>
      {error && <Alert type="error" title={error} />}
      <Table<AuditEntry>
        size="small"
        rowKey="seq"
        loading={loading}
        dataSource={rows}
        pagination={false}
        columns={[
          { title: '#', dataIndex: 'seq', width: 70 },
          { title: t('time'), dataIndex: 'at', width: 140, render: fmtTime },
          { title: t('actor'), dataIndex: 'actor' },
          { title: t('action'), dataIndex: 'action' },
          { title: t('target'), dataIndex: 'target', render: (v: string | null) => <span className="sc-mono">{v}</span> },
          {
            title: t('details'),
            dataIndex: 'details',
            render: (d: unknown) => <span className="sc-mono">{JSON.stringify(d)}</span>,
          },
        ]}
      />
      <Space style={{ marginTop: 12 }}>
        <Button disabled={cursor.length === 0} onClick={() => setCursor([])}>
          {t('firstPage')}
        </Button>
        <Button disabled={next === null} onClick={() => next !== null && setCursor([...cursor, next])}>
          {t('loadMore')}
        </Button>
      </Space>
    </Card>
  );
}
