// 消息队列: what the CA tells applications and holders (webhooks, e-mail, SMS), by state. A dead
// message has used its attempts; once the receiver is fixed, staff send it again (the same
// idempotency key, so the receiver can tell a repeat from a new event).
import { useCallback, useEffect, useState } from 'react';
import { Alert, App, Button, Card, Select, Table, Tag, Typography } from 'antd';
import { api, ApiError, fmtTime, type OutboxMessage } from '../api';
import { useI18n } from '../i18n';

const STATE_COLOR = { pending: 'blue', sent: 'green', dead: 'red' } as const;

export default function OutboxPage() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [state, setState] = useState<string>('dead');
  const [rows, setRows] = useState<OutboxMessage[]>([]);
  const [loading, setLoading] = useState(false);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      setRows((await api.outbox(state || undefined)).items);
    } catch (e) {
      void message.error(e instanceof ApiError ? e.message : String(e));
    } finally {
      setLoading(false);
    }
  }, [state, message]);
  useEffect(() => void load(), [load]);

  const retry = async (id: string): Promise<void> => {
    try {
      await api.retryOutbox(id);
      void message.success(t('outboxRetried'));
      await load();
    } catch (e) {
      void message.error(e instanceof ApiError ? e.message : String(e));
    }
  };

  return (
    <Card
      title={t('menuOutbox')}
      extra={
        <Select
          aria-label={t('menuOutbox')}
          data-testid="outbox-state"
          value={state}
          onChange={setState}
          style={{ width: 180 }}
          options={[
            ...['dead', 'pending', 'sent'].map((s) => ({ value: s, label: t(`outboxState_${s}`) })),
            { value: '', label: t('outboxAll') },
          ]}
        />
      }
    >
      <Alert type="info" showIcon title={t('outboxHint')} style={{ marginBottom: 16 }} />
      <Table<OutboxMessage>
        rowKey="id"
        data-testid="outbox-table"
        loading={loading}
        dataSource={rows}
        pagination={{ pageSize: 50, hideOnSinglePage: true }}
        columns={[
          { title: t('outboxCreated'), key: 'created', width: 150, render: (_, m) => fmtTime(m.createdAt) },
          { title: t('outboxChannel'), key: 'channel', width: 100, render: (_, m) => t(`outboxChannel_${m.channel}`) },
          {
            title: t('outboxRecipient'),
            key: 'recipient',
            render: (_, m) => (m.recipientName ? <span title={m.recipient}>{m.recipientName}</span> : m.recipient),
          },
          {
            title: t('outboxKey'),
            key: 'key',
            width: 260,
            render: (_, m) => (
              <Typography.Text code style={{ wordBreak: 'break-all' }}>
                {m.key}
              </Typography.Text>
            ),
          },
          {
            title: t('outboxState'),
            key: 'state',
            render: (_, m) => <Tag color={STATE_COLOR[m.state]}>{t(`outboxState_${m.state}`)}</Tag>,
          },
          { title: t('outboxAttempts'), dataIndex: 'attempts', width: 80 },
          {
            title: t('outboxNext'),
            key: 'next',
            width: 150,
            render: (_, m) => (m.state === 'pending' ? fmtTime(m.nextAttemptAt) : m.sentAt ? fmtTime(m.sentAt) : ''),
          },
          {
            title: t('outboxLastError'),
            key: 'err',
            render: (_, m) => (m.lastError ? <Typography.Text type="danger">{m.lastError}</Typography.Text> : null),
          },
          {
            key: 'act',
            render: (_, m) =>
              m.state === 'dead' ? (
                <Button data-testid={`outbox-retry-${m.id}`} onClick={() => void retry(m.id)}>
                  {t('outboxRetry')}
                </Button>
              ) : null,
          },
        ]}
      />
    </Card>
  );
}
