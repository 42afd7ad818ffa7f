// `npm run bench:renewal` — the renewal as holders live it, with the machine alone in the loop:
//  1. one holder at a time (BENCH_RENEWALS, default 100): from the payment notification reaching
//     `certdesk serve` to the new certificate issued, written and verified on a soft token by the key
//     assistant (`certdesk agent`, its PIN approval answered at once: no browser clicks) and the order
//     completed. p95 (goal ≤ 1.5 s).
//  2. BENCH_HOLDERS (default 200) holders at once through the HTTP API, each: login challenge, login,
//     order, payment notification, issue, installed (keys and signatures in this process, as the
//     assistant would make them). 0 errors; p99 of each step (goal ≤ 250 ms). Baseline in the same
//     run: GET /healthz at the same concurrency, which is what the machine's HTTP round trip costs.
//     BENCH_HOLDER_ROUNDS (default 3) rounds with fresh holders; the goal is judged on the median
//     round's worst step (one round swings ±30% on a shared 2-core machine).
//     BENCH_STEPWISE=1: all holders take each step together, the next only once all have answered,
//     and the server's CPU per holder is printed per step (where the time goes, not the goal's figure).
// The server and the assistant are child processes (the built CLI: dist/); this process plays the
// portal page and the gateway. BENCH_DATABASE=postgres uses TEST_DATABASE_URL. Prints only: no
// assertions on speed; exits non-zero on an error (a failed step, a token not holding the new pair).
import http from 'node:http';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseCertificate } from '../src/pki/certificate.js';
import {
  AgentClient,
  driveRenewal,
  loginWithAgent,
  PORTAL,
  softTokenWithCertificate,
  startAgentProcess,
  workingPairsSoft,
} from '../test/helpers/agent.js';
import { createTestCa, type TestCa } from '../test/helpers/ca.js';
import {
  createHolder,
  ORDER_FORM,
  PortalClient,
  SANDBOX_NOTIFY_PATH,
  sandboxNotificationBody,
  sendSandboxNotification,
  type NewKeyRequest,
  type TestHolder,
} from '../test/helpers/holder.js';
import { BUILT_CLI, freePort, run } from '../test/helpers/processes.js';
import { BenchError, fmt, median, percentile, processCpuUs, treeCpuSeconds } from './lib/common.js';

const RENEWALS = Number(process.env.BENCH_RENEWALS ?? 100);
const HOLDERS = Number(process.env.BENCH_HOLDERS ?? 200);
/** BENCH_HOLDER_ROUNDS: phase 2 this many times, fresh holders each time; judged on the median round */
const HOLDER_ROUNDS = Number(process.env.BENCH_HOLDER_ROUNDS ?? 3);
/** BENCH_WORKERS=N: `serve --workers N` (default 1: one server process) */
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const PIN = '864209';
const STEPWISE = process.env.BENCH_STEPWISE === '1';
const postgres = process.env.BENCH_DATABASE === 'postgres';
// holders' addresses are 10.2.x.y in phase 1 and 10.(2 + round).x.y in phase 2's rounds
if (!Number.isInteger(HOLDER_ROUNDS) || HOLDER_ROUNDS < 1 || HOLDER_ROUNDS > 250)
  throw new BenchError(`BENCH_HOLDER_ROUNDS must be a whole number from 1 to 250, got ${process.env.BENCH_HOLDER_ROUNDS}`);
if (!Number.isInteger(HOLDERS) || HOLDERS < 1 || HOLDERS > 65_536)
  throw new BenchError(`BENCH_HOLDERS must be a whole number from 1 to 65536, got ${process.env.BENCH_HOLDERS}`);
if (postgres && !process.env.TEST_DATABASE_URL) throw new BenchError('BENCH_DATABASE=postgres needs TEST_DATABASE_URL');

/** A holder's portal page behind the proxy, which names the holder's own address (per-client login limits). */
class ForwardedPortal extends PortalClient {
  constructor(
    base: string,
    origin: string,
    private readonly address: string,
  ) {
    super(base, origin);
  }
  override call<T = Record<string, unknown>>(method: string, p: string, body?: unknown, extra: Record<string, string> = {}) {
    return super.call<T>(method, p, body, { 'x-forwarded-for': this.address, ...extra });
  }
}

/**
 * Phase 2's holders: node:http on kept-alive connections instead of fetch. The 200 browsers are one
 * process here, on the same two cores as the server; fetch cost this process ~2 ms of CPU per step,
 * which the steps' times then include as waits in its own event loop.
 */
