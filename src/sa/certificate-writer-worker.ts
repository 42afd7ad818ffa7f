// The SQLite writer thread of CertificateWriter (src/sa/certificate-writer.ts): its own connection to the
// same database file, opened like any other (WAL, synchronous=FULL), writing the batches it is sent
// and answering each only after its transaction has committed.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import {
  serializeError,
  writeCertificates,
  type CertificateWrite,
  type WriterReply,
  type WriterRequest,
} from './certificate-writer.js';
import { openDatabase, type Storage } from './database.js';

/** At most this many certificates per transaction when several batches are waiting. */
const MAX_TRANSACTION = 1024;

const port = parentPort!;
const reply = (m: WriterReply): void => port.postMessage(m);

let storage: Storage;
try {
  storage = await openDatabase({ dataDir: (workerData as { dataDir: string }).dataDir, migrate: false });
} catch (e) {
  reply({ type: 'failed', error: serializeError(e) });
  throw e;
}

const queue: Extract<WriterRequest, { type: 'write' }>[] = [];
let closing = false;
let running = false;

function accept(m: WriterRequest): void {
  if (m.type === 'close') closing = true;
  else queue.push(m);
}

async function run(): Promise<void> {
  if (running) return;
  running = true;
  try {
    for (;;) {
      // Batches that arrived while the last transaction ran go into the next one together.
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) accept(m.message as WriterRequest);
      if (queue.length === 0) break;
      const group: typeof queue = [];
      let n = 0;
      while (queue.length > 0 && (group.length === 0 || n + queue[0]!.items.length <= MAX_TRANSACTION)) {
        const m = queue.shift()!;
        group.push(m);
        n += m.items.length;
      }
      const items: CertificateWrite[] = group.flatMap((m) => m.items);
      let errors: (unknown | null)[];
      try {
        errors = await writeCertificates(storage, items);
      } catch (e) {
        errors = items.map(() => e);
      }
      let i = 0;
      for (const m of group) {
        const mine = errors.slice(i, i + m.items.length);
        i += m.items.length;
        reply({ type: 'done', id: m.id, errors: mine.map((e) => (e === null || e === undefined ? null : serializeError(e))) });
      }
    }
  } finally {
    running = false;
  }
  if (closing) {
    await storage.close();
    port.close();
  }
}

port.on('message', (m: WriterRequest) => {
  accept(m);
  void run();
});
reply({ type: 'ready' });
