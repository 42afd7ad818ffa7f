// One change request (变更证书): where it is (review, payment, install), the old and new values side
// by side, the documents, and the seals whose name the change makes stale. Once approved (and paid),
// the new certificate is installed by the update page (#/orders/:id/update), as a renewal is.
import { type ReactNode, useCallback, useEffect, useState } from 'react';
import { Alert, Button, Card, Descriptions, Result, Space, Spin, Table, Tag, Typography } from 'antd';
import { api, UPDATE_STATES, type ChangeRequestView, type OrderState } from '../api';
import { errorText } from '../errors';
import { fmtDate, fmtTime, money } from '../format';
import { useI18n, type MessageKey } from '../i18n';
import { navigate } from '../router';
import { updateUnfinished, useUnfinishedInstalls } from '../unfinished';
import { fieldLabel, REVIEW_COLOR } from './ChangePage';

const POLL_MS = 5000;

export default function ChangeDetailPage({ orderId }: { orderId: string }) {
  const { t, lang } = useI18n();
  const [change, setChange] = useState<ChangeRequestView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const unfinished = useUnfinishedInstalls();

  const load = useCallback(async () => {
    try {
      setChange((await api.change(orderId)).change);
      setError(null);
    } catch (e) {
      setError(errorText(t, e));
    }
  }, [orderId, t]);
  useEffect(() => {
    void load();
  }, [load]);
  // waiting for the reviewer (or an offline payment): look again now and then
  const waiting = change?.orderState === 'awaiting_payment';
  useEffect(() => {
    if (!waiting) return;
    const id = window.setInterval(() => document.visibilityState !== 'hidden' && void load(), POLL_MS);
    return () => window.clearInterval(id);
  }, [waiting, load]);

  if (error && !change)
    return <Result status="error" title={error} extra={<Button onClick={() => void load()}>{t('retry')}</Button>} />;
  if (!change) return <Spin className="cd-spin" />;

  const state = change.orderState as OrderState;
  const orderLike = { id: change.orderId, state } as Parameters<typeof updateUnfinished>[0];
  let head: ReactNode;
  if (change.reviewState === 'rejected')
    head = (
      <Alert
        type="error"
        showIcon
        title={t('changeRejected')}
        description={
          <span data-testid="change-review-reason">{t('changeRejectedReason', { reason: change.reviewReason ?? '' })}</span>
        }
      />
    );
  else if (change.reviewState === 'pending')
    head =
      state === 'awaiting_payment' ? (
        <Alert type="info" showIcon title={t('changePending')} description={t('changePendingText')} />
      ) : (
        <Alert type="info" showIcon title={t('orderClosed', { state: t(`state.${state}` as MessageKey) })} />
      );
  else if (state === 'awaiting_payment')
    head = (
      <Alert
        type="warning"
        showIcon
        title={t('changeApprovedPay')}
        action={
          <Button type="primary" onClick={() => navigate(`/orders/${change.orderId}`)} data-testid="change-go-pay">
            {t('changeGoPay')}
          </Button>
        }
      />
    );
  else if (UPDATE_STATES.includes(state) || updateUnfinished(orderLike, unfinished))
    head = (
      <Result
        status="success"
        title={t('changeInstallTitle')}
        subTitle={t('changeInstallText')}
        extra={
          <Button
            type="primary"
            size="large"
            onClick={() => navigate(`/orders/${change.orderId}/update`)}
            data-testid="change-go-update"
          >
            {t('changeGoUpdate')}
          </Button>
        }
      />
    );
  else if (state === 'completed')
    head = <Result status="success" title={t('changeDone')} subTitle={t('changeDoneText')} data-testid="change-done" />;
  else head = <Alert type="info" showIcon title={t('orderClosed', { state: t(`state.${state}` as MessageKey) })} />;

  const rows = [
    ...change.changes.map((c) => ({ key: c.field, label: fieldLabel(t, c.field), old: c.old ?? '—', new: c.new })),
    { key: 'uniqueId', label: t('fieldUniqueId'), old: change.uniqueId ?? '—', new: t('changeUnchanged') },
    { key: 'notAfter', label: t('fieldNotAfter'), old: fmtDate(lang, change.notAfter), new: t('changeUnchanged') },
  ];

  return (
    <div className="cd-page" data-testid="change-detail">
      <div className="cd-row-between cd-gap">
        <Typography.Title level={1} className="cd-page-title">
          {t('changeDetailTitle')} {change.orderId}
        </Typography.Title>
        <a href="#/change">{t('changeBack')}</a>
      </div>
      <div className="cd-gap">{head}</div>
      {change.sealsToReapply.length > 0 && (
        <Alert
          className="cd-gap"
          type="warning"
          showIcon
          data-testid="change-seals"
          title={t('changeSealsTitle')}
          description={
            <Space orientation="vertical" size={4}>
              <span>{t('changeSealsText')}</span>
              {change.sealsToReapply.map((s) => (
                <span key={s.esId}>
                  {s.name} <code>{s.esId}</code> {s.marked ? '' : t('changeSealsAfter')}
                </span>
              ))}
              <a href="#/seal-apply">{t('menuSealApply')}</a>
            </Space>
          }
        />
      )}
      <Card size="small">
        <Table
          rowKey="key"
          size="small"
          pagination={false}
          dataSource={rows}
          data-testid="change-values"
          columns={[
            { title: t('changeItem'), dataIndex: 'label' },
            { title: t('changeOld'), dataIndex: 'old' },
            { title: t('changeNew'), dataIndex: 'new', render: (v: string) => <b>{v}</b> },
          ]}
        />
        <Descriptions
          className="cd-gap-top"
          bordered
          size="small"
          column={1}
          items={[
            {
              key: 'review',
              label: t('sealStatus'),
              children: (
                <Tag color={REVIEW_COLOR[change.reviewState]} data-testid="change-review-state" data-state={change.reviewState}>
                  {t(`changeReview.${change.reviewState}` as MessageKey)}
                </Tag>
              ),
            },
            { key: 'reason', label: t('changeReasonShown'), children: change.reason },
            {
              key: 'docs',
              label: t('changeDocuments'),
              children: (
                <Space orientation="vertical" size={2}>
                  {change.documents.map((d) => (
                    <a key={d.id} href={d.url} download>
                      {d.fileName}
                    </a>
                  ))}
                </Space>
              ),
            },
            { key: 'amount', label: t('fieldAmount'), children: change.amountFen ? money(t, change.amountFen) : t('changeFree') },
            { key: 'created', label: t('changeSubmittedAt'), children: fmtTime(lang, change.createdAt) },
            ...(change.reviewedAt
              ? [{ key: 'reviewed', label: t('changeReviewedAt'), children: fmtTime(lang, change.reviewedAt) }]
              : []),
            { key: 'order', label: t('fieldOrderId'), children: <a href={`#/orders/${change.orderId}`}>{change.orderId}</a> },
          ]}
        />
      </Card>
    </div>
  );
}