class KeepAliveHolder {
  private static readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  cookie = '';
  csrf = '';
  constructor(
    private readonly port: number,
    private readonly origin: string,
    private readonly address: string,
  ) {}

  call<T = Record<string, unknown>>(
    method: string,
    p: string,
    body?: string,
    contentType = 'application/json',
  ): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { origin: this.origin, 'x-forwarded-for': this.address };
    if (this.cookie) headers.cookie = this.cookie;
    if (this.csrf) headers['x-csrf-token'] = this.csrf;
    if (body !== undefined) headers['content-type'] = contentType;
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: this.port, method, path: p, headers, agent: KeepAliveHolder.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const set = res.headers['set-cookie']?.[0];
            if (set) this.cookie = set.split(';')[0]!;
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // the gateway's notification answer is plain text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  json<T = Record<string, unknown>>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
    return this.call<T>(method, p, body === undefined ? undefined : JSON.stringify(body));
  }
}

const STEPS = ['challenge', 'login', 'order', 'notification', 'issue', 'installed'] as const;
type Step = (typeof STEPS)[number];

/** One of phase 2's holders: its key and client, and what its steps so far answered. */
interface HolderRun {
  h: TestHolder;
  c: KeepAliveHolder;
  challenge?: string;
  order?: { id: string; amountFen: number };
  /** the new key and CSR, made before the clock starts */
  newKey?: NewKeyRequest;
  request?: { csr: Buffer; proof: Buffer };
}

type Answer = { status: number; body: unknown };

/** Each step: what the holder's side makes first (untimed: the assistant's work on the holder's PC), then the timed request. */
function holderSteps(
  ca: TestCa,
): Record<Step, { prepare?: (r: HolderRun) => Promise<void>; call: (r: HolderRun) => Promise<Answer> }> {
  return {
    challenge: {
      call: async (r) => {
        const a = await r.c.json<{ challenge: string }>('POST', '/api/portal/login/challenge');
        r.challenge = a.body.challenge;
        return a;
      },
    },
    login: {
      call: async (r) => {
        const a = await r.c.json<{ csrfToken: string }>('POST', '/api/portal/login', {
          challenge: r.challenge,
          signature: r.h.signLogin(r.challenge!).toString('base64'),
          certificate: r.h.certDer.toString('base64'),
        });
        r.c.csrf = a.body.csrfToken;
        return a;
      },
    },
    order: {
      call: async (r) => {
        const a = await r.c.json<{ order: { id: string; amountFen: number } }>('POST', '/api/portal/orders', ORDER_FORM);
        r.order = a.body.order;
        return a;
      },
    },
    notification: {
      call: async (r) => {
        const n = await r.c.call<string>(
          'POST',
          SANDBOX_NOTIFY_PATH,
          sandboxNotificationBody(ca, r.order!),
          'application/x-www-form-urlencoded',
        );
        return { status: n.body === 'success' ? 200 : n.status || 500, body: n.body };
      },
    },
    issue: {
      // the new key and its CSR were made before the clock started (on each holder's own token);
      // only the proof needs the order
      prepare: (r) => {
        r.request = { csr: r.newKey!.csr, proof: r.h.renewalProof(r.order!.id, r.newKey!.csr) };
        return Promise.resolve();
      },
      call: (r) =>
        r.c.json('POST', `/api/portal/orders/${r.order!.id}/issue`, {
          csr: r.request!.csr.toString('base64'),
          proof: r.request!.proof.toString('base64'),
        }),
    },
    installed: { call: (r) => r.c.json('POST', `/api/portal/orders/${r.order!.id}/installed`) },
  };
}

const ms = (t0: number): number => performance.now() - t0;

/** The server's count of SQL statements so far (GET /metrics: certdesk_db_statements_total). */
async function statementsSoFar(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const n = /^certdesk_db_statements_total (\d+)$/m.exec(text)?.[1];
  if (n === undefined) throw new BenchError('GET /metrics has no certdesk_db_statements_total');
  return Number(n);
}
const sorted = (a: number[]): number[] => [...a].sort((x, y) => x - y);
const line = (name: string, a: number[]): string => {
  const s = sorted(a);
  return `${name.padEnd(22)} p50 ${fmt(percentile(s, 50)).padStart(6)} ms   p95 ${fmt(percentile(s, 95)).padStart(6)} ms   p99 ${fmt(percentile(s, 99)).padStart(6)} ms   max ${fmt(s.at(-1)!).padStart(6)} ms`;
};

