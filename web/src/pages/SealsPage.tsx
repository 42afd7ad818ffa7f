// 印章查询: the holder's seal applications and seals — picture, status, validity, esID; a rejected
// application shows the reviewer's reason.
import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Card, Empty, Image, Space, Spin, Table, Tag } from 'antd';
import type { SealApplicationView } from '../../../src/shared/seal-views.js';
import { api } from '../api';
import { awaitApproval, openApprovalWindow } from '../agent';
import { agentErrorText, errorText } from '../errors';
import { useApp } from '../state';
import { fmtDate } from '../format';
import { useI18n, type MessageKey } from '../i18n';

const REVIEW: Record<SealApplicationView['reviewState'], { key: MessageKey; color: string }> = {
  pending: { key: 'sealReviewPending', color: 'gold' },
  approved: { key: 'sealReviewApproved', color: 'green' },
  rejected: { key: 'sealReviewRejected', color: 'red' },
};

export function sealStatus(a: SealApplicationView): MessageKey {
  if (a.esId) return a.orderState === 'completed' ? 'sealOnKey' : 'sealMade';
  if (a.reviewState === 'rejected') return 'sealReviewRejected';
  if (a.orderState === 'awaiting_payment' || a.orderState === 'expired') return 'unpaid';
  return REVIEW[a.reviewState].key;
}

export default function SealsPage() {
  const { t } = useI18n();
  const { agent, loginKey } = useApp();
  const [rows, setRows] = useState<SealApplicationView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [writing, setWriting] = useState<string | null>(null);
  const [written, setWritten] = useState<string | null>(null);
  const load = useCallback(() => {
    setError(null);
    api
      .seals()
      .then((r) => setRows(r.applications))
      .catch((e: unknown) => setError(errorText(t, e)));
  }, [t]);
  useEffect(load, [load]);

  /** Writes a made seal to the key the holder logged in with, after the PIN in the assistant's window. */
  const write = async (a: SealApplicationView): Promise<void> => {
    if (!agent || !loginKey) return setError(t('sealWriteNeedsKey'));
    setError(null);
    setWritten(null);
    setWriting(a.orderId);
    // opened inside the click, before any await (pop-up blockers)
    const popup = openApprovalWindow(t('sealWriteToKey'), t('connecting'));
    try {
      const seal = await api.sealDer(a.orderId);
      const req = await agent.createRequest({ op: 'write-seal', tokenId: loginKey.tokenId, seal });
      const v = await awaitApproval(agent, req, popup).done;
      if (v.status !== 'done') throw new Error(agentErrorText(t, v.error?.error ?? v.status, v.error?.message));
      await api.sealWritten(a.orderId);
      setWritten(a.orderId);
      load();
    } catch (e) {
      popup?.close();
      setError(e instanceof Error && !(e as { status?: number }).status ? e.message : errorText(t, e));
    } finally {
      setWriting(null);
    }
  };

  return (
    <Card
      title={<h1 className="cd-card-title">{t('menuSeals')}</h1>}
      extra={<Button onClick={load}>{t('refresh')}</Button>}
      data-testid="seals-card"
    >
      {error && <Alert className="cd-gap" type="error" showIcon title={error} />}
      {!rows ? (
        <Spin />
      ) : rows.length === 0 ? (
        <Empty description={t('sealNone')}>
          <a href="#/seal-apply">{t('menuSealApply')}</a>
        </Empty>
      ) : (
        <>
          {written && <Alert className="cd-gap" type="success" showIcon title={t('sealWrittenOk')} data-testid="seal-written" />}
          {rows.some((a) => a.reapply) && (
            <Alert
              className="cd-gap"
              type="warning"
              showIcon
              title={t('changeSealsTitle')}
              description={<a href="#/seal-apply">{t('menuSealApply')}</a>}
              data-testid="seals-reapply"
            />
          )}
          <SealsTable rows={rows} onWrite={(a) => void write(a)} writing={writing} />
        </>
      )}
    </Card>
  );
}

/** The seals table of 印章查询, also shown in 证书查询 for the seals made for the holder's certificates. */
export function SealsTable({
  rows,
  onWrite,
  writing,
}: {
  rows: SealApplicationView[];
  /** 印章查询 only: write a made seal to the key */
  onWrite?: (a: SealApplicationView) => void;
  writing?: string | null;
}) {
  const { t, lang } = useI18n();
  return (
    <Table<SealApplicationView>
      rowKey="orderId"
      dataSource={rows}
      pagination={false}
      data-testid="seals-table"
      columns={[
        { title: t('sealPicture'), key: 'pic', render: (_, a) => <Image src={a.picture} width={72} alt={a.sealName} /> },
        { title: t('sealName'), dataIndex: 'sealName' },
        { title: t('sealType'), dataIndex: 'typeName' },
        {
          title: t('sealStatus'),
          key: 'status',
          render: (_, a) => (
            <Space orientation="vertical" size={2}>
              <Tag color={a.esId ? 'green' : REVIEW[a.reviewState].color} data-testid={`seal-status-${a.orderId}`}>
                {t(sealStatus(a))}
              </Tag>
              {a.reason && <span data-testid={`seal-reason-${a.orderId}`}>{t('sealReason', { reason: a.reason })}</span>}
              {a.reapply && (
                <Tag color="orange" data-testid={`seal-reapply-${a.orderId}`}>
                  <a href={`#/changes/${a.reapply.orderId}`}>{t('sealReapply', { id: a.reapply.orderId })}</a>
                </Tag>
              )}
              {!a.esId && a.orderState === 'awaiting_payment' && <a href={`#/orders/${a.orderId}`}>{t('sealGoPay')}</a>}
            </Space>
          ),
        },
        {
          title: t('sealValidity'),
          key: 'valid',
          render: (_, a) => (a.madeAt ? `${fmtDate(lang, a.madeAt)} – ${fmtDate(lang, a.validUntil)}` : '—'),
        },
        {
          title: 'esID',
          key: 'esId',
          render: (_, a) =>
            a.esId ? (
              <a
                href={`/api/portal/seals/${encodeURIComponent(a.orderId)}/seal.der`}
                download
                data-testid={`seal-esid-${a.orderId}`}
              >
                <code>{a.esId}</code>
              </a>
            ) : (
              <code data-testid={`seal-esid-${a.orderId}`}>—</code>
            ),
        },
        ...(onWrite
          ? [
              {
                title: t('colActions'),
                key: 'write',
                render: (_: unknown, a: SealApplicationView) =>
                  a.esId ? (
                    <Button
                      size="small"
                      loading={writing === a.orderId}
                      disabled={writing !== null && writing !== a.orderId}
                      onClick={() => onWrite(a)}
                      data-testid={`seal-write-${a.orderId}`}
                    >
                      {t('sealWriteToKey')}
                    </Button>
                  ) : null,
              },
            ]
          : []),
      ]}
    />
  );
}
