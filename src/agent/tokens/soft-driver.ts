// Soft token files as a TokenDriver. A file that exists is a key that is "inserted"; deleting or
// moving it away is "removing" it. The token id is `soft-<serial>`, so it survives renames and restarts.
import { SoftToken } from './soft-token.js';
import {
  TokenError,
  type ObjectSummary,
  type StoredCertificate,
  type StoredData,
  type TokenDriver,
  type TokenSession,
  type TokenSummary,
} from './driver.js';

export const SOFT_ID_PREFIX = 'soft-';

export class SoftTokenDriver implements TokenDriver {
  readonly kind = 'soft' as const;
  private readonly tokens: SoftToken[];
  /** token id → file, from the last look */
  private readonly byId = new Map<string, SoftToken>();
  /** files that could not be read, with why (reported once per change) */
  readonly problems = new Map<string, string>();

  constructor(files: string[]) {
    this.tokens = files.map((f) => new SoftToken(f));
  }

  owns(tokenId: string): boolean {
    return tokenId.startsWith(SOFT_ID_PREFIX);
  }

  list(): Promise<TokenSummary[]> {
    const out: TokenSummary[] = [];
    this.byId.clear();
    for (const t of this.tokens) {
      if (!t.present) {
        this.problems.delete(t.file);
        continue;
      }
      try {
        const info = t.info();
        const id = `${SOFT_ID_PREFIX}${info.serial}`;
        if (this.byId.has(id)) continue; // the same token listed twice (two paths, one file)
        this.byId.set(id, t);
        this.problems.delete(t.file);
        out.push({
          id,
          kind: 'soft',
          label: info.label,
          serial: info.serial,
          manufacturer: 'certdesk',
          model: 'soft token',
          source: t.file,
          pin: info.pin,
        });
      } catch (e) {
        this.problems.set(t.file, (e as Error).message);
      }
    }
    return Promise.resolve(out);
  }

  private async token(tokenId: string): Promise<SoftToken> {
    let t = this.byId.get(tokenId);
    if (!t) {
      await this.list();
      t = this.byId.get(tokenId);
    }
    if (!t) throw new TokenError(`key ${tokenId} is not inserted (soft token file not found)`, 'TOKEN_NOT_FOUND');
    return t;
  }

  async listPublicObjects(tokenId: string): Promise<ObjectSummary[]> {
    return (await this.token(tokenId)).publicObjects();
  }

  async readCertificates(tokenId: string): Promise<StoredCertificate[]> {
    return (await this.token(tokenId)).certificates();
  }

  async readData(tokenId: string, application: string): Promise<StoredData[]> {
    return (await this.token(tokenId)).dataObjects(application);
  }

  async openSession(tokenId: string, pin: string): Promise<TokenSession> {
    const t = await this.token(tokenId);
    const s = await t.login(pin);
    if (s.tokenId !== tokenId) {
      await s.close();
      throw new TokenError(`the soft token at ${t.file} is now a different key`, 'TOKEN_REMOVED');
    }
    return s;
  }

  async changePin(tokenId: string, oldPin: string, newPin: string): Promise<void> {
    await (await this.token(tokenId)).changePin(oldPin, newPin);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
