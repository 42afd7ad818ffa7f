// A relying application's webhook URL: http(s) only, and never the CA itself. Delivering to
// ourselves would let whoever edits the catalogue make the server call its own endpoints (SSRF), so
// the URL is refused when it names the host:port of PUBLIC_URL or PKI_URL, or this server's port
// on a loopback / unspecified address.
import type { Config } from '../config/config.js';
import { invalid } from './errors.js';

const FIELD = 'webhookUrl';

const defaultPort = (u: URL): number => (u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80);

/** Loopback and "any" addresses all reach this machine. */
function isLocalHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    /^127\.\d+\.\d+\.\d+$/.test(h) ||
    h === '0.0.0.0' ||
    h === '::1' ||
    h === '::' ||
    h === '::ffff:127.0.0.1' ||
    /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(h)
  );
}

export function checkWebhookUrl(value: unknown, config: Pick<Config, 'publicUrl' | 'pkiUrl' | 'port'>): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value !== 'string' || value.length > 2000)
    throw invalid(
      { en: 'webhookUrl must be a URL of at most 2000 characters', zh: 'Webhook 地址须为不超过 2000 个字符的网址' },
      FIELD,
    );
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw invalid({ en: 'webhookUrl is not a valid URL', zh: 'Webhook 地址不是有效的网址' }, FIELD);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid(
      {
        en: `webhookUrl must use http or https, not ${url.protocol.replace(':', '')}`,
        zh: 'Webhook 地址须以 http 或 https 开头',
      },
      FIELD,
    );
  if (url.username || url.password)
    throw invalid({ en: 'webhookUrl must not contain a user name or password', zh: 'Webhook 地址不能包含用户名或密码' }, FIELD);
  const port = defaultPort(url);
  const host = url.hostname.toLowerCase();
  const ours = [config.publicUrl, config.pkiUrl].map((s) => new URL(s));
  const pointsAtUs =
    ours.some((o) => o.hostname.toLowerCase() === host && defaultPort(o) === port) ||
    (isLocalHost(host) && (port === config.port || ours.some((o) => isLocalHost(o.hostname) && defaultPort(o) === port)));
  if (pointsAtUs)
    throw invalid(
      {
        en: 'webhookUrl points at this CA itself; give the relying application’s own address',
        zh: 'Webhook 地址不能指向本 CA 系统自身，请填写应用自己的地址',
      },
      FIELD,
    );
  return url.toString();
}
