// 证书更新: drives the key assistant's journaled install for a paid order, step by step:
//   renew approval (PIN in the assistant's window) → new key + CSR + proof → the server issues →
//   the assistant writes, verifies and switches → the server is told `installed` → the assistant
//   retires the old pair.
// Every step can be interrupted; the page reads the assistant's journal and continues from there,
// and never asks to pay again.
import { useCallback, useEffect, useRef, useState } from 'react';
import { Alert, Button, Card, Descriptions, Result, Space, Spin, Steps, Typography } from 'antd';
import { LoadingOutlined, SafetyOutlined } from '@ant-design/icons';
import {
  AgentError,
  awaitApproval,
  normalizeSerial,
  openApprovalWindow,
  type AgentClient,
  type ApprovalWait,
  type EncryptionDelivery,
  type JournalStep,
  type RenewalView,
} from '../agent';
import { api, UPDATE_STATES, type CertificateDetail, type Order } from '../api';
import { agentErrorText, errorText } from '../errors';
import { fmtDate, fmtTime, named } from '../format';
import { useI18n, type MessageKey, type Translate } from '../i18n';
import { AgentTooOld, useAgentVersion } from '../components/AgentVersionCheck';
import { useApp } from '../state';

/** The session tokens of approved renew requests, per order, for this page's lifetime only. */
const renewSessions = new Map<string, { requestId: string; token: string }>();

const STEP_KEYS: MessageKey[] = ['stepKey', 'stepCsr', 'stepIssue', 'stepWrite', 'stepVerify', 'stepSwitch', 'stepConfirm'];
/** With seals bound to the certificate (印章更新), their step comes between verifying the certificate and the switch. */
const SEAL_STEP_KEYS: MessageKey[] = [
  'stepKey',
  'stepCsr',
  'stepIssue',
  'stepWrite',
  'stepVerify',
  'stepSeal',
  'stepSwitch',
  'stepConfirm',
];

export const stepKeys = (withSeals: boolean): MessageKey[] => (withSeals ? SEAL_STEP_KEYS : STEP_KEYS);

/** How many of the displayed steps are finished (seven, or eight with the seal step). */
export function stepsDone(step: JournalStep | undefined, order: Order | null, withSeals = false): number {
  const n = withSeals ? 1 : 0;
  if (!step) return order?.state === 'completed' ? 7 + n : 0;
  switch (step) {
    case 'started':
      return 0;
    case 'key-generated':
      return 1;
    case 'csr-built':
      return 2;
    case 'certificate-received':
    case 'encryption-key-stored':
      return 3;
    case 'certificate-written':
      return 4;
    case 'verified':
      return 5;
    case 'seals-written':
      return 5 + n;
    case 'labels-switched':
    case 'confirmed':
      return 6 + n;
    case 'old-retired':
      return 7 + n;
  }
}

class PageError extends Error {
  constructor(
    readonly key: MessageKey,
    readonly vars?: Record<string, string>,
  ) {
    super(key);
  }
}

type Activity = 'pin' | 'issuing' | 'writing' | 'confirming' | 'working' | null;

