// The key management centre (KMC) in consolidated mode: makes SM2 encryption key pairs, escrows
// their private keys under the master key (escrow-cipher.ts) in its own append-only tables, and
// lets a private key out only inside an SM2EnvelopedKey to a signing public key. Every key made and
// every recovery goes to the audit log; the key material never does.
import { hash, randomUUID } from 'node:crypto';
import type { Config } from '../config/config.js';
import { makeSm2EnvelopedKey } from '../pki/sm2-envelope.js';
import { Sm2PrivateKey, Sm2PublicKey } from '../pki/sm2-key.js';
import { toBytes32 } from '../pki/sm2-curve.js';
import { appendAudit } from '../sa/audit.js';
import { isUniqueViolation, writeTransaction, type Storage } from '../sa/database.js';
import {
  countKmcKeys,
  getKmcKeyByRequest,
  getKmcKeyBySpkiHash,
  insertKmcKey,
  insertKmcMasterKey,
  listKmcMasterKeys,
  type KmcKeyRecord,
  type KmcMasterKeyRecord,
} from '../sa/kmc-keys.js';
import { openPrivateKey, sealPrivateKey } from './escrow-cipher.js';
import { KmcError } from './errors.js';
import type { EncryptionKeyIssued, KeyManagement } from './kmc-api.js';
import { createMasterKeyFile, readMasterKeyFile, type MasterKey } from './master-key.js';
import { createPkcs11MasterKey, readPkcs11MasterKey } from './pkcs11-master-key.js';

export interface KmcOptions {
  /** KMC_MASTER_KEY_FILE: the key itself, or (with `pkcs11`) the key wrapped by the token's AES key */
  masterKeyFile: string;
  /** KMC_PKCS11_MODULE / _TOKEN / _KEY_LABEL and the PIN: the master key file is wrapped by that token */
  pkcs11?: { module: string; token: string; keyLabel: string; pin: () => string };
  /** create the master key when there is none yet (first start, `certdesk kmc init`) */
  create?: boolean;
  /** who creates it, for the audit log */
  actor?: string;
  log?: (msg: string) => void;
}

export interface KmcStatus {
  masterKeyId: string;
  storage: string;
  /** escrowed keys under this master key */
  escrowed: number;
  /** escrowed keys in the whole store (other master keys included) */
  escrowedTotal: number;
}

/** The master key options `config` names (the PIN is read only when a token is configured). */
export function kmcOptionsFrom(config: Config, pin: () => string): Pick<KmcOptions, 'masterKeyFile' | 'pkcs11'> {
  const { kmcMasterKeyFile: masterKeyFile, kmcPkcs11 } = config;
  return kmcPkcs11 ? { masterKeyFile, pkcs11: { ...kmcPkcs11, pin } } : { masterKeyFile };
}

const sha256 = (b: Buffer): string => hash('sha256', b, 'hex');

function signingKeyOf(spki: Buffer): { key: Sm2PublicKey; sha256: string } {
  let key: Sm2PublicKey;
  try {
    key = Sm2PublicKey.fromSpki(spki);
  } catch (e) {
    throw new KmcError('invalid', `signingSpki is not an SM2 public key: ${(e as Error).message}`, 'signingSpki');
  }
  // Hashed as re-encoded, so one key is one hash whatever point form the request used.
  return { key, sha256: sha256(key.toSpki()) };
}

function text(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.trim() === '') throw new KmcError('invalid', `${field} is required`, field);
  if (value.length > max) throw new KmcError('invalid', `${field} is longer than ${max} characters`, field);
  return value.trim();
}

/** Registers `mk` as the store's master key, or refuses it when the store is under another one. */
async function registerMasterKey(storage: Storage, mk: MasterKey, actor: string): Promise<void> {
  const check = (registered: KmcMasterKeyRecord[]): boolean => {
    const mine = registered.find((r) => r.id === mk.id);
    if (mine && mine.check_value !== mk.checkValue)
      throw new KmcError('master_key', `KMC master key ${mk.id}: the check value differs from the registered one`);
    if (mine) return true;
    if (registered.length === 0) return false;
    throw new KmcError(
      'master_key',
      `KMC_MASTER_KEY_FILE holds master key ${mk.id}, but the escrow store is under ${registered.map((r) => `${r.id} (${r.storage})`).join(', ')}: ` +
        'this is not its key file; restore the right one (nothing was decrypted or changed)',
    );
  };
  if (check(await listKmcMasterKeys(storage.db))) return;
  await writeTransaction(storage, async (tx) => {
    if (check(await listKmcMasterKeys(tx))) return;
    await insertKmcMasterKey(tx, {
      id: mk.id,
      algorithm: 'sm4',
      check_value: mk.checkValue,
      storage: mk.storage,
      created_at: Date.now(),
      created_by: actor,
    });
    await appendAudit(tx, [{ actor, action: 'kmc.master_key_registered', target: mk.id, details: { storage: mk.storage } }]);
  });
}

