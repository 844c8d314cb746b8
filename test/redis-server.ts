// A real Redis for the queue tests: Debian's redis-server on a free loopback port, no persistence, stopped
// by the test. Without the binary the suite skips, except under CI (.ci/run installs it), where it fails.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

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
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisHandle> {
  const port = await freePort();
  const proc: ChildProcess = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (b) => (log += b));
  await new Promise<void>((done, fail) => {
    const t0 = Date.now();
    const check = setInterval(() => {
      if (/Ready to accept connections/.test(log)) return clearInterval(check), done();
      if (proc.exitCode !== null || Date.now() - t0 > 10000) clearInterval(check), fail(new Error(`redis-server did not start on port ${port}: ${log.slice(-300)}`));
    }, 50);
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => new Promise<void>((done) => (proc.exitCode !== null ? done() : (proc.once('exit', () => done()), proc.kill('SIGTERM')))),
  };
}