export default function UpdatePage({ orderId }: { orderId: string }) {
  const { t, lang } = useI18n();
  const app = useApp();
  const agent = app.agent;
  const agentVersion = useAgentVersion(agent, app.config.agentMinVersion);
  const [order, setOrder] = useState<Order | null>(null);
  const [journal, setJournal] = useState<RenewalView | null | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const [activity, setActivity] = useState<Activity>(null);
  const [error, setError] = useState<string | null>(null);
  const [blocked, setBlocked] = useState(false);
  const [done, setDone] = useState<{ order: Order; certificate: CertificateDetail | null } | null>(null);
  /** the holder's seals re-made with this renewal (印章更新): from the issue answer, else the holder's seal list */
  const [seals, setSeals] = useState<SealShown[]>([]);
  const waitRef = useRef<ApprovalWait | null>(null);
  const mounted = useRef(true);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      waitRef.current?.cancel();
    };
  }, []);

  const finish = useCallback(async (o: Order) => {
    let cert: CertificateDetail | null = null;
    if (o.issuedSerial)
      cert = await api.certificate(o.issuedSerial, { quietAuth: true }).then(
        (r) => r.certificate,
        () => null,
      );
    if (mounted.current) setDone({ order: o, certificate: cert });
  }, []);

  const load = useCallback(async () => {
    setLoadError(null);
    try {
      const { order: o } = await api.order(orderId);
      setOrder(o);
      let j: RenewalView | undefined;
      if (agent) {
        try {
          j = await agent.renewal(orderId);
        } catch (e) {
          // The assistant is not reachable now: the page still shows the order and offers to continue.
          if (!(e instanceof AgentError && e.status === 0)) throw e;
          j = undefined;
        }
      }
      setJournal(j ?? null);
      if (j?.seals.length) {
        const mine = await api.seals().then(
          (r) => r.applications,
          () => [],
        );
        setSeals(
          mine
            .filter((a) => a.esId && j.seals.includes(a.esId))
            .map((a) => ({ esId: a.esId!, name: a.sealName, picture: a.picture })),
        );
      }
      if (o.state === 'completed' && (!j || j.status === 'done')) await finish(o);
    } catch (e) {
      setLoadError(errorText(t, e));
    }
  }, [agent, orderId, t, finish]);

  useEffect(() => {
    void load();
  }, [load]);

  /** Runs `p` while showing the journal's progress every ~0.6 s. */
  const withProgress = async <T,>(p: Promise<T>): Promise<T> => {
    if (!agent) return p;
    let live = true;
    const tick = async (): Promise<void> => {
      while (live) {
        await new Promise((r) => window.setTimeout(r, 600));
        if (!live) break;
        const j = await agent.renewal(orderId).catch(() => undefined);
        if (live && j && mounted.current) setJournal(j);
      }
    };
    void tick();
    try {
      return await p;
    } finally {
      live = false;
    }
  };

  /** Which key and certificate to renew when the assistant has no journal for this order yet. */
  const loginCertificate = async (a: AgentClient): Promise<{ tokenId: string; certificateId: string }> => {
    const serial = app.session?.certificate.serial ?? '';
    const k = app.loginKey;
    if (k && normalizeSerial(k.serial) === normalizeSerial(serial)) return { tokenId: k.tokenId, certificateId: k.certificateId };
    const found = await a.findCertificate(serial);
    if (!found) throw new PageError('updateNoKey');
    return { tokenId: found.token.id, certificateId: found.certificate.id };
  };

  /** One renew approval in the assistant's window; keeps its session token for the next steps. */
  const approve = async (
    a: AgentClient,
    j: RenewalView | undefined,
    popup: Window | null,
    extra: { certificate?: string; encryption?: EncryptionDelivery; seals?: string[]; confirm?: boolean; keyType?: string },
  ): Promise<void> => {
    const target = j ? { tokenId: j.tokenId } : await loginCertificate(a);
    const req = await a.createRequest({ op: 'renew', orderId, ...target, ...extra });
    const win = popup ?? openApprovalWindow(t('updateTitle'), t('connecting'));
    const wait = awaitApproval(a, req, win);
    waitRef.current = wait;
    if (!win) setBlocked(true);
    setActivity('pin');
    const v = await withProgress(wait.done);
    waitRef.current = null;
    setBlocked(false);
    if (v.status !== 'done') {
      const code = v.error?.error ?? v.status;
      throw new AgentError(409, code, v.error?.message ?? code);
    }
    renewSessions.set(orderId, { requestId: req.requestId, token: req.sessionToken });
    const view = v.result as RenewalView | undefined;
    if (view?.step) setJournal(view);
  };

  /**
   * A step with the session of an earlier approval. Null when the assistant needs a new approval
   * (it restarted, or its hold on the key timed out): the caller asks for one.
   */
  const held = async (p: Promise<RenewalView & { approvalRequired: boolean }>): Promise<RenewalView | null> => {
    try {
      const v = await p;
      if (!v.approvalRequired) return v;
    } catch (e) {
      if (!(e instanceof AgentError && (e.code === 'session_invalid' || e.code === 'session_required'))) throw e;
    }
    renewSessions.delete(orderId);
    return null;
  };

  const run = async (): Promise<void> => {
    if (!agent || running) return;
    setRunning(true);
    setError(null);
    setBlocked(false);
    app.setAgentConnected(true);
    // The approval window must be opened inside the click (pop-up blockers); it is pointed at the
    // assistant later, or closed when the steps ahead need no PIN (a held session at a step the
    // portal drives).
    const hasSession = renewSessions.has(orderId);
    const portalStep = journal?.step === 'csr-built' || journal?.step === 'labels-switched' || journal?.step === 'confirmed';
    let popup: Window | null = hasSession && portalStep ? null : openApprovalWindow(t('updateTitle'), t('connecting'));
    const takePopup = (): Window | null => {
      const p = popup;
      popup = null;
      return p;
    };
    try {
      for (let guard = 0; guard < 12; guard++) {
        setActivity('working');
        let { order: o } = await api.order(orderId);
        setOrder(o);
        if (o.state === 'awaiting_payment') throw new PageError('updateNotPaid');
        if (!UPDATE_STATES.includes(o.state) && o.state !== 'completed')
          throw new PageError('orderClosed', { state: t(`state.${o.state}` as MessageKey) });
        const j = await agent.renewal(orderId);
        setJournal(j ?? null);
        if (o.state === 'completed' && (!j || j.status === 'done')) {
          await finish(o);
          return;
        }
        if (j?.status === 'done') {
          // The old pair is retired: the server only needs to hear it.
          ({ order: o } = await api.installed(orderId));
          continue;
        }
        if (!j && (o.state === 'issued' || o.state === 'installed')) throw new PageError('updateOtherComputer');
        const sess = renewSessions.get(orderId);

        if (j && (j.step === 'labels-switched' || j.step === 'confirmed')) {
          setActivity('confirming');
          if (o.state !== 'completed') ({ order: o } = await api.installed(orderId));
          const v = sess ? await held(withProgress(agent.confirm(orderId, sess.token))) : null;
          if (v) setJournal(v);
          else await approve(agent, j, takePopup(), { confirm: true });
          continue;
        }

        if (j && j.step === 'csr-built' && j.csr && j.proof) {
          setActivity('issuing');
          const issued = await api.issue(orderId, { csr: j.csr, proof: j.proof });
          setOrder(issued.order);
          // An SM2 dual pair: the encryption certificate and the KMC's envelope go to the assistant
          // with the signing certificate; it opens the envelope with the new key inside the token.
          const encryption: EncryptionDelivery | undefined = issued.encryption && {
            certificate: issued.encryption.certificate,
            envelope: issued.encryption.envelope,
          };
          // 印章更新: the seals re-made for the new certificate are written in the same journaled install.
          const sealDers = issued.seals.map((x) => x.der);
          if (issued.seals.length)
            setSeals(issued.seals.map((x) => ({ esId: x.esId, name: x.name, picture: `data:image/png;base64,${x.picture}` })));
          if (sess) setActivity('writing');
          const v = sess
            ? await held(withProgress(agent.postCertificate(orderId, sess.token, issued.certificate, encryption, sealDers)))
            : null;
          if (v) setJournal(v);
          else
            await approve(agent, j, takePopup(), {
              certificate: issued.certificate,
              ...(encryption ? { encryption } : {}),
              ...(sealDers.length ? { seals: sealDers } : {}),
            });
          continue;
        }

        // No journal yet, or a step only the assistant can take with the key open: approval (PIN).
        // 升级证书 to another algorithm: the new key is of the target's type (the journal keeps it).
        await approve(agent, j, takePopup(), !j && o.newKeyType ? { keyType: o.newKeyType } : {});
      }
      throw new PageError('updateFailed');
    } catch (e) {
      if (!mounted.current) return;
      if (e instanceof PageError) setError(t(e.key, e.vars));
      else {
        // The assistant restarted or went away: its session for this renewal is gone with it.
        if (e instanceof AgentError && (e.status === 0 || e.code === 'session_invalid')) renewSessions.delete(orderId);
        setError(errorText(t, e));
      }
      void agent
        .renewal(orderId)
        .then((j) => mounted.current && setJournal(j ?? null))
        .catch(() => undefined);
    } finally {
      try {
        popup?.close();
      } catch {
        // ignore
      }
      waitRef.current = null;
      if (mounted.current) {
        setRunning(false);
        setActivity(null);
        setBlocked(false);
      }
    }
  };

  if (loadError)
    return <Result status="error" title={loadError} extra={<Button onClick={() => void load()}>{t('retry')}</Button>} />;
  if (!order || journal === undefined) return <Spin className="cd-spin" />;

  const withSeals = seals.length > 0 || (journal?.seals.length ?? 0) > 0;
  const keys = stepKeys(withSeals);
  const doneSteps = done ? keys.length : stepsDone(journal?.step, order, withSeals);
  const items = keys.map((k, i) => ({
    title: t(k),
    status: (i < doneSteps ? 'finish' : i === doneSteps ? (error ? 'error' : running ? 'process' : 'wait') : 'wait') as
      'finish' | 'error' | 'process' | 'wait',
    ...(i === doneSteps && running ? { icon: <LoadingOutlined /> } : {}),
  }));

  return (
    <div className="cd-page">
      <div className="cd-row-between">
        <Typography.Title level={1} className="cd-page-title">
          {t('updateTitle')}
        </Typography.Title>
        <a href={`#/orders/${order.id}`}>{t('viewOrder')}</a>
      </div>
      <Card className="cd-gap">
        <Steps
          current={Math.min(doneSteps, keys.length - 1)}
          items={items}
          size="small"
          className="cd-steps"
          data-testid="update-steps"
        />
      </Card>
      {seals.length > 0 && (
        // 印章更新界面: the seals that follow the certificate, as they will be stamped
        <Card size="small" className="cd-gap" title={t('updateSealsTitle')} data-testid="update-seals">
          <Space wrap size="large">
            {seals.map((x) => (
              <Space key={x.esId} orientation="vertical" align="center" size={2} data-testid={`update-seal-${x.esId}`}>
                <img src={x.picture} alt={x.name} width={96} height={96} />
                <span>{x.name}</span>
                <code>{x.esId}</code>
                <Typography.Text type={doneSteps > 5 ? 'success' : 'secondary'}>
                  {doneSteps > 5 ? t('updateSealWritten') : t('updateSealPending')}
                </Typography.Text>
              </Space>
            ))}
          </Space>
        </Card>
      )}
      {done ? (
        <SuccessView done={done} t={t} lang={lang} />
      ) : (
        <Card>
          <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
            <Descriptions
              size="small"
              column={{ xs: 1, md: 3 }}
              items={[
                { key: 'id', label: t('fieldOrderId'), children: order.id },
                {
                  key: 'kind',
                  label: t('fieldKindName'),
                  children: named(lang, order.certificateTypeName, order.certificateTypeNameEn),
                },
                // a change of details keeps the term: no months to show
                ...(order.kind === 'change' ? [] : [{ key: 'months', label: t('fieldMonths'), children: order.months }]),
              ]}
            />
            <Typography.Paragraph>{t('updateIntro')}</Typography.Paragraph>
            <Alert type="success" showIcon icon={<SafetyOutlined />} title={t('updateSafe')} data-testid="update-safe" />
            {journal && journal.status !== 'done' && !running && !error && (
              <Alert
                type="info"
                showIcon
                title={t('updateResumeAt', { step: stepName(t, journal.step, withSeals) })}
                data-testid="resume-at"
              />
            )}
            {blocked && (
              <Alert
                type="warning"
                showIcon
                title={t('popupBlockedTitle')}
                description={t('popupBlockedText')}
                action={<Button onClick={() => waitRef.current?.reopen() && setBlocked(false)}>{t('openAgentWindow')}</Button>}
              />
            )}
            {running && activity && !blocked && (
              <Alert
                type="info"
                showIcon
                icon={<LoadingOutlined />}
                data-testid="update-activity"
                title={
                  activity === 'pin'
                    ? t('updateWaitingPin')
                    : activity === 'issuing'
                      ? t('updateIssuing')
                      : activity === 'writing'
                        ? t('updateWriting')
                        : activity === 'confirming'
                          ? t('updateConfirming')
                          : t('updateWorking')
                }
                action={
                  activity === 'pin' ? (
                    <Button size="small" onClick={() => waitRef.current?.cancel()}>
                      {t('cancelRequest')}
                    </Button>
                  ) : undefined
                }
              />
            )}
            {error && (
              <Alert
                type="warning"
                showIcon
                role="alert"
                title={t('updateFailed')}
                description={error}
                data-testid="update-error"
              />
            )}
            {journal?.lastError && !running && !error && (
              <Alert type="warning" showIcon title={agentErrorText(t, journal.lastError.code, journal.lastError.message)} />
            )}
            {agentVersion.kind === 'old' && (
              <AgentTooOld version={agentVersion.version} minimum={app.config.agentMinVersion} action="renew" />
            )}
            <div>
              <Button
                type="primary"
                size="large"
                loading={running}
                disabled={agentVersion.kind === 'old'}
                onClick={() => void run()}
                data-testid="start-update"
              >
                {journal ? t('resumeUpdate') : t('startUpdate')}
              </Button>
            </div>
          </Space>
        </Card>
      )}
    </div>
  );
}

