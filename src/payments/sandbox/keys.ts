// Key pairs of the sandbox: the gateway platform's (signs notifications and query answers) and the
// merchant's (signs payment requests). Generated at first use under DATA_DIR/sandbox-gateway, never
// committed. A real deployment holds only the merchant key and the platform's public key.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface SandboxKeys {
  platformPrivate: KeyObject;
  platformPublic: KeyObject;
  merchantPrivate: KeyObject;
  merchantPublic: KeyObject;
}

function loadOrCreate(file: string): KeyObject {
  try {
    return createPrivateKey(readFileSync(file));
  } catch {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    try {
      writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
      return privateKey;
    } catch {
      return createPrivateKey(readFileSync(file)); // created meanwhile by another process
    }
  }
}

const cache = new Map<string, SandboxKeys>();

export function sandboxKeys(dataDir: string): SandboxKeys {
  const hit = cache.get(dataDir);
  if (hit) return hit;
  const dir = path.join(dataDir, 'sandbox-gateway');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const platformPrivate = loadOrCreate(path.join(dir, 'platform-key.pem'));
  const merchantPrivate = loadOrCreate(path.join(dir, 'merchant-key.pem'));
  const keys = {
    platformPrivate,
    platformPublic: createPublicKey(platformPrivate),
    merchantPrivate,
    merchantPublic: createPublicKey(merchantPrivate),
  };
  cache.set(dataDir, keys);
  return keys;
}
