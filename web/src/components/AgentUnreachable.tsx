// Why the key assistant could not be reached, from what the browser says about its Local Network
// Access permission for this site (the assistant is on this device's loopback address):
//   denied  — the holder (or a policy) blocked it: how to allow it in the site's settings;
//   prompt  — not answered (the question was closed) — or no question at all, the assistant is not
//             running: connect again and allow, then the usual checks;
//   granted — the browser lets us through, so the assistant is not running;
//   unknown — a browser without the permission: every cause, in order.
// The wording of the browser's prompt and settings is Chromium's own (zh-CN and en-US).
import type { ReactNode } from 'react';
import { Alert } from 'antd';
import { useI18n } from '../i18n';

export type LocalAccess = PermissionState | 'unknown';

export default function AgentUnreachable({
  permission,
  agentUrl,
  download,
}: {
  permission: LocalAccess;
  agentUrl: string;
  download: ReactNode;
}) {
  const { t } = useI18n();
  const site = window.location.host;
  return (
    <Alert
      className="cd-gap-top"
      type="error"
      showIcon
      role="alert"
      data-testid="agent-unreachable"
      data-permission={permission}
      title={t(permission === 'denied' ? 'agentBlockedTitle' : 'agentUnreachableTitle')}
      description={
        permission === 'denied' ? (
          <div data-testid="agent-denied">
            <div>{t('agentDenied')}</div>
            <ol className="cd-list">
              <li>{t('agentDenied1')}</li>
              <li>{t('agentDenied2')}</li>
              <li>{t('agentDenied3')}</li>
            </ol>
          </div>
        ) : (
          <>
            {permission === 'prompt' && <p data-testid="agent-dismissed">{t('agentDismissed', { site })}</p>}
            <div>{t('agentUnreachableText')}</div>
            <ol className="cd-list">
              <li>{t('agentUnreachable1', { url: agentUrl })}</li>
              {permission === 'unknown' && <li>{t('agentUnreachable2')}</li>}
              <li>{t('agentUnreachable3')}</li>
            </ol>
            {download}
          </>
        )
      }
    />
  );
}
