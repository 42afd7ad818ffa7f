// 登录系统: connect to the key assistant from a click (the browser may ask for access to apps on this
// device), list the certificates on the inserted keys, sign the server's challenge in the assistant's
// own window (the PIN is typed there), and post the signature to the server.
import { useCallback, useEffect, useRef, useState } from 'react';
import { Alert, Button, Card, Space, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { ApiOutlined, LoginOutlined, ReloadOutlined, UsbOutlined } from '@ant-design/icons';
import {
  AgentError,
  awaitApproval,
  localAccessPermission,
  openApprovalWindow,
  subscribeKeyEvents,
  type ApprovalWait,
  type KeyCertificate,
  type LoginResult,
  type TokenSummary,
} from '../agent';
import { api } from '../api';
import { agentErrorText, errorText } from '../errors';
import { fmtDate } from '../format';
import { useI18n } from '../i18n';
import { useApp } from '../state';
import AgentUnreachable, { type LocalAccess } from '../components/AgentUnreachable';
import { AgentTooOld, useAgentVersion } from '../components/AgentVersionCheck';

interface Row {
  key: string;
  token: TokenSummary;
  cert: KeyCertificate;
}

type ConnectState =
  | { kind: 'idle' }
  | { kind: 'connecting' }
  | { kind: 'connected' }
  | { kind: 'unreachable'; permission: LocalAccess }
  | { kind: 'origin' }
  | { kind: 'error'; text: string };

export default function LoginPage() {
  const { t, lang } = useI18n();
  const app = useApp();
  const { agent, config } = app;
  const [conn, setConn] = useState<ConnectState>({ kind: 'idle' });
  const [rows, setRows] = useState<Row[]>([]);
  const [tokenCount, setTokenCount] = useState(0);
  const [selected, setSelected] = useState<string | undefined>();
  const [phase, setPhase] = useState<'idle' | 'signing' | 'verifying'>('idle');
  const [error, setError] = useState<string | null>(null);
  const [blocked, setBlocked] = useState(false);
  const waitRef = useRef<ApprovalWait | null>(null);

  const load = useCallback(async () => {
    if (!agent) return;
    const keys = await agent.allCertificates();
    const list: Row[] = [];
    for (const { token, certificates } of keys)
      for (const cert of certificates)
        if (cert.state === 'current' && cert.usage !== 'encryption') list.push({ key: `${token.id}/${cert.id}`, token, cert });
    setTokenCount(keys.length);
    setRows(list);
    setSelected((cur) => (cur && list.some((r) => r.key === cur) ? cur : list.length === 1 ? list[0]!.key : undefined));
  }, [agent]);

  const connect = useCallback(async () => {
    if (!agent) {
      setConn({ kind: 'error', text: t('agentErr.unreachable') });
      return;
    }
    setConn({ kind: 'connecting' });
    try {
      await load();
      setConn({ kind: 'connected' });
      app.setAgentConnected(true);
    } catch (e) {
      app.setAgentConnected(false);
      if (e instanceof AgentError && e.status === 0) {
        // A failed fetch looks the same whether the assistant is not running or the browser blocked
        // it: the permission's state tells them apart.
        setConn({ kind: 'unreachable', permission: await localAccessPermission() });
      } else if (e instanceof AgentError && e.code === 'origin_not_allowed') setConn({ kind: 'origin' });
      else setConn({ kind: 'error', text: errorText(t, e) });
    }
  }, [agent, load, t, app]);

  // Connected before in this tab (e.g. after logging out): the browser already allowed it.
  useEffect(() => {
    if (app.agentConnected && conn.kind === 'idle') void connect();
  }, []);

  // Keys inserted or removed: refresh the list.
  useEffect(() => {
    if (conn.kind !== 'connected' || !agent) return;
    return subscribeKeyEvents(agent, (e) => {
      if (e.type !== 'tokens') void load().catch(() => undefined);
    });
  }, [conn.kind, agent, load]);

  useEffect(() => () => waitRef.current?.cancel(), []);

  const login = async (): Promise<void> => {
    const row = rows.find((r) => r.key === selected);
    if (!row || !agent) return;
    setError(null);
    setBlocked(false);
    // Opened now, inside the click, so that no pop-up blocker stops it; pointed at the assistant below.
    const popup = openApprovalWindow(t('loginTitle'), t('connecting'));
    setPhase('signing');
    try {
      const { challenge } = await api.challenge();
      const req = await agent.createRequest({ op: 'login', tokenId: row.token.id, certificateId: row.cert.id, challenge });
      const wait = awaitApproval(agent, req, popup);
      waitRef.current = wait;
      if (!popup) setBlocked(true);
      const v = await wait.done;
      waitRef.current = null;
      setBlocked(false);
      if (v.status !== 'done') {
        const code = v.error?.error ?? v.status;
        setError(agentErrorText(t, code, v.error?.message));
        setPhase('idle');
        return;
      }
      const r = v.result as LoginResult;
      setPhase('verifying');
      const s = await api.login({ challenge: r.challenge ?? challenge, signature: r.signature, certificate: r.certificate });
      app.loggedIn(s, {
        tokenId: row.token.id,
        tokenLabel: row.token.label,
        certificateId: row.cert.id,
        serial: row.cert.serial,
      });
    } catch (e) {
      try {
        popup?.close();
      } catch {
        // ignore
      }
      waitRef.current = null;
      setBlocked(false);
      setError(errorText(t, e));
      setPhase('idle');
    }
  };

  const columns: ColumnsType<Row> = [
    { title: t('colName'), key: 'name', render: (_, r) => r.cert.name },
    {
      title: t('colKind'),
      key: 'kind',
      render: (_, r) => (lang === 'en' ? (r.cert.profile.nameEn ?? r.cert.profile.name) : r.cert.profile.name) ?? '—',
    },
    { title: t('colUniqueId'), key: 'uid', render: (_, r) => r.cert.uniqueId ?? '—' },
    {
      title: t('colNotAfter'),
      key: 'notAfter',
      render: (_, r) => (
        <Space size={4} wrap>
          <span>{fmtDate(lang, r.cert.notAfter)}</span>
          {r.cert.expired ? (
            <Tag color="red">{t('tagExpired')}</Tag>
          ) : r.cert.renewal.open ? (
            <Tag color="orange">{t('tagRenewable')}</Tag>
          ) : null}
        </Space>
      ),
    },
    { title: t('colKey'), key: 'key', render: (_, r) => r.token.label },
  ];

  const agentPage = agent?.base ?? config.agentUrl;
  const agentVersion = useAgentVersion(agent, config.agentMinVersion, conn.kind === 'connected');
  const busy = phase !== 'idle';

  return (
    <div className="cd-page cd-login">
      {app.notice && (
        <Alert className="cd-gap" type="info" showIcon title={app.notice} closable onClose={() => app.setNotice(null)} />
      )}
      <Card title={<h1 className="cd-card-title">{t('loginTitle')}</h1>}>
        <ol className="cd-login-steps">
          <li>
            <UsbOutlined aria-hidden /> <b>{t('loginStep1')}</b>
            <div>{t('loginStep1Text')}</div>
          </li>
          <li>
            <ApiOutlined aria-hidden /> <b>{t('loginStep2')}</b>
            <div>{t('loginStep2Text')}</div>
          </li>
        </ol>
        {conn.kind !== 'connected' && (
          <>
            <Alert
              className="cd-gap"
              type="info"
              showIcon
              title={t('loginLnaTitle')}
              description={t('loginLnaText', { site: window.location.host })}
              data-testid="lna-note"
            />
            <Button
              type="primary"
              size="large"
              icon={<ApiOutlined />}
              loading={conn.kind === 'connecting'}
              onClick={() => void connect()}
              data-testid="connect-agent"
            >
              {conn.kind === 'idle' || conn.kind === 'connecting' ? t('connectAgent') : t('reconnectAgent')}
            </Button>
          </>
        )}
        {conn.kind === 'unreachable' && (
          <AgentUnreachable
            permission={conn.permission}
            agentUrl={agentPage}
            download={<DownloadLink url={config.agentDownloadUrl} />}
          />
        )}
        {conn.kind === 'origin' && (
          <Alert
            className="cd-gap-top"
            type="error"
            showIcon
            role="alert"
            title={t('agentUnreachableTitle')}
            description={
              <>
                <div>{t('agentOriginNotAllowed', { origin: window.location.origin })}</div>
                <DownloadLink url={config.agentDownloadUrl} />
              </>
            }
          />
        )}
        {conn.kind === 'error' && <Alert className="cd-gap-top" type="error" showIcon role="alert" title={conn.text} />}

        {conn.kind === 'connected' && (
          <section aria-labelledby="choose-cert" className="cd-gap-top">
            <div className="cd-row-between">
              <Typography.Title level={2} id="choose-cert" className="cd-section-title">
                {t('chooseCertificate')}
              </Typography.Title>
              <Space>
                <Tag color="green">{t('agentConnected')}</Tag>
                <Button size="small" icon={<ReloadOutlined />} onClick={() => void connect()} disabled={busy}>
                  {t('refresh')}
                </Button>
              </Space>
            </div>
            <Table<Row>
              rowKey="key"
              size="middle"
              bordered
              pagination={false}
              columns={columns}
              dataSource={rows}
              data-testid="cert-table"
              locale={{ emptyText: tokenCount === 0 ? t('noTokens') : t('noCertificates') }}
              rowSelection={{
                type: 'radio',
                selectedRowKeys: selected ? [selected] : [],
                onChange: (keys) => setSelected(String(keys[0])),
                getCheckboxProps: () => ({ disabled: busy }),
              }}
              onRow={(r) => ({ onClick: () => !busy && setSelected(r.key) })}
            />
            <Typography.Paragraph type="secondary" className="cd-gap-top">
              {t('loginPinHint')}
            </Typography.Paragraph>
            {blocked && (
              <Alert
                className="cd-gap"
                type="warning"
                showIcon
                title={t('popupBlockedTitle')}
                description={t('popupBlockedText')}
                action={<Button onClick={() => waitRef.current?.reopen() && setBlocked(false)}>{t('openAgentWindow')}</Button>}
              />
            )}
            {phase === 'signing' && !blocked && (
              <Alert
                className="cd-gap"
                type="info"
                showIcon
                title={t('loginWaiting')}
                action={
                  <Button size="small" onClick={() => waitRef.current?.cancel()}>
                    {t('cancelRequest')}
                  </Button>
                }
              />
            )}
            {phase === 'verifying' && <Alert className="cd-gap" type="info" showIcon title={t('loginVerifying')} />}
            {error && (
              <Alert
                className="cd-gap"
                type="error"
                showIcon
                role="alert"
                data-testid="login-error"
                title={t('loginFailed')}
                description={error}
              />
            )}
            {agentVersion.kind === 'old' && (
              <AgentTooOld version={agentVersion.version} minimum={config.agentMinVersion} action="login" />
            )}
            <Button
              type="primary"
              size="large"
              icon={<LoginOutlined />}
              disabled={!selected || agentVersion.kind === 'old'}
              loading={busy}
              onClick={() => void login()}
              data-testid="login"
            >
              {t('loginButton')}
            </Button>
          </section>
        )}
      </Card>
    </div>
  );
}

/** The CA's own installer page when configured, else the portal's 下载中心. */
function DownloadLink({ url }: { url?: string }) {
  const { t } = useI18n();
  if (url)
    return (
      <a href={url} target="_blank" rel="noopener noreferrer">
        {t('agentDownload')}
      </a>
    );
  return (
    <a href="#/downloads" data-testid="agent-download">
      {t('agentDownload')}
    </a>
  );
}
