// The external HTTP load generators bench:ocsp drives: ApacheBench (`ab`, Debian apache2-utils) for
// requests with a fixed body — one request per connection, or keep-alive with -k — and `wrk`
// (Debian wrk) with a Lua script for a fresh random nonce in every request. Both run on the same
// machine as the responders, so their CPU is part of what the two cores share.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { BenchError } from './common.js';

export interface ClientRun {
  /** completed responses per second, as the client reports it */
  rate: number;
  /** completed responses */
  ok: number;
  /** connection errors, timeouts, non-2xx (not ab's "Length" differences: signatures vary in length) */
  failed: number;
  seconds: number;
}

export const haveTool = (cmd: string): boolean => spawnSync(cmd, ['-V'], { stdio: 'ignore' }).error === undefined;

function runTool(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new BenchError(`${cmd} exited with ${code}: ${out.slice(-500)}`)),
    );
  });
}

/**
 * `ab -c <concurrency> -n <requests> -p <body>`: one request per connection, or keep-alive with
 * `keepAlive`. A count, not `-t`: at a time limit ab drops connections it has opened but not yet
 * used, and `openssl ocsp` then waits on such a connection until its -timeout.
 */
export async function ab(opts: {
  url: string;
  bodyFile: string;
  concurrency: number;
  requests: number;
  keepAlive: boolean;
}): Promise<ClientRun> {
  const args = [
    '-q',
    '-r',
    '-s',
    '10',
    '-c',
    String(opts.concurrency),
    '-n',
    String(Math.max(opts.concurrency, Math.round(opts.requests))),
  ];
  if (opts.keepAlive) args.push('-k');
  args.push('-p', opts.bodyFile, '-T', 'application/ocsp-request', opts.url);
  const out = await runTool('ab', args).catch((e: Error) => {
    throw new BenchError(`ab against ${opts.url}: ${e.message}`);
  });
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  const complete = num(/Complete requests:\s+(\d+)/);
  const failedAll = num(/Failed requests:\s+(\d+)/);
  const lengthOnly = num(/Length: (\d+)/) || 0;
  const non2xx = num(/Non-2xx responses:\s+(\d+)/) || 0;
  const secs = num(/Time taken for tests:\s+([\d.]+)/);
  if (!Number.isFinite(complete) || !Number.isFinite(secs)) throw new BenchError(`cannot read ab's output: ${out.slice(-500)}`);
  const failed = failedAll - lengthOnly + non2xx;
  return { rate: (complete - failed) / secs, ok: complete - failed, failed, seconds: secs };
}

/**
 * `wrk` over keep-alive connections, each request the DER `body` with its last `nonceLength` bytes
 * replaced by fresh random ones (an OCSP nonce: OpenSSL puts it at the end of the request).
 */
export async function wrkWithNonce(opts: {
  url: string;
  body: Buffer;
  nonceLength: number;
  connections: number;
  seconds: number;
  dir: string;
}): Promise<ClientRun> {
  const prefix = opts.body.subarray(0, opts.body.length - opts.nonceLength);
  const lua = path.join(opts.dir, 'nonce.lua');
  const bytes = [...prefix].map((b) => `\\${b}`).join('');
  writeFileSync(
    lua,
    `local prefix = "${bytes}"
local n = ${opts.nonceLength}
local hdr = { ["Content-Type"] = "application/ocsp-request" }
local bad = 0
math.randomseed(os.time())
request = function()
  local t = {}
  for i = 1, n do t[i] = string.char(math.random(0, 255)) end
  return wrk.format("POST", nil, hdr, prefix .. table.concat(t))
end
response = function(status, headers, body)
  if status ~= 200 or string.byte(body, 1) ~= 0x30 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("BAD %d\\n", bad))
end
`,
  );
  // one wrk thread: the client gets one core's worth at most, like ab
  const out = await runTool('wrk', ['-t', '1', '-c', String(opts.connections), '-d', `${opts.seconds}s`, '-s', lua, opts.url]);
  const complete = Number(/(\d+) requests in ([\d.]+)(m?s)/.exec(out)?.[1] ?? NaN);
  const m = /\d+ requests in ([\d.]+)(ms|s|m)/.exec(out);
  if (!m || !Number.isFinite(complete)) throw new BenchError(`cannot read wrk's output: ${out.slice(-500)}`);
  const secs = Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'm' ? 60 : 1);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = errors ? Number(errors[1]) + Number(errors[3]) + Number(errors[4]) : 0;
  const bad = Number(/BAD (\d+)/.exec(out)?.[1] ?? 0) + Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const failed = socketErrors + bad;
  return { rate: (complete - bad) / secs, ok: complete - bad, failed, seconds: secs };
}
