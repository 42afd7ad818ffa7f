// The signature scheme of the sandbox gateway, shaped like Alipay's RSA2: parameters sorted by name,
// joined as k=v&k=v (empty values and `sign` left out), signed with SHA256withRSA, base64.
import { sign, verify, type KeyObject } from 'node:crypto';

export function canonical(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && k !== 'sign_type' && params[k] !== '' && params[k] !== undefined)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export function signParams(params: Record<string, string>, key: KeyObject): string {
  return sign('sha256', Buffer.from(canonical(params), 'utf8'), key).toString('base64');
}

export function verifyParams(params: Record<string, string>, key: KeyObject): boolean {
  const sig = params.sign;
  if (!sig) return false;
  try {
    return verify('sha256', Buffer.from(canonical(params), 'utf8'), key, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}
