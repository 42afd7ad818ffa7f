// The KMC master key protected by a PKCS#11 token. SoftHSM2 (and most HSMs without GM/T vendor
// mechanisms) have no SM4, so the SM4 master key cannot live on the token itself: an AES-256 key
// made on the token (sensitive, never extractable) encrypts it (CKM_AES_CBC_PAD), and only that
// ciphertext is in KMC_MASTER_KEY_FILE. Whoever copies the file without the token and its PIN has
// nothing; while the KMC runs, the SM4 key is in its memory, as with the plain file.
//   file: pkcs11-aes-cbc-pad:v1:<AES key label>:<IV hex>:<ciphertext hex>
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import * as graphene from 'graphene-pk11';
import { openTokenSession, type TokenSession } from '../pkcs11/module.js';
import { SM4_BLOCK } from '../pki/sm4.js';
import { KmcError } from './errors.js';
import { MasterKey } from './master-key.js';

export interface Pkcs11MasterKeyOptions {
  file: string;
  module: string;
  token: string;
  /** label of the AES wrapping key on the token */
  keyLabel: string;
  pin: string;
}

const PREFIX = 'pkcs11-aes-cbc-pad:v1';

function findAesKey(session: graphene.Session, label: string): graphene.SecretKey | undefined {
  const found = session.find({ class: graphene.ObjectClass.SECRET_KEY, keyType: graphene.KeyType.AES, label });
  return found.length ? found.items(0).toType<graphene.SecretKey>() : undefined;
}

async function withToken<T>(o: Pkcs11MasterKeyOptions, fn: (s: TokenSession) => Promise<T>): Promise<T> {
  let session: TokenSession;
  try {
    session = await openTokenSession({ module: o.module, token: o.token, pin: o.pin });
  } catch (e) {
    throw new KmcError('master_key', `KMC master key token ${o.token} (${o.module}): ${(e as Error).message}`);
  }
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

/** The master key whose wrapped form is in `o.file`, or undefined when there is no such file. */
export async function readPkcs11MasterKey(o: Pkcs11MasterKeyOptions): Promise<MasterKey | undefined> {
  let text: string;
  try {
    const mode = statSync(o.file).mode & 0o777;
    if (mode & 0o077)
      throw new KmcError(
        'master_key',
        `KMC_MASTER_KEY_FILE ${o.file} may be read by other users (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 it`,
      );
    text = readFileSync(o.file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (e instanceof KmcError) throw e;
    throw new KmcError('master_key', `KMC_MASTER_KEY_FILE ${o.file} cannot be read: ${(e as Error).message}`);
  }
  const m = /^pkcs11-aes-cbc-pad:v1:([^:]+):([0-9a-f]{32}):([0-9a-f]{64})$/.exec(text);
  if (!m)
    throw new KmcError(
      'master_key',
      `KMC_MASTER_KEY_FILE ${o.file} is not a token-wrapped KMC master key (${PREFIX}:…); KMC_PKCS11_MODULE is set, so a plain key file is not used`,
    );
  const [, label, iv, ct] = m;
  if (label !== o.keyLabel)
    throw new KmcError(
      'master_key',
      `KMC_MASTER_KEY_FILE ${o.file} is wrapped by token key ${label}, not ${o.keyLabel} (KMC_PKCS11_KEY_LABEL)`,
    );
  return withToken(o, (session) =>
    session.run((s) => {
      const key = findAesKey(s, o.keyLabel);
      if (!key)
        throw new KmcError(
          'master_key',
          `no AES key ${o.keyLabel} on token ${o.token}: it is not the token that wrapped the KMC master key`,
        );
      let plain: Buffer;
      try {
        plain = s
          .createDecipher({ name: 'AES_CBC_PAD', params: Buffer.from(iv!, 'hex') }, key)
          .once(Buffer.from(ct!, 'hex'), Buffer.alloc(64));
      } catch (e) {
        throw new KmcError(
          'master_key',
          `token key ${o.keyLabel} does not open KMC_MASTER_KEY_FILE ${o.file} (another token?): ${(e as Error).message}`,
        );
      }
      try {
        return MasterKey.fromBytes(plain, `pkcs11:${o.token}/${o.keyLabel}`);
      } finally {
        plain.fill(0);
      }
    }),
  );
}

/** A new SM4 master key, wrapped by the token's AES key (made now if the token has none yet). */
export async function createPkcs11MasterKey(o: Pkcs11MasterKeyOptions): Promise<MasterKey> {
  const sm4 = randomBytes(SM4_BLOCK);
  const iv = randomBytes(16);
  try {
    const wrapped = await withToken(o, (session) =>
      session.run((s) => {
        const key =
          findAesKey(s, o.keyLabel) ??
          s.generateKey(graphene.KeyGenMechanism.AES, {
            class: graphene.ObjectClass.SECRET_KEY,
            keyType: graphene.KeyType.AES,
            valueLen: 32,
            label: o.keyLabel,
            token: true,
            private: true,
            sensitive: true,
            extractable: false,
            encrypt: true,
            decrypt: true,
          });
        return s.createCipher({ name: 'AES_CBC_PAD', params: iv }, key).once(sm4, Buffer.alloc(64));
      }),
    );
    mkdirSync(path.dirname(o.file), { recursive: true, mode: 0o700 });
    let fd: number;
    try {
      fd = openSync(o.file, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return (await readPkcs11MasterKey(o))!;
      throw new KmcError('master_key', `cannot create KMC_MASTER_KEY_FILE ${o.file}: ${(e as Error).message}`);
    }
    try {
      writeSync(fd, `${PREFIX}:${o.keyLabel}:${iv.toString('hex')}:${wrapped.toString('hex')}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return MasterKey.fromBytes(sm4, `pkcs11:${o.token}/${o.keyLabel}`);
  } finally {
    sm4.fill(0);
  }
}