export class KeyManagementCentre implements KeyManagement {
  private constructor(
    private readonly storage: Storage,
    private readonly mk: MasterKey,
  ) {}

  /**
   * Opens the KMC on `storage` with the master key of `opts.masterKeyFile`. A missing file is
   * created only while the store has no master key at all; otherwise a missing or wrong file is an
   * error here, at start — never a new key that would orphan the escrowed ones.
   */
  static async open(storage: Storage, opts: KmcOptions): Promise<KeyManagementCentre> {
    const p11 = opts.pkcs11 && { ...opts.pkcs11, file: opts.masterKeyFile, pin: opts.pkcs11.pin() };
    let mk = p11 ? await readPkcs11MasterKey(p11) : readMasterKeyFile(opts.masterKeyFile);
    if (!mk) {
      const registered = await listKmcMasterKeys(storage.db);
      if (registered.length) {
        const n = [...(await countKmcKeys(storage.db)).values()].reduce((a, b) => a + b, 0);
        throw new KmcError(
          'master_key',
          `KMC_MASTER_KEY_FILE ${opts.masterKeyFile} is missing, but the escrow store holds ${n} key(s) under master key ` +
            `${registered.map((r) => `${r.id} (${r.storage})`).join(', ')}: restore that file from its backup (a new key could not open them)`,
        );
      }
      if (!opts.create) throw new KmcError('master_key', `no KMC master key yet (${opts.masterKeyFile}): run certdesk kmc init`);
      mk = p11 ? await createPkcs11MasterKey(p11) : createMasterKeyFile(opts.masterKeyFile);
      opts.log?.(
        `KMC master key ${mk.id} created in ${opts.masterKeyFile}: back this file up; escrowed keys cannot be recovered without it`,
      );
    }
    try {
      await registerMasterKey(storage, mk, opts.actor ?? 'system:kmc');
    } catch (e) {
      mk.destroy();
      throw e;
    }
    return new KeyManagementCentre(storage, mk);
  }

  get masterKeyId(): string {
    return this.mk.id;
  }

  async status(): Promise<KmcStatus> {
    const counts = await countKmcKeys(this.storage.db);
    return {
      masterKeyId: this.mk.id,
      storage: this.mk.storage,
      escrowed: counts.get(this.mk.id) ?? 0,
      escrowedTotal: [...counts.values()].reduce((a, b) => a + b, 0),
    };
  }

  async issueEncryptionKey(req: { requestId: string; signingSpki: Buffer; actor: string }): Promise<EncryptionKeyIssued> {
    const requestId = text(req.requestId, 'requestId', 128);
    const actor = text(req.actor, 'actor', 200);
    const signing = signingKeyOf(req.signingSpki);
    const existing = await getKmcKeyByRequest(this.storage.db, requestId);
    if (existing) return this.deliver(existing, signing, requestId);

    const encryption = Sm2PrivateKey.generate();
    const publicSpki = encryption.publicKey.toSpki();
    const row: KmcKeyRecord = {
      key_id: `kmc-${randomUUID()}`,
      request_id: requestId,
      public_spki: publicSpki,
      spki_sha256: sha256(publicSpki),
      encrypted_private_key: Buffer.alloc(0),
      master_key_id: this.mk.id,
      signing_spki_sha256: signing.sha256,
      created_at: Date.now(),
      created_by: actor,
    };
    const d = toBytes32(encryption.d);
    try {
      row.encrypted_private_key = sealPrivateKey(this.mk, d, { keyId: row.key_id, spkiSha256: row.spki_sha256 });
    } finally {
      d.fill(0);
    }
    let stored: KmcKeyRecord;
    try {
      stored = await writeTransaction(this.storage, async (tx) => {
        // A concurrent request for the same order may have committed first: its key is the one.
        const first = await getKmcKeyByRequest(tx, requestId);
        if (first) return first;
        await insertKmcKey(tx, row);
        await appendAudit(tx, [
          {
            actor,
            action: 'kmc.key_generated',
            target: row.key_id,
            details: {
              requestId,
              spkiSha256: row.spki_sha256,
              signingSpkiSha256: signing.sha256,
              masterKeyId: this.mk.id,
            },
          },
        ]);
        return row;
      });
    } catch (e) {
      // Another instance's insert won between our read and write (the UNIQUE request_id): use it.
      const first = isUniqueViolation(e) ? await getKmcKeyByRequest(this.storage.db, requestId) : undefined;
      if (!first) throw e;
      stored = first;
    }
    if (stored === row) {
      return {
        keyId: row.key_id,
        publicSpki,
        envelope: makeSm2EnvelopedKey({ protectionKey: signing.key, encryptionKey: encryption }),
      };
    }
    return this.deliver(stored, signing, requestId);
  }

