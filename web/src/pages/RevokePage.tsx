// 撤销证书: the holder revokes the certificate they logged in with. The reason is chosen here, the
// refund rule shown, and the revocation statement is signed on the key after the PIN in the
// assistant's window. Afterwards the assistant can delete the revoked certificate from the key.
import { useEffect, useState } from 'react';
import { Alert, Button, Card, Radio, Result, Space, Typography } from 'antd';
import { api } from '../api';
import { awaitApproval, openApprovalWindow } from '../agent';
import { agentErrorText, errorText } from '../errors';
import { useI18n, type MessageKey } from '../i18n';
import { useApp } from '../state';
import { HOLDER_REVOCATION_REASONS } from '../../../src/shared/holder-revocation.js';

type Phase = 'choose' | 'signing' | 'revoked' | 'deleted';

export default function RevokePage() {
  const { t } = useI18n();
  const { session, agent, loginKey } = useApp();
  const [reason, setReason] = useState<string>('keyCompromise');
  const [phase, setPhase] = useState<Phase>('choose');
  const [error, setError] = useState<string | null>(null);
  const [refund, setRefund] = useState<boolean | null>(null);
  const [revokedAt, setRevokedAt] = useState<string>('');
  const [revokedDer, setRevokedDer] = useState<string>('');
  useEffect(() => {
    void api.revocationTerms().then(
      (r) => setRefund(r.refundUnused),
      () => setRefund(false),
    );
  }, []);
  const cert = session?.certificate;
  if (!cert) return null;

  const sign = async (op: Record<string, unknown>, title: string) => {
    const popup = openApprovalWindow(title, t('connecting'));
    const req = await agent!.createRequest(op);
    const v = await awaitApproval(agent!, req, popup).done;
    if (v.status !== 'done') throw new Error(agentErrorText(t, v.error?.error ?? v.status, v.error?.message));
    return v.result as { signature: string };
  };

  const revoke = async (): Promise<void> => {
    if (!agent || !loginKey) return setError(t('revokeNeedsKey'));
    setError(null);
    setPhase('signing');
    try {
      const st = await api.revocationStatement({ serial: cert.serial, reason });
      const r = await sign(
        { op: 'sign-revocation', tokenId: loginKey.tokenId, certificateId: loginKey.certificateId, statement: st.statement },
        t('menuRevoke'),
      );
      const out = await api.revoke({ statement: st.statement, signature: r.signature });
      setRevokedAt(out.revokedAt);
      setRevokedDer(out.certificate);
      setPhase('revoked');
    } catch (e) {
      setError(e instanceof Error && !(e as { status?: number }).status ? e.message : errorText(t, e));
      setPhase('choose');
    }
  };

  const removeFromKey = async (): Promise<void> => {
    if (!agent || !loginKey) return;
    setError(null);
    try {
      await sign(
        { op: 'delete-revoked', tokenId: loginKey.tokenId, certificateId: loginKey.certificateId, certificate: revokedDer },
        t('revokeDeleteFromKey'),
      );
      setPhase('deleted');
    } catch (e) {
      setError(e instanceof Error && !(e as { status?: number }).status ? e.message : errorText(t, e));
    }
  };

  if (phase === 'revoked' || phase === 'deleted')
    return (
      <Result
        status="success"
        title={t('revokeDone')}
        subTitle={t('revokeDoneText', { serial: cert.serial, time: revokedAt })}
        extra={
          phase === 'deleted' ? (
            <Alert type="success" showIcon title={t('revokeDeleted')} />
          ) : (
            <Space orientation="vertical">
              {error && <Alert type="error" showIcon title={error} />}
              <Button onClick={() => void removeFromKey()}>{t('revokeDeleteFromKey')}</Button>
            </Space>
          )
        }
      />
    );

  return (
    <Card title={t('menuRevoke')}>
      <Space orientation="vertical" style={{ width: '100%' }}>
        <Alert type="warning" showIcon title={t('revokeWarning')} />
        <Typography.Text>
          {t('revokeCertificate')}: {cert.commonName}（{t('colSerial')} {cert.serial}）
        </Typography.Text>
        <Typography.Text strong>{t('revokeReason')}</Typography.Text>
        <Radio.Group value={reason} onChange={(e) => setReason(String(e.target.value))}>
          <Space orientation="vertical">
            {HOLDER_REVOCATION_REASONS.map((r) => (
              <Radio key={r} value={r}>
                {t(`revokeReason_${r}` as MessageKey)}
              </Radio>
            ))}
          </Space>
        </Radio.Group>
        <Typography.Text type="secondary">{refund ? t('revokeRefund') : t('revokeNoRefund')}</Typography.Text>
        {error && <Alert type="error" showIcon title={error} />}
        <Button type="primary" danger loading={phase === 'signing'} onClick={() => void revoke()}>
          {t('revokeConfirm')}
        </Button>
      </Space>
    </Card>
  );
}
