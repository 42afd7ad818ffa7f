// All drivers behind one list, polled for insertion and removal (PKCS#11 has C_WaitForSlotEvent, but
// few modules implement it well and it blocks a thread; a 1 s poll is cheap and works everywhere).
// Emits 'inserted' / 'removed' / 'changed' with the token summary; the server forwards them as
// Server-Sent Events.
import { EventEmitter } from 'node:events';
import { TokenError, type TokenDriver, type TokenSummary } from './driver.js';

export interface TokenEvent {
  type: 'inserted' | 'removed' | 'changed';
  token: TokenSummary;
}

const fingerprint = (t: TokenSummary): string => JSON.stringify([t.label, t.pin]);

export class TokenRegistry extends EventEmitter<{ event: [TokenEvent] }> {
  private current = new Map<string, TokenSummary>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<TokenSummary[]> | undefined;

  constructor(
    readonly drivers: TokenDriver[],
    private readonly pollMs = 1000,
  ) {
    super();
  }

  /** Lists every driver's tokens now and emits events for what changed since the last look. */
  refresh(): Promise<TokenSummary[]> {
    // Concurrent callers share one listing.
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<TokenSummary[]> {
    const all: TokenSummary[] = [];
    for (const d of this.drivers) {
      try {
        all.push(...(await d.list()));
      } catch {
        // a driver that fails to list (module gone) shows no tokens until it recovers
      }
    }
    const next = new Map(all.map((t) => [t.id, t]));
    const events: TokenEvent[] = [];
    for (const [id, t] of this.current) if (!next.has(id)) events.push({ type: 'removed', token: t });
    for (const [id, t] of next) {
      const before = this.current.get(id);
      if (!before) events.push({ type: 'inserted', token: t });
      else if (fingerprint(before) !== fingerprint(t)) events.push({ type: 'changed', token: t });
    }
    this.current = next;
    for (const e of events) this.emit('event', e);
    return all;
  }

  /** The tokens seen at the last refresh. */
  get tokens(): TokenSummary[] {
    return [...this.current.values()];
  }

  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      void this.refresh().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.pollMs).unref();
      });
    };
    this.timer = setTimeout(tick, this.pollMs).unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  driverFor(tokenId: string): TokenDriver {
    const d = this.drivers.find((x) => x.owns(tokenId));
    if (!d) throw new TokenError(`unknown key id ${JSON.stringify(tokenId)}`, 'TOKEN_NOT_FOUND');
    return d;
  }

  /** The token with this id, present now (refreshes the list first). */
  async get(tokenId: string): Promise<{ driver: TokenDriver; token: TokenSummary }> {
    const driver = this.driverFor(tokenId);
    const token = (await this.refresh()).find((t) => t.id === tokenId);
    if (!token) throw new TokenError(`key ${tokenId} is not inserted`, 'TOKEN_NOT_FOUND');
    return { driver, token };
  }

  async close(): Promise<void> {
    this.stop();
    for (const d of this.drivers) await d.close();
  }
}
