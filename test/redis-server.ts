// A real Redis for the queue tests: Debian's redis-server on a free loopback port, no persistence, stopped
// by the test. Without the binary the suite skips, except under CI (.ci/run installs it), where it fails.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { CliProcess } from './helpers.ts';
import { QUEUE_NAME, redisOptions } from '../sweep/queue-access.ts';

export const REDIS_BIN = '/usr/bin/redis-server';

export function haveRedis(): boolean {
  const ok = spawnSync(REDIS_BIN, ['--version']).status === 0;
  if (!ok && process.env.CI) throw new Error(`${REDIS_BIN} is missing; .ci/run installs Debian's redis-server`);
  return ok;
}

const freePort = () =>
  new Promise<number>((done, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });

export interface RedisHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Gone at once, as a crashed or unreachable Redis is. */
  kill(): Promise<void>;
}

/**
 * A redis-server on a free loopback port; `extra` adds settings (--requirepass). With `tls` (PEM files), it
 * listens with TLS only, on that port.
 */
export async function startRedis(extra: string[] = [], tls?: { cert: string; key: string; ca: string }): Promise<RedisHandle> {
  const port = await freePort();
  const listen = tls ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no'] : ['--port', String(port)];
  const proc: ChildProcess = spawn(REDIS_BIN, [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (b) => (log += b));
  await new Promise<void>((done, fail) => {
    const t0 = Date.now();
    const check = setInterval(() => {
      if (/Ready to accept connections/.test(log)) return clearInterval(check), done();
      if (proc.exitCode !== null || Date.now() - t0 > 10000) clearInterval(check), fail(new Error(`redis-server did not start on port ${port}: ${log.slice(-300)}`));
    }, 50);
  });
  const end = (sig: NodeJS.Signals) => new Promise<void>((done) => (proc.exitCode !== null || proc.signalCode !== null ? done() : (proc.once('exit', () => done()), proc.kill(sig))));
  return { url: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`, port, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

export interface QueueSuite {
  redis: RedisHandle;
  tmp: string;
  /** Processes a test started (workers, clients): SIGKILLed after each test if still running. */
  procs: CliProcess[];
}

/**
 * Hooks for a describe() that uses the queue: a redis-server and a temp folder before its tests (skipped
 * without Redis, except under CI), the test's processes ended and the queue emptied after each, both gone after.
 */
export function queueSuite(prefix: string): QueueSuite {
  const s = { tmp: '', procs: [] } as unknown as QueueSuite;
  before(async function () {
    if (!haveRedis()) return this.skip();
    s.redis = await startRedis();
    s.tmp = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const p of s.procs.splice(0)) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
    if (!s.redis) return;
    const q = new Queue(QUEUE_NAME, { connection: redisOptions(s.redis.url) });
    await q.obliterate({ force: true });
    await q.close();
  });
  after(async () => {
    await s.redis?.stop();
    if (s.tmp) rmSync(s.tmp, { recursive: true, force: true });
  });
  return s;
}
