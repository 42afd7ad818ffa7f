// Around the real KMC (src/kmc/, on every runtime as `rt.kmc`): a fault injection for the RA's
// retry tests, and what the KMC escrowed for a request (read from its store, as a check).
import type { EncryptionKeyIssued, KeyManagement } from '../../src/kmc/kmc-api.js';
import type { Executor } from '../../src/sa/database.js';
import { getKmcKeyByRequest } from '../../src/sa/kmc-keys.js';

/** The KMC makes and escrows the key, then its answer is lost (a connection reset after the commit). */
export class AnswerLostKmc implements KeyManagement {
  constructor(
    private readonly kmc: KeyManagement,
    private readonly error = new Error('KMC connection reset'),
  ) {}

  async issueEncryptionKey(req: { requestId: string; signingSpki: Buffer; actor: string }): Promise<EncryptionKeyIssued> {
    await this.kmc.issueEncryptionKey(req);
    throw this.error;
  }

  recover(req: Parameters<KeyManagement['recover']>[0]): ReturnType<KeyManagement['recover']> {
    return this.kmc.recover(req);
  }
}

/** The SPKI of the key the KMC escrowed for `requestId` (an order id), if it made one. */
export async function escrowedSpki(db: Executor, requestId: string): Promise<Buffer | undefined> {
  const row = await getKmcKeyByRequest(db, requestId);
  return row && Buffer.from(row.public_spki);
}