/** One round of phase 2: fresh holders, all of them renewing at once. */
interface HolderRound {
  times: Map<Step, number[]>;
  errors: string[];
  healthz: number[];
  wallMs: number;
  serverCpuMs: number;
  /** with --workers each process counts its own: left out then */
  statements: number | undefined;
  clientCpuMs: number;
  clientLoopP99Ms: number;
  clientLoopMaxMs: number;
  worstP99: number;
}

async function holdersAtOnce(
  ca: TestCa,
  port: number,
  serverPid: number | undefined,
  steps: ReturnType<typeof holderSteps>,
  round: number,
): Promise<HolderRound> {
  const holders: TestHolder[] = [];
  for (let i = 0; i < HOLDERS; i++) holders.push(await createHolder(ca, { name: `并发${round}-${i}`, days: 30 }));
  const healthz = await Promise.all(
    holders.map(async () => {
      const t0 = performance.now();
      // on the holders' kept-alive connections, which this opens
      await new KeepAliveHolder(port, PORTAL, '127.0.0.1').call('GET', '/healthz');
      return ms(t0);
    }),
  );
  const times = new Map<Step, number[]>(STEPS.map((s) => [s, []]));
  const errors: string[] = [];
  const runs: HolderRun[] = [];
  for (const [i, h] of holders.entries())
    runs.push({
      h,
      // each round its own addresses: the per-address login limit counts across rounds
      c: new KeepAliveHolder(port, new URL(ca.config.publicUrl).origin, `10.${2 + round}.${i >> 8}.${i & 255}`),
      // 200 key pairs and CSRs are 200 tokens' work, ~60 ms of this one client's event loop
      newKey: await h.newKeyRequest(),
    });
  // this process's own event-loop delay: a step's time includes the client's waits, not only the
  // server's (enabled after the keys above, which hold this loop ~60 ms before the clock starts)
  const clientLoop = monitorEventLoopDelay({ resolution: 10 });
  clientLoop.enable();
  // read before the clock starts: one process's count (with --workers each answers with its own)
  const statements0 = WORKERS === 1 ? await statementsSoFar(port) : undefined;
  const wall = performance.now();
  const cpu0 = treeCpuSeconds(serverPid);
  const clientCpu0 = processCpuUs();
  /** One step of one holder, timed from its request to its answer; false when it failed. */
  const take = async (r: HolderRun, name: Step): Promise<boolean> => {
    try {
      const { prepare, call } = steps[name];
      await prepare?.(r);
      const t0 = performance.now();
      const res = await call(r);
      times.get(name)!.push(ms(t0));
      if (res.status < 200 || res.status > 299) throw new Error(`${name}: ${res.status} ${JSON.stringify(res.body)}`);
      return true;
    } catch (e) {
      const cause = (e as Error & { cause?: Error & { code?: string } }).cause;
      errors.push(`${(e as Error).message}${cause ? ` (${cause.code ?? ''} ${cause.message})` : ''}`);
      return false;
    }
  };
  if (STEPWISE) {
    // all holders take a step together, the next once every one has answered: the server's CPU per step
    let alive = runs;
    for (const name of STEPS) {
      const s0 = await statementsSoFar(port);
      const c0 = treeCpuSeconds(serverPid);
      const w0 = performance.now();
      const ok = await Promise.all(alive.map((r) => take(r, name)));
      const cpuMs = (treeCpuSeconds(serverPid) - c0) * 1000;
      const wMs = ms(w0);
      const statements = (await statementsSoFar(port)) - s0;
      alive = alive.filter((_r, i) => ok[i]);
      console.log(
        `   step by step: ${name.padEnd(13)} server CPU ${fmt(cpuMs / runs.length, 2)} ms and ${fmt(statements / runs.length, 1)} SQL statements per holder, all ${runs.length} answered in ${fmt(wMs)} ms`,
      );
    }
  } else
    await Promise.all(
      runs.map(async (r) => {
        for (const name of STEPS) if (!(await take(r, name))) return;
      }),
    );
  const wallMs = ms(wall);
  clientLoop.disable();
  const serverCpuMs = (treeCpuSeconds(serverPid) - cpu0) * 1000;
  const statements = statements0 === undefined ? undefined : (await statementsSoFar(port)) - statements0;
  const clientCpuMs = (processCpuUs() - clientCpu0) / 1000;
  return {
    times,
    errors,
    healthz,
    wallMs,
    serverCpuMs,
    statements,
    clientCpuMs,
    clientLoopP99Ms: clientLoop.percentile(99) / 1e6,
    clientLoopMaxMs: clientLoop.max / 1e6,
    worstP99: Math.max(...STEPS.map((step) => percentile(sorted(times.get(step)!), 99))),
  };
}

