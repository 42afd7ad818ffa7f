// `npm run bench:crl` — CRLs at 1M revoked certificates: seeds N revoked certificates (default
// 1,000,000; `--revoked N`) across the issuing CA's CRL shards (`--shards S`, default CRL_SHARDS'
// default) straight into a fresh database, then times a full regeneration of every shard through
// CertificateAuthority.generateCrl (keyset batches, sign, store, audit entry each) and, as the
// baseline in the same run, the one full CRL of the same entries (what the legacy DP costs).
// Prints CPU seconds per 1M entries (process.cpuUsage: this process; on PostgreSQL the server's
// work is not in it), wall time, RSS, shard sizes, and checks one shard and the full CRL with
// `openssl crl -verify`. SQLite by default; `--postgres` uses TEST_DATABASE_URL. No timed assertions.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomSerial } from '../src/ca/certificate-builder.js';
import { loadConfig } from '../src/config/config.js';
import { toPem } from '../src/pki/pem.js';
import type { Storage } from '../src/sa/database.js';
import { createTestCa } from '../test/helpers/ca.js';
import { BenchError, fmt, median, now, processCpuUs } from './lib/common.js';

const GOAL_CPU_PER_MILLION = 5;
const REASONS = [1, 4, 5, 3, 0, 1, 4, 1];

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]?.replace(/_/g, ''));
  if (!Number.isInteger(v) || v < 1) throw new BenchError(`--${name} needs a whole number ≥ 1, got ${process.argv[i + 1]}`);
  return v;
}

const REVOKED = arg('revoked', 1_000_000);
const SHARDS = arg('shards', loadConfig({}).crlShards);
const POSTGRES = process.argv.includes('--postgres');
const BATCH = 10_000;
const mb = (bytes: number): string => `${fmt(bytes / 1048576, 1)} MB`;
/** resourceUsage().maxRSS is in kilobytes: the process's peak so far */
const maxRss = (): number => process.resourceUsage().maxRSS * 1024;

/** Inserts `REVOKED` revoked certificate rows, BATCH at a time, generated per batch (no 1M-row array). */
async function seed(storage: Storage, caId: string): Promise<void> {
  const t = Date.now();
  const row = (i: number) => {
    const revokedAt = Math.floor((t - (i % 300) * 86_400_000 - (i % 86_400) * 1000) / 1000) * 1000;
    return {
      serial: randomSerial(t - 400 * 86_400_000 + i).toString('hex'),
      shard: i % SHARDS,
      revokedAt,
      reason: REASONS[i % REASONS.length]!,
    };
  };
  const fixed = { notBefore: t - 400 * 86_400_000, notAfter: t + 365 * 86_400_000, der: Buffer.from([0x30, 0x00]) };
  if (storage.native.dialect === 'sqlite') {
    const db = storage.native.sqlite;
    const insert = db.prepare(
      `insert into certificates (serial, ca_id, holder_id, profile, subject, not_before, not_after, status, revoked_at,
         revocation_reason, renews_serial, order_id, spki_sha256, der, issued_at, signing_serial, crl_shard)
       values (?, ?, null, 'org-identity', ?, ?, ?, 'revoked', ?, ?, null, null, ?, ?, ?, null, ?)`,
    );
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const r = row(i);
        insert.run(
          r.serial,
          caId,
          `CN=bench ${i}`,
          fixed.notBefore,
          fixed.notAfter,
          r.revokedAt,
          r.reason,
          r.serial,
          fixed.der,
          fixed.notBefore,
          r.shard,
        );
      }
    });
    for (let i = 0; i < REVOKED; i += BATCH) batch(i, Math.min(REVOKED, i + BATCH));
    return;
  }
  const pool = storage.native.pool;
  for (let i = 0; i < REVOKED; i += BATCH) {
    const rows = Array.from({ length: Math.min(BATCH, REVOKED - i) }, (_, k) => row(i + k));
    await pool.query(
      `insert into certificates (serial, ca_id, holder_id, profile, subject, not_before, not_after, status, revoked_at,
         revocation_reason, renews_serial, order_id, spki_sha256, der, issued_at, signing_serial, crl_shard)
       select s, $2, null, 'org-identity', 'CN=bench ' || s, $3, $4, 'revoked', r, c, null, null, s, $5, $3, null, h
       from unnest($1::text[], $6::bigint[], $7::int[], $8::int[]) as u(s, r, c, h)`,
      [
        rows.map((r) => r.serial),
        caId,
        fixed.notBefore,
        fixed.notAfter,
        fixed.der,
        rows.map((r) => r.revokedAt),
        rows.map((r) => r.reason),
        rows.map((r) => r.shard),
      ],
    );
  }
  await pool.query('analyze certificates');
}

