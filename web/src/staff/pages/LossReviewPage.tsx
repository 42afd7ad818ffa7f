// 挂失审核: 挂失/撤销申请 from holders without their key. The reviewer checks the contact (calls back,
// or decides from documents), then approves (the identified certificate and its pair are revoked at
// once) or rejects with a reason.
import { useCallback, useEffect, useState } from 'react';
import { App, Button, Card, Input, Modal, Select, Space, Table, Tag } from 'antd';
import { api, ApiError, fmtTime, type RevocationRequest } from '../api';
import { useI18n } from '../i18n';

export default function LossReviewPage() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [state, setState] = useState<string>('pending');
  const [rows, setRows] = useState<RevocationRequest[]>([]);
  const [deciding, setDeciding] = useState<{ row: RevocationRequest; approve: boolean } | null>(null);
  const [text, setText] = useState('');
  // approve: which of the holder's live certificates (the match by default; the lost key need not be the newest)
  const [serial, setSerial] = useState<string | undefined>(undefined);

  const load = useCallback(async () => {
    try {
      setRows((await api.revocationRequests(state)).items);
    } catch (e) {
      void message.error(e instanceof ApiError ? e.message : String(e));
    }
  }, [state, message]);
  useEffect(() => void load(), [load]);

  const decide = async (): Promise<void> => {
    if (!deciding) return;
    try {
      if (deciding.approve) await api.approveRevocation(deciding.row.id, text, serial);
      else await api.rejectRevocation(deciding.row.id, text);
      void message.success(t('saved'));
      setDeciding(null);
      setText('');
      await load();
    } catch (e) {
      void message.error(e instanceof ApiError ? e.message : String(e));
    }
  };

  return (
    <Card
      title={t('menuLossReviews')}
      extra={
        <Select
          value={state}
          onChange={setState}
          style={{ width: 140 }}
          options={['pending', 'approved', 'rejected'].map((s) => ({ value: s, label: t(`lossState_${s}`) }))}
        />
      }
    >
      <Table<RevocationRequest>
        rowKey="id"
        dataSource={rows}
        pagination={false}
        columns={[
          { title: t('lossUniqueId'), dataIndex: 'uniqueId' },
          { title: t('lossName'), dataIndex: 'name' },
          { title: t('lossContact'), dataIndex: 'contact' },
          { title: t('lossReason'), dataIndex: 'reason' },
          {
            title: t('lossCertificate'),
            key: 'cert',
            render: (_, r) =>
              r.certificate ? (
                <Space orientation="vertical" size={0}>
                  <span>{r.certificate.subject}</span>
                  <span>
                    {r.certificate.serial} <Tag>{r.certificate.status}</Tag>
                  </span>
                  {r.givenSerial && <GivenSerial given={r.givenSerial} matched={r.certificate.serial} />}
                </Space>
              ) : (
                <Space orientation="vertical" size={0}>
                  <Tag color="red">{t('lossNoMatch')}</Tag>
                  {r.givenSerial && <GivenSerial given={r.givenSerial} matched={null} />}
                </Space>
              ),
          },
          { title: t('lossState_pending'), key: 'at', render: (_, r) => fmtTime(r.createdAt) },
          {
            key: 'act',
            render: (_, r) =>
              r.state === 'pending' ? (
                <Space>
                  <Button
                    danger
                    disabled={!r.certificate}
                    onClick={() => {
                      setSerial(r.certificate?.serial);
                      setDeciding({ row: r, approve: true });
                    }}
                  >
                    {t('lossApprove')}
                  </Button>
                  <Button onClick={() => setDeciding({ row: r, approve: false })}>{t('lossReject')}</Button>
                </Space>
              ) : (
                <span>
                  {t(`lossState_${r.state}`)} {r.reviewer} {r.decisionReason}
                </span>
              ),
          },
        ]}
      />
      <Modal
        open={deciding !== null}
        title={deciding?.approve ? t('lossApprove') : t('lossReject')}
        onOk={() => void decide()}
        onCancel={() => setDeciding(null)}
        okButtonProps={{ disabled: !deciding?.approve && text.trim() === '' }}
      >
        {deciding?.approve && deciding.row.candidates.length > 1 && (
          <Select
            aria-label={t('lossWhich')}
            placeholder={t('lossWhich')}
            value={serial}
            onChange={setSerial}
            style={{ width: '100%', marginBottom: 12 }}
            options={deciding.row.candidates.map((c) => ({
              value: c.serial,
              label: `${c.serial} · ${c.profile} · ${fmtTime(c.issuedAt)} – ${fmtTime(c.notAfter)}`,
            }))}
          />
        )}
        <Input.TextArea
          aria-label={deciding?.approve ? t('lossNote') : t('lossRejectReason')}
          placeholder={deciding?.approve ? t('lossNote') : t('lossRejectReason')}
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
      </Modal>
    </Card>
  );
}

/** The serial the requester typed: confirmed when it is what the request identifies, else flagged. */
function GivenSerial({ given, matched }: { given: string; matched: string | null }) {
  const { t } = useI18n();
  return (
    <span data-testid="loss-given-serial">
      {t('lossGivenSerial')} {given}{' '}
      {given === matched ? <Tag color="green">{t('lossGivenMatches')}</Tag> : <Tag color="orange">{t('lossGivenNotLive')}</Tag>}
    </span>
  );
}
