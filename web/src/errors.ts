// Error messages for the holder: codes from the portal API and the key assistant, in the page's language.
import { AgentError } from './agent';
import { ApiError } from './api';
import { hasKey, type Translate } from './i18n';

export function agentErrorText(t: Translate, code: string, message?: string): string {
  const key = `agentErr.${code}`;
  if (hasKey(key)) return t(key);
  return t('agentErr.generic', { message: message ?? code });
}

export function errorText(t: Translate, e: unknown): string {
  if (e instanceof ApiError) {
    const key = `apiErr.${e.code}`;
    // the answer's own fields (orderId …) fill the message's placeholders too
    const vars: Record<string, string> = { message: e.message };
    for (const [k, v] of Object.entries(e.body)) if (typeof v === 'string' && k !== 'message') vars[k] = v;
    if (hasKey(key)) return t(key, vars);
    return t('apiErr.generic', { message: e.message });
  }
  if (e instanceof AgentError) return agentErrorText(t, e.code, e.message);
  return t('apiErr.generic', { message: (e as Error)?.message ?? String(e) });
}
