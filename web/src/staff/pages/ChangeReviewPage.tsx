// 变更审核: the queue of change requests — the holder, old and new values side by side, the reason,
// the supporting documents (营业执照 / 变更通知书) — and the decision: approve, or reject with the
// reason the holder will see. The server refuses an approval by whoever recorded the payment.
import { Alert, Button, Card, Space, Table, Tag, Typography } from 'antd';
import type { ChangeReviewView } from '../../../../src/shared/change-views.js';
import { api, yuan } from '../api';
import { useI18n } from '../i18n';
import { RejectDialog, ReviewStateSwitch, useReviewQueue } from './common';

export default function ChangeReviewPage() {
  const { t } = useI18n();
  const queue = useReviewQueue<ChangeReviewView>(api.changeReviews, (r, approve, why) =>
    api.decideChange(r.orderId, approve, why),
  );
  const { state, setState, rows, error, load, decide, setRejecting } = queue;

  return (
    <Card
      title={t('menuChangeReviews')}
      extra={
        <Space>
          <ReviewStateSwitch value={state} onChange={setState} />
          <Button onClick={load}>{t('refresh')}</Button>
        </Space>
      }
    >
      {error && <Alert className="sc-gap" type="error" showIcon title={error} data-testid="change-review-error" />}
      <Table<ChangeReviewView>
        rowKey="orderId"
        dataSource={rows}
        pagination={false}
        data-testid="change-reviews"
        locale={{ emptyText: t('changeNone') }}
        columns={[
          {
            title: t('sealHolder'),
            key: 'holder',
            render: (_, c) => (
              <Space orientation="vertical" size={0}>
                <span>{c.holder.name ?? '—'}</span>
                <Typography.Text type="secondary">
                  {t('changeUniqueId')} {c.uniqueId ?? c.holder.uniqueId ?? '—'}
                </Typography.Text>
              </Space>
            ),
          },
          {
            title: t('changeValues'),
            key: 'values',
            render: (_, c) => (
              <table className="sc-compare" data-testid={`change-values-${c.orderId}`}>
                <thead>
                  <tr>
                    <th>{t('changeItem')}</th>
                    <th>{t('changeOld')}</th>
                    <th>{t('changeNew')}</th>
                  </tr>
                </thead>
                <tbody>
                  {c.changes.map((x) => (
                    <tr key={x.field}>
                      <td>{t(`changeField.${x.field}`)}</td>
                      <td>{x.old ?? '—'}</td>
                      <td>
                        <b>{x.new}</b>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ),
          },
          { title: t('changeReason'), dataIndex: 'reason' },
          {
            title: t('sealDocument'),
            key: 'docs',
            render: (_, c) => (
              <Space orientation="vertical" size={2}>
                {c.documents.map((d, i) => (
                  <a key={d.id} href={d.url} data-testid={`change-doc-${c.orderId}-${i}`} title={`SHA-256 ${d.sha256}`}>
                    {d.fileName}
                  </a>
                ))}
              </Space>
            ),
          },
          {
            title: t('sealOrder'),
            key: 'order',
            render: (_, c) => (
              <Space orientation="vertical" size={0}>
                <a href={`#/orders/${encodeURIComponent(c.orderId)}`}>{c.orderId}</a>
                {/* a free change waiting for its review is not waiting for money */}
                {!(c.amountFen === 0 && c.orderState === 'awaiting_payment') && <Tag>{t(`state.${c.orderState}`)}</Tag>}
                <span>{c.amountFen ? `¥${yuan(c.amountFen)}` : t('changeFree')}</span>
              </Space>
            ),
          },
          {
            title: t('actions'),
            key: 'act',
            render: (_, c) =>
              c.reviewState === 'pending' ? (
                c.orderState === 'awaiting_payment' ? (
                  <Space>
                    <Button type="primary" onClick={() => void decide(c, true)} data-testid={`change-approve-${c.orderId}`}>
                      {t('sealApprove')}
                    </Button>
                    <Button danger onClick={() => setRejecting(c)} data-testid={`change-reject-${c.orderId}`}>
                      {t('sealReject')}
                    </Button>
                  </Space>
                ) : (
                  <Typography.Text type="secondary">{t('changeOrderClosed')}</Typography.Text>
                )
              ) : (
                <span>
                  {c.reviewer} {c.reviewReason ? `· ${c.reviewReason}` : ''}
                </span>
              ),
          },
        ]}
      />
      <RejectDialog queue={queue} title={t('changeRejectTitle')} testId="change-reject-reason" />
    </Card>
  );
}