interface SealShown {
  esId: string;
  name: string;
  /** data: URL */
  picture: string;
}

function stepName(t: Translate, step: JournalStep, withSeals: boolean): string {
  const keys = stepKeys(withSeals);
  const i = stepsDone(step, null, withSeals);
  return t(keys[Math.max(0, Math.min(i, keys.length) - 1)] ?? 'stepKey');
}

function SuccessView({
  done,
  t,
  lang,
}: {
  done: { order: Order; certificate: CertificateDetail | null };
  t: Translate;
  lang: 'zh' | 'en';
}) {
  const c = done.certificate;
  const e = c?.encryption;
  const o = done.order;
  const items = [
    ...(c
      ? [
          { key: 'name', label: t('fieldName'), children: c.commonName },
          { key: 'kind', label: t('fieldKind'), children: named(lang, c.profileName, c.profileNameEn) },
          { key: 'uid', label: t('fieldUniqueId'), children: c.uniqueId ?? '—' },
        ]
      : [{ key: 'kind', label: t('fieldKind'), children: named(lang, o.certificateTypeName, o.certificateTypeNameEn) }]),
    {
      key: 'serial',
      label: t('fieldSerial'),
      children: <code data-testid="new-serial">{(c?.serial ?? o.issuedSerial ?? '—').toUpperCase()}</code>,
    },
    ...(c ? [{ key: 'notBefore', label: t('fieldNotBefore'), children: fmtTime(lang, c.notBefore) }] : []),
    {
      key: 'notAfter',
      label: t('fieldNotAfter'),
      children: <span data-testid="new-not-after">{fmtDate(lang, c?.notAfter ?? o.newNotAfter)}</span>,
    },
  ];
  return (
    <Card>
      <Result
        status="success"
        title={<span data-testid="update-success">{t('updateSuccess')}</span>}
        subTitle={t('updateSuccessText')}
        extra={
          <Space wrap>
            <Button href={`#/orders/${o.id}`}>{t('viewOrder')}</Button>
          </Space>
        }
      />
      <Card size="small" title={e ? t('newSigningCertificate') : t('newCertificate')} data-testid="new-certificate">
        <Descriptions bordered size="small" column={1} styles={{ label: { width: 200 } }} items={items} />
      </Card>
      {e && (
        // an SM2 dual pair: the new encryption certificate, for the key the KMC delivered to the token
        <Card size="small" title={t('newEncryptionCertificate')} className="cd-gap-top" data-testid="new-encryption-certificate">
          <Descriptions
            bordered
            size="small"
            column={1}
            styles={{ label: { width: 200 } }}
            items={[
              { key: 'kind', label: t('fieldKind'), children: named(lang, e.profileName, e.profileNameEn) },
              {
                key: 'serial',
                label: t('fieldSerial'),
                children: <code data-testid="new-enc-serial">{e.serial.toUpperCase()}</code>,
              },
              { key: 'notBefore', label: t('fieldNotBefore'), children: fmtTime(lang, e.notBefore) },
              { key: 'notAfter', label: t('fieldNotAfter'), children: fmtDate(lang, e.notAfter) },
            ]}
          />
        </Card>
      )}
    </Card>
  );
}
