// Scheduled CRL publication: every CRL issuer gets a fresh CRL when its newest one is older than the
// refresh interval. Checking the stored CRL first keeps several instances from all signing one.
import type { Runtime } from '../runtime.js';
import { latestCrl } from '../sa/crls.js';

export function startCrlRefresher(rt: Runtime, onPublished: () => void, log: (msg: string, err?: unknown) => void): () => void {
  const intervalMs = rt.config.crlRefreshSeconds * 1000;
  let running = false;
  const tick = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      for (const ca of rt.ca.crlIssuers()) {
        const crl = await latestCrl(rt.storage.db, ca.record.id);
        if (!crl || Date.now() - crl.this_update >= intervalMs * 0.9) {
          await rt.ca.generateCrl(ca.record.id, 'system:crl-refresher');
          onPublished();
        }
      }
    } catch (e) {
      log('CRL refresh failed', e);
    } finally {
      running = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), Math.min(intervalMs, 60_000));
  timer.unref();
  return () => clearInterval(timer);
}