  async recover(req: {
    encSpkiSha256: string;
    signingSpki: Buffer;
    actor: string;
    reason: string;
  }): Promise<{ keyId: string; envelope: Buffer }> {
    const encSpkiSha256 = text(req.encSpkiSha256, 'encSpkiSha256', 64).toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(encSpkiSha256))
      throw new KmcError('invalid', 'encSpkiSha256 must be 64 hex digits (SHA-256 of the SPKI DER)', 'encSpkiSha256');
    const actor = text(req.actor, 'actor', 200);
    const reason = text(req.reason, 'reason', 500);
    const signing = signingKeyOf(req.signingSpki);
    const row = await getKmcKeyBySpkiHash(this.storage.db, encSpkiSha256);
    if (!row)
      throw new KmcError(
        'not_escrowed',
        `no escrowed key has the public key with SHA-256 ${encSpkiSha256}: it was not made by this KMC`,
        'encSpkiSha256',
      );
    const envelope = this.envelopeFor(row, signing.key);
    // Recorded before the envelope leaves: a recovery the log does not show never happened.
    await writeTransaction(this.storage, (tx) =>
      appendAudit(tx, [
        {
          actor,
          action: 'kmc.key_recovered',
          target: row.key_id,
          details: {
            encSpkiSha256,
            requestId: row.request_id,
            signingSpkiSha256: signing.sha256,
            reason,
          },
        },
      ]),
    );
    return { keyId: row.key_id, envelope };
  }

  close(): void {
    this.mk.destroy();
  }

  /** A repeated request: the same key, only ever to the signing key it was first delivered to. */
  private deliver(row: KmcKeyRecord, signing: { key: Sm2PublicKey; sha256: string }, requestId: string): EncryptionKeyIssued {
    if (row.signing_spki_sha256 !== signing.sha256)
      throw new KmcError(
        'conflict',
        `the encryption key of request ${requestId} (${row.key_id}) was delivered to another signing key; ` +
          'sending it to a different one is a key recovery (certdesk kmc recover)',
        'signingSpki',
      );
    return { keyId: row.key_id, publicSpki: row.public_spki, envelope: this.envelopeFor(row, signing.key) };
  }

  /** Decrypts the escrowed key (checked against its public key) and envelopes it to `to`. */
  private envelopeFor(row: KmcKeyRecord, to: Sm2PublicKey): Buffer {
    if (row.master_key_id !== this.mk.id)
      throw new KmcError(
        'master_key',
        `escrowed key ${row.key_id} is under master key ${row.master_key_id}, not this KMC's ${this.mk.id}`,
      );
    const d = openPrivateKey(this.mk, row.encrypted_private_key, { keyId: row.key_id, spkiSha256: row.spki_sha256 });
    let key: Sm2PrivateKey;
    try {
      key = Sm2PrivateKey.fromScalar(d);
    } catch {
      throw new KmcError('escrow_damaged', `escrowed key ${row.key_id} does not decrypt to an SM2 private key`);
    } finally {
      d.fill(0);
    }
    if (!key.publicKey.toSpki().equals(row.public_spki))
      throw new KmcError('escrow_damaged', `escrowed key ${row.key_id} does not match its public key`);
    return makeSm2EnvelopedKey({ protectionKey: to, encryptionKey: key });
  }
}
