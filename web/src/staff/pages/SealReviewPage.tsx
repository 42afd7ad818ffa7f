// 印章审核: the queue of seal applications — picture, name, holder, the supporting document — and
// the decision: approve, or reject with the reason the holder will see.
import { Alert, Button, Card, Image, Space, Table, Tag } from 'antd';
import type { SealReviewView } from '../../../../src/shared/seal-views.js';
import { api } from '../api';
import { useI18n } from '../i18n';
import { RejectDialog, ReviewStateSwitch, useReviewQueue } from './common';

export default function SealReviewPage() {
  const { t } = useI18n();
  const queue = useReviewQueue<SealReviewView>(api.sealReviews, (r, approve, why) => api.decideSeal(r.orderId, approve, why));
  const { state, setState, rows, error, decide, setRejecting } = queue;

  return (
    <Card title={t('menuSealReviews')} extra={<ReviewStateSwitch value={state} onChange={setState} />}>
      {error && <Alert className="sc-gap" type="error" showIcon title={error} />}
      <Table<SealReviewView>
        rowKey="orderId"
        dataSource={rows}
        pagination={false}
        data-testid="seal-reviews"
        columns={[
          { title: t('sealPicture'), key: 'pic', render: (_, a) => <Image src={a.picture} width={80} alt={a.sealName} /> },
          { title: t('sealName'), dataIndex: 'sealName' },
          { title: t('sealType'), dataIndex: 'typeName' },
          { title: t('sealHolder'), key: 'holder', render: (_, a) => `${a.holder.name ?? '—'} (${a.holder.uniqueId ?? '—'})` },
          {
            title: t('sealOrder'),
            key: 'order',
            render: (_, a) => <a href={`#/orders/${encodeURIComponent(a.orderId)}`}>{a.orderId}</a>,
          },
          { title: t('sealOrderState'), key: 'os', render: (_, a) => <Tag>{a.orderState}</Tag> },
          {
            title: t('sealDocument'),
            key: 'doc',
            render: (_, a) =>
              a.document ? (
                <a
                  href={`/api/staff/seal-reviews/${encodeURIComponent(a.orderId)}/document`}
                  data-testid={`seal-doc-${a.orderId}`}
                >
                  {a.document.fileName}
                </a>
              ) : (
                '—'
              ),
          },
          {
            title: t('actions'),
            key: 'act',
            render: (_, a) =>
              a.reviewState === 'pending' ? (
                <Space>
                  <Button type="primary" onClick={() => void decide(a, true)} data-testid={`seal-approve-${a.orderId}`}>
                    {t('sealApprove')}
                  </Button>
                  <Button danger onClick={() => setRejecting(a)} data-testid={`seal-reject-${a.orderId}`}>
                    {t('sealReject')}
                  </Button>
                </Space>
              ) : (
                <span>
                  {a.reviewer} {a.reason ? `· ${a.reason}` : ''} {a.esId ? `· ${a.esId}` : ''}
                </span>
              ),
          },
        ]}
      />
      <RejectDialog queue={queue} title={t('sealRejectTitle')} testId="seal-reject-reason" />
    </Card>
  );
}
