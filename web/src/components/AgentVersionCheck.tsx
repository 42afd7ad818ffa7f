// Is the running key assistant new enough for what the holder is about to do (log in, renew)? It
// says its version at GET /v1; older than the portal's AGENT_MIN_VERSION, the holder is sent to the
// 下载中心 for the current one before starting.
import { useEffect, useState } from 'react';
import { Alert } from 'antd';
import { isOlderVersion } from '../../../src/shared/versions.js';
import type { AgentClient } from '../agent';
import { useI18n } from '../i18n';

export type AgentVersionState = { kind: 'checking' } | { kind: 'ok' } | { kind: 'old'; version: string };

/** Checks once per assistant; an assistant that cannot be asked is left to the caller's own errors. */
export function useAgentVersion(agent: AgentClient | null | undefined, minimum: string, enabled = true): AgentVersionState {
  const [state, setState] = useState<AgentVersionState>({ kind: 'checking' });
  useEffect(() => {
    if (!agent || !enabled) return;
    let live = true;
    agent
      .info()
      .then((i) => {
        if (!live) return;
        setState(isOlderVersion(i.version, minimum) ? { kind: 'old', version: i.version ?? '?' } : { kind: 'ok' });
      })
      .catch(() => live && setState({ kind: 'ok' }));
    return () => {
      live = false;
    };
  }, [agent, minimum, enabled]);
  return state;
}

export function AgentTooOld({ version, minimum, action }: { version: string; minimum: string; action: 'login' | 'renew' }) {
  const { t } = useI18n();
  return (
    <Alert
      className="cd-gap-top"
      type="warning"
      showIcon
      role="alert"
      data-testid="agent-too-old"
      title={t('agentTooOldTitle')}
      description={
        <>
          <div>{t(action === 'login' ? 'agentTooOldLogin' : 'agentTooOldRenew', { version, minimum })}</div>
          <a href="#/downloads" data-testid="agent-too-old-download">
            {t('agentDownload')}
          </a>
        </>
      }
    />
  );
}
