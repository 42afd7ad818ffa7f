// Signing on worker threads for the load seeder: each thread opens the issuing CA's software key
// through the normal signer code (SoftwareSigner, the stored KeyRef and passphrase) and signs the
// TBSCertificates it is sent, so the main thread builds and records rows while they are signed.
import { Worker } from 'node:worker_threads';
import type { KeyRef } from '../../src/signer/signer.js';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { openSigner } = await import(workerData.signerModule);
  const signer = await openSigner(workerData.ref, { dataDir: workerData.dataDir, passphrase: () => workerData.passphrase, pkcs11Pin: () => '' });
  parentPort.on('message', (m) => {
    const sigs = m.tbs.map((t) => signer.signSync(Buffer.from(t.buffer, t.byteOffset, t.byteLength)));
    parentPort.postMessage({ id: m.id, sigs });
  });
  parentPort.postMessage({ ready: true });
})().catch((e) => { throw e; });
`;

export class SignPool {
  private readonly workers: Worker[] = [];
  private next = 0;
  private readonly waiting = new Map<number, (sigs: Buffer[]) => void>();
  private readonly ready: Promise<unknown>;

  constructor(threads: number, ref: KeyRef, dataDir: string, passphrase: string) {
    // under tsx the signer module is TypeScript: register tsx's loader in the thread first
    const ts = import.meta.url.endsWith('.ts');
    const signerModule = new URL(`../../src/signer/open-signer.${ts ? 'ts' : 'js'}`, import.meta.url).href;
    const code = ts
      ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); ${WORKER} });`
      : WORKER;
    const ready: Promise<unknown>[] = [];
    for (let i = 0; i < threads; i++) {
      const w = new Worker(code, { eval: true, workerData: { ref, dataDir, passphrase, signerModule } });
      ready.push(
        new Promise((resolve, reject) => {
          w.once('error', reject);
          w.on('message', (m: { ready?: boolean; id?: number; sigs?: Uint8Array[] }) => {
            if (m.ready) return resolve(undefined);
            const done = this.waiting.get(m.id!);
            this.waiting.delete(m.id!);
            done?.(m.sigs!.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength)));
          });
        }),
      );
      this.workers.push(w);
    }
    this.ready = Promise.all(ready);
  }

  /** Signatures of `tbs`, in order, spread over the threads. */
  async sign(tbs: Buffer[]): Promise<Buffer[]> {
    await this.ready;
    const n = this.workers.length;
    const per = Math.ceil(tbs.length / n);
    const parts = await Promise.all(
      this.workers.map(
        (w, k) =>
          new Promise<Buffer[]>((resolve) => {
            const id = this.next++;
            this.waiting.set(id, resolve);
            w.postMessage({ id, tbs: tbs.slice(k * per, (k + 1) * per) });
          }),
      ),
    );
    return parts.flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
