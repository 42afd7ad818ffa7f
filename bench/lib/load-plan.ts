// The layout of seeded load data (bench/seed-load.ts): every row is a pure function of its index and
// the plan stored in the database, so a rerun after a kill rebuilds exactly the rows still missing
// and the benchmark can name seeded serials and holders without scanning for them.
import { createHmac, hash } from 'node:crypto';
import { canonicalOrder, encodeName, nameToString, type NameAttribute } from '../../src/pki/name.js';

export const PLAN_KEY = 'load_seed';
const DAY_MS = 86_400_000;
/** a certificate lives a year and a day: the next one of its holder is issued before it ends */
const LIFETIME_MS = 366 * DAY_MS;
const REASONS = [1, 4, 5, 3, 0]; // keyCompromise, superseded, cessationOfOperation, affiliationChanged, unspecified
const CITIES = ['上海', '北京', '广州', '深圳', '杭州', '南京', '苏州', '成都'];
const TRADES = ['信息技术', '贸易', '建设工程', '医药', '物流', '咨询', '电子', '教育'];

/** What the database records about its seeding (settings row `load_seed`, JSON). */
export interface LoadPlanData {
  certificates: number;
  holders: number;
  revokedFraction: number;
  /** hex HMAC key: the pseudo-random part of serials and the revocation draw */
  key: string;
  /** issued_at of row 0 (ms); rows ascend from here to `end` */
  start: number;
  end: number;
  /** id of holder 0; holder h has id holderBase + h */
  holderBase: number;
  /** subject public keys (base64 SPKI DER) the certificates use in turn */
  spkis: string[];
  /** rows committed: 0 ≤ done ≤ certificates */
  done: number;
  holdersDone: number;
}

export interface HolderRow {
  id: number;
  kind: 'org' | 'person';
  name: string;
  unique_id: string;
  created_at: number;
}

export interface CertificateFields {
  serial: string;
  serialBytes: Buffer;
  holder: number;
  kind: 'org' | 'person';
  profile: string;
  subject: NameAttribute[];
  uniqueId: string;
  issuedAt: number;
  notBefore: number;
  notAfter: number;
  revokedAt: number | null;
  reason: number | null;
  renewsSerial: string | null;
  /** the renewal order that issued it (the last certificate of a holder that has an earlier one) */
  orderId: string | null;
  spkiIndex: number;
}

export class LoadPlan {
  private readonly key: Buffer;
  readonly tag: string;
  readonly generations: number;
  private readonly spkiHashes: string[];
  readonly spkiDer: Buffer[];

  constructor(readonly data: LoadPlanData) {
    this.key = Buffer.from(data.key, 'hex');
    this.tag = data.key.slice(0, 6).toUpperCase();
    this.generations = Math.ceil(data.certificates / data.holders);
    this.spkiDer = data.spkis.map((s) => Buffer.from(s, 'base64'));
    this.spkiHashes = this.spkiDer.map((d) => hash('sha256', d, 'hex'));
  }

  /** A plan for `certificates` rows over `holders` holders, issued over the years before `now`. */
  static create(o: {
    certificates: number;
    holders: number;
    revokedFraction: number;
    key: string;
    holderBase: number;
    spkis: string[];
    now: number;
  }): LoadPlanData {
    const generations = Math.ceil(o.certificates / o.holders);
    // each generation of certificates a year: the last one issued over the year up to now
    const end = Math.floor(o.now / 1000) * 1000 - 3600_000;
    return {
      certificates: o.certificates,
      holders: o.holders,
      revokedFraction: o.revokedFraction,
      key: o.key,
      start: end - generations * 365 * DAY_MS,
      end,
      holderBase: o.holderBase,
      spkis: o.spkis,
      done: 0,
      holdersDone: 0,
    };
  }

