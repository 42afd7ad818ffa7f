// 印章审核: the queue of seal applications — picture, name, holder, the supporting document — and
// the decision: approve, or reject with the reason the holder will see.
import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Card, Image, Input, Modal, Segmented, Space, Table, Tag } from 'antd';
import type { SealReviewStateView, SealReviewView } from '../../../../src/shared/seal-views.js';
import { api } from '../api';
import { useI18n } from '../i18n';

export default function SealReviewPage() {
  const { t } = useI18n();
  const [state, setState] = useState<SealReviewStateView>('pending');
  const [rows, setRows] = useState<SealReviewView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [rejecting, setRejecting] = useState<SealReviewView | null>(null);
  const [reason, setReason] = useState('');
  const load = useCallback(() => {
    setError(null);
    api
      .sealReviews(state)
      .then((r) => setRows(r.items))
      .catch((e: unknown) => setError((e as Error).message));
  }, [state]);
  useEffect(load, [load]);

  const decide = async (a: SealReviewView, approve: boolean, why?: string) => {
    setError(null);
    try {
      await api.decideSeal(a.orderId, approve, why);
      setRejecting(null);
      setReason('');
      load();
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <Card
      title={t('menuSealReviews')}
      extra={
        <Segmented<SealReviewStateView>
          value={state}
          onChange={setState}
          options={[
            { value: 'pending', label: t('sealPending') },
            { value: 'approved', label: t('sealApproved') },
            { value: 'rejected', label: t('sealRejected') },
          ]}
        />
      }
    >
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
      <Modal
        open={rejecting !== null}
        title={t('sealRejectTitle')}
        okButtonProps={{ disabled: !reason.trim(), danger: true }}
        onOk={() => rejecting && void decide(rejecting, false, reason)}
        onCancel={() => setRejecting(null)}
      >
        <Input.TextArea
          rows={3}
          maxLength={500}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          placeholder={t('sealRejectReason')}
          data-testid="seal-reject-reason"
        />
      </Modal>
    </Card>
  );
}