function opensslCrlVerify(dir: string, name: string, der: Buffer, caFile: string): string {
  const file = path.join(dir, `${name}.pem`);
  writeFileSync(file, toPem('X509 CRL', der));
  const r = spawnSync('openssl', ['crl', '-in', file, '-noout', '-verify', '-CAfile', caFile], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.trim();
}

async function main(): Promise<void> {
  if (POSTGRES && !process.env.TEST_DATABASE_URL) throw new BenchError('--postgres needs TEST_DATABASE_URL');
  const ca = await createTestCa({ postgres: POSTGRES, env: { CRL_SHARDS: String(SHARDS) } });
  try {
    const rt = ca.rt;
    const issuing = rt.ca.issuing.record.id;
    const caFile = path.join(ca.dir, 'issuing.pem');
    writeFileSync(caFile, ca.issuingPem);
    console.log(
      `bench:crl — ${fmt(REVOKED)} revoked certificates over ${SHARDS} shards, ${rt.storage.dialect}, ${rt.ca.issuing.record.key_type} issuing CA`,
    );

    let t0 = now();
    await seed(rt.storage, issuing);
    console.log(`seeded ${fmt(REVOKED)} rows in ${fmt((now() - t0) / 1000, 1)} s (not part of the figures)`);
    global.gc?.();

    // the regeneration of every shard, one after another (as the refresher does)
    const rssBefore = process.memoryUsage().rss;
    const peakBefore = maxRss();
    let rssPeak = rssBefore;
    const cpu0 = processCpuUs();
    t0 = now();
    const sizes: number[] = [];
    const entries: number[] = [];
    const perShardMs: number[] = [];
    for (let s = 0; s < SHARDS; s++) {
      const t = now();
      const crl = await rt.ca.generateCrl(issuing, 'bench', s);
      perShardMs.push(now() - t);
      sizes.push(crl.der.length);
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
    const shardWall = (now() - t0) / 1000;
    const shardCpu = (processCpuUs() - cpu0) / 1e6;
    const shardMaxRss = maxRss();
    const rows = await rt.storage.db
      .selectFrom('shard_crls')
      .select(['shard', 'entries'])
      .where('ca_id', '=', issuing)
      .orderBy('shard')
      .orderBy('crl_number', 'desc')
      .execute();
    const seen = new Set<number>();
    for (const r of rows) {
      if (seen.has(r.shard)) continue; // an older CRL of the shard (none in a fresh database)
      seen.add(r.shard);
      entries.push(r.entries);
    }
    const total = entries.reduce((a, b) => a + b, 0);
    if (total !== REVOKED) throw new BenchError(`the shards list ${total} entries, ${REVOKED} were revoked`);

    // baseline: the CA's one full CRL of the same entries
    global.gc?.();
    const fullRssBefore = process.memoryUsage().rss;
    const cpu1 = processCpuUs();
    t0 = now();
    const full = await rt.ca.generateCrl(issuing, 'bench', null);
    const fullWall = (now() - t0) / 1000;
    const fullCpu = (processCpuUs() - cpu1) / 1e6;
    const fullRssAfter = process.memoryUsage().rss;
    const fullMaxRss = maxRss();

    const perMillion = (cpu: number) => (cpu * 1e6) / REVOKED;
    const sorted = [...sizes].sort((a, b) => a - b);
    console.log('');
    console.log(`all ${SHARDS} shards regenerated (${fmt(total)} entries):`);
    console.log(
      `  CPU ${fmt(shardCpu, 2)} s = ${fmt(perMillion(shardCpu), 2)} s per 1M entries (goal ≤ ${GOAL_CPU_PER_MILLION}: ${perMillion(shardCpu) <= GOAL_CPU_PER_MILLION ? 'met' : 'NOT met'}); wall ${fmt(shardWall, 2)} s`,
    );
    console.log(
      `  RSS ${mb(rssBefore)} before, ${mb(rssPeak)} peak sampled after each shard; maxRSS ${mb(peakBefore)} before (seeding), ${mb(shardMaxRss)} after`,
    );
    console.log(
      `  shard sizes: min ${mb(sorted[0]!)}, median ${mb(median(sizes))}, max ${mb(sorted[sorted.length - 1]!)}, total ${mb(sizes.reduce((a, b) => a + b, 0))}; entries per shard ${fmt(Math.min(...entries))}–${fmt(Math.max(...entries))}`,
    );
    console.log(
      `  one shard (what a revocation republishes): wall median ${fmt(median(perShardMs), 1)} ms, max ${fmt(Math.max(...perShardMs), 1)} ms`,
    );
    console.log(`baseline, the one full CRL (no IDP) of the same ${fmt(REVOKED)} entries — the legacy DP's cost:`);
    console.log(
      `  CPU ${fmt(fullCpu, 2)} s = ${fmt(perMillion(fullCpu), 2)} s per 1M; wall ${fmt(fullWall, 2)} s; ${mb(full.der.length)}; RSS ${mb(fullRssBefore)} → ${mb(fullRssAfter)}, maxRSS ${mb(fullMaxRss)}`,
    );
    console.log(`  all shards / full CRL: CPU ${fmt(shardCpu / fullCpu, 2)}×, wall ${fmt(shardWall / fullWall, 2)}×`);

    const probe = Math.floor(SHARDS / 2);
    const shardCrl = (await rt.ca.currentCrl(issuing, probe))!;
    console.log(`openssl crl -verify, shard ${probe}: ${opensslCrlVerify(ca.dir, `shard-${probe}`, shardCrl.der, caFile)}`);
    console.log(`openssl crl -verify, full CRL: ${opensslCrlVerify(ca.dir, 'full', full.der, caFile)}`);
  } finally {
    await ca.cleanup();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof BenchError ? e.message : e);
  process.exit(1);
});