async function main(): Promise<void> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const ca = await createTestCa({
    port,
    postgres,
    // the bench sends the gateway's notifications itself; holders come through a proxy that names them
    env: {
      PORTAL_ORIGINS: PORTAL,
      SANDBOX_NOTIFY: 'off',
      TRUST_PROXY: '127.0.0.1',
      LOG_LEVEL: 'warn',
      WORKERS: String(WORKERS),
    },
  });
  // BENCH_SERVER_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server (NODE_OPTIONS refuses --cpu-prof)
  const server = run(
    process.execPath,
    [...(process.env.BENCH_SERVER_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), BUILT_CLI, 'serve'],
    { env: ca.env },
  );
  const agentProcs: Awaited<ReturnType<typeof startAgentProcess>>[] = [];
  try {
    for (let i = 0; i < 300 && !(await fetch(`${base}/healthz`).catch(() => undefined))?.ok; i++)
      await new Promise((r) => setTimeout(r, 100));
    console.log(
      `bench:renewal — certdesk serve (${postgres ? 'PostgreSQL' : 'SQLite'}${WORKERS > 1 ? `, --workers ${WORKERS}` : ''}) and certdesk agent as child processes, ${new Date().toISOString()}`,
    );

    // ---- 1. one holder at a time, notification → installed on the soft token --------------------
    // Soft tokens of 10 holders per assistant (each renewal lists the assistant's tokens).
    const perAgent = 10;
    const tokens: { file: string; tokenId: string; agent: AgentClient }[] = [];
    for (let g = 0; g * perAgent < RENEWALS; g++) {
      const files: string[] = [];
      const ids: string[] = [];
      for (let i = g * perAgent; i < Math.min(RENEWALS, (g + 1) * perAgent); i++) {
        const file = path.join(ca.dir, `token-${i}.json`);
        ids.push((await softTokenWithCertificate(ca, file, { pin: PIN, days: 30, tokenLabel: `企业${i}` })).tokenId);
        files.push(file);
      }
      const proc = await startAgentProcess([
        ...files.flatMap((f) => ['--soft-token', f]),
        '--journal-dir',
        path.join(ca.dir, `journal-${g}`),
      ]);
      agentProcs.push(proc);
      const agent = new AgentClient(proc.url);
      files.forEach((file, k) => tokens.push({ file, tokenId: ids[k]!, agent }));
    }
    const total: number[] = [];
    const issue: number[] = [];
    const notify: number[] = [];
    for (const [i, t] of tokens.entries()) {
      const portal = new ForwardedPortal(base, PORTAL, `10.2.${i >> 8}.${i & 255}`);
      const { certificateId } = await loginWithAgent(portal, t.agent, PIN, t.tokenId);
      const created = await portal.call<{ order: { id: string; amountFen: number } }>('POST', '/api/portal/orders', ORDER_FORM);
      if (created.status !== 201) throw new BenchError(`order: ${created.status} ${JSON.stringify(created.body)}`);
      const order = created.body.order;

      const t0 = performance.now();
      const n = await sendSandboxNotification(ca, base, order);
      if (n.text !== 'success') throw new BenchError(`notification: ${n.status} ${n.text}`);
      notify.push(ms(t0));
      const done = await driveRenewal(t.agent, {
        tokenId: t.tokenId,
        orderId: order.id,
        pin: PIN,
        certificateId,
        issue: async (csr, proof) => {
          const ti = performance.now();
          const r = await portal.call<{ certificate: string }>('POST', `/api/portal/orders/${order.id}/issue`, {
            csr: csr.toString('base64'),
            proof: proof.toString('base64'),
          });
          if (r.status !== 200) throw new BenchError(`issue: ${r.status} ${JSON.stringify(r.body)}`);
          issue.push(ms(ti));
          return Buffer.from(r.body.certificate, 'base64');
        },
      });
      if (done.status !== 'done') throw new BenchError(`renewal ${order.id}: ${JSON.stringify(done)}`);
      const inst = await portal.call<{ order: { state: string } }>('POST', `/api/portal/orders/${order.id}/installed`);
      if (inst.status !== 200 || inst.body.order.state !== 'completed')
        throw new BenchError(`installed: ${inst.status} ${JSON.stringify(inst.body)}`);
      total.push(ms(t0));
    }
    // afterwards: every token holds exactly its new pair, the one the CA recorded for the order
    for (const t of tokens) {
      const pairs = await workingPairsSoft(t.file, PIN);
      if (pairs.pairs.length !== 1) throw new BenchError(`${t.file}: ${pairs.pairs.length} working pairs`);
      const serial = parseCertificate(pairs.pairs[0]!.certificate).serialHex;
      const rec = await ca.rt.storage.db
        .selectFrom('certificates')
        .select('order_id')
        .where('serial', '=', serial)
        .executeTakeFirst();
      if (!rec?.order_id) throw new BenchError(`${t.file}: its certificate ${serial} is not one issued for an order`);
    }
    const p95 = percentile(sorted(total), 95);
    console.log(`\n1. ${RENEWALS} renewals one after another, notification → installed and verified on the soft token`);
    console.log(`   ${line('whole renewal', total)}`);
    console.log(`   ${line('  notification', notify)}`);
    console.log(`   ${line('  issue (HTTP)', issue)}`);
    console.log(
      `   p95 ${fmt(p95)} ms; goal ≤ 1,500 ms: ${p95 <= 1500 ? 'met' : 'NOT met'}; every token holds exactly its new pair: yes`,
    );

    // ---- 2. many holders at once through the HTTP API, HOLDER_ROUNDS times -------------------------
    const steps = holderSteps(ca);
    const rounds: HolderRound[] = [];
    for (let round = 1; round <= HOLDER_ROUNDS; round++) {
      const r = await holdersAtOnce(ca, port, server.proc.pid, steps, round);
      rounds.push(r);
      console.log(
        `\n2. ${HOLDERS} holders renewing at once through the HTTP API, round ${round}/${HOLDER_ROUNDS} (${fmt(r.wallMs / 1000, 1)} s wall; server CPU ${fmt(r.serverCpuMs / HOLDERS, 1)} ms per holder, all threads${r.statements === undefined ? '' : `, ${fmt(r.statements / HOLDERS, 1)} SQL statements per holder`}; this client ${fmt(r.clientCpuMs / HOLDERS, 1)} ms)`,
      );
      for (const step of STEPS) console.log(`   ${line(step, r.times.get(step)!)}`);
      console.log(`   ${line('baseline GET /healthz', r.healthz)}   (${HOLDERS} at once)`);
      console.log(`   this client's event-loop delay: p99 ${fmt(r.clientLoopP99Ms)} ms, max ${fmt(r.clientLoopMaxMs)} ms`);
      console.log(
        `   errors ${r.errors.length}${r.errors.length ? ` (${[...new Set(r.errors.map((e) => e.replace(/R\d{8}-\w+/g, 'R…')))].slice(0, 3).join('; ')})` : ''}; worst step p99 ${fmt(r.worstP99)} ms`,
      );
    }
    const errors = rounds.reduce((n, r) => n + r.errors.length, 0);
    const worst = rounds.map((r) => r.worstP99);
    const medianWorst = median(worst);
    console.log(
      `\n   ${HOLDERS} holders at once, ${HOLDER_ROUNDS} round(s): worst step p99 ${worst.map((w) => fmt(w)).join(', ')} ms, median ${fmt(medianWorst)} ms; errors ${errors}; goal 0 errors and ≤ 250 ms (median of rounds): ${errors === 0 && medianWorst <= 250 ? 'met' : 'NOT met'}`,
    );
    const issued = await ca.rt.storage.db
      .selectFrom('certificates')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('order_id', 'is not', null)
      .executeTakeFirstOrThrow();
    const expected = RENEWALS + HOLDERS * HOLDER_ROUNDS;
    console.log(
      `   certificates issued for orders in all: ${Number(issued.n)} (${RENEWALS} + ${HOLDERS} × ${HOLDER_ROUNDS} expected)`,
    );
    if (errors) {
      process.exitCode = 1;
      const logged = server
        .out()
        .split('\n')
        .filter((l) => l.includes('"level":50'));
      console.log(`   server errors (${logged.length}), first: ${logged[0]?.slice(0, 1500)}`);
    }
    if (errors === 0 && Number(issued.n) !== expected) throw new BenchError('issued certificates do not match the renewals');
  } finally {
    for (const a of agentProcs) await a.stop();
    await server.stop();
    await ca.cleanup();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof BenchError ? `bench:renewal: ${e.message}` : e);
  process.exit(1);
});