  holder(h: number): HolderRow {
    const kind = h % 5 === 4 ? 'person' : 'org';
    const name =
      kind === 'org'
        ? `${CITIES[h % CITIES.length]}${TRADES[Math.floor(h / 8) % TRADES.length]}负载第${h}有限公司`
        : `负载用户${h}`;
    return {
      id: this.data.holderBase + h,
      kind,
      name,
      unique_id: `LOAD-${this.tag}-${h}`,
      created_at: this.issuedAt(h) - DAY_MS,
    };
  }

  private draw(i: number): Buffer {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(i));
    return createHmac('sha256', this.key).update(b).digest();
  }

  issuedAt(i: number): number {
    const { start, end, certificates } = this.data;
    return start + Math.floor((i / certificates) * (end - start));
  }

  /**
   * The serial of row i, shaped like randomSerial(): 48 bits of issuance time, then 80 bits (here from
   * an HMAC of the index instead of the CSPRNG), 16 octets, positive.
   */
  serialBytes(i: number, d = this.draw(i)): Buffer {
    const b = Buffer.allocUnsafe(16);
    b.writeUIntBE(this.issuedAt(i) % 2 ** 48, 0, 6);
    d.copy(b, 6, 0, 10);
    b[0]! &= 0x7f;
    if (b[0] === 0) b[0] = 0x01;
    return b;
  }

  serial(i: number): string {
    return this.serialBytes(i).toString('hex');
  }

  spkiHash(i: number): string {
    return this.spkiHashes[i % this.spkiHashes.length]!;
  }

  /** Everything about certificate row i except its signature. */
  certificate(i: number): CertificateFields {
    const { holders, certificates, revokedFraction } = this.data;
    const d = this.draw(i);
    const serialBytes = this.serialBytes(i, d);
    const h = i % holders;
    const holder = this.holder(h);
    const issuedAt = this.issuedAt(i);
    const notBefore = Math.floor(issuedAt / 1000) * 1000 - 60_000;
    const notAfter = notBefore + LIFETIME_MS;
    const u = d.readUInt32BE(10) / 2 ** 32;
    let revokedAt: number | null = null;
    let reason: number | null = null;
    if (u < revokedFraction) {
      // revoked some time between issuance and the end of its life or the plan's end
      const f = d.readUInt32BE(14) / 2 ** 32;
      revokedAt = Math.floor((issuedAt + f * (Math.min(notAfter, this.data.end) - issuedAt)) / 1000) * 1000;
      reason = REASONS[d[18]! % REASONS.length]!;
    }
    const subject = canonicalOrder(
      holder.kind === 'org'
        ? [
            { type: 'C', value: 'CN' },
            { type: 'O', value: holder.name },
            { type: 'CN', value: holder.name },
            { type: 'serialNumber', value: holder.unique_id },
          ]
        : [
            { type: 'C', value: 'CN' },
            { type: 'CN', value: holder.name },
            { type: 'serialNumber', value: holder.unique_id },
          ],
    );
    const renews = i >= holders ? this.serial(i - holders) : null;
    const last = i + holders >= certificates;
    return {
      serial: serialBytes.toString('hex'),
      serialBytes,
      holder: holder.id,
      kind: holder.kind,
      profile: holder.kind === 'org' ? 'org-identity' : 'personal-identity',
      subject,
      uniqueId: holder.unique_id,
      issuedAt,
      notBefore,
      notAfter,
      revokedAt,
      reason,
      renewsSerial: renews,
      orderId: renews && last ? this.orderId(i) : null,
      spkiIndex: i % this.spkiDer.length,
    };
  }

  orderId(i: number): string {
    const day = new Date(this.issuedAt(i)).toISOString().slice(0, 10).replace(/-/g, '');
    return `R${day}-L${this.tag}${i.toString(36).toUpperCase()}`;
  }

  /** The seeded certificate rows of holder h (indexes), oldest first. */
  rowsOfHolder(h: number): number[] {
    const out: number[] = [];
    for (let i = h; i < this.data.certificates; i += this.data.holders) out.push(i);
    return out;
  }
}

export const subjectText = (attrs: NameAttribute[]): string => nameToString(attrs);
export const subjectDer = (attrs: NameAttribute[]): Buffer => encodeName(attrs);
