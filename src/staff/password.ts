// Staff passwords: argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane).
import { hash, verify } from '@node-rs/argon2';
import { invalid } from './errors.js';

const PARAMS = { algorithm: 2 /* Argon2id */, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 12;

export function checkPasswordPolicy(password: string, username?: string): void {
  if (password.length < MIN_PASSWORD_LENGTH)
    throw invalid(
      { en: `the password must be at least ${MIN_PASSWORD_LENGTH} characters`, zh: `密码至少 ${MIN_PASSWORD_LENGTH} 个字符` },
      'password',
    );
  if (password.length > 256)
    throw invalid({ en: 'the password must be at most 256 characters', zh: '密码最多 256 个字符' }, 'password');
  if (username && password.toLowerCase().includes(username.toLowerCase()))
    throw invalid({ en: 'the password must not contain the user name', zh: '密码不能包含用户名' }, 'password');
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, PARAMS);
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

/** A hash to verify against when the user does not exist, so timing does not reveal user names. */
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword('certdesk-no-such-user-placeholder');
  return dummy;
}
