// Sweeps on a real Redis (Debian's redis-server on a free loopback port) through BullMQ: worker processes
// that are killed or told to stop, a client that is stopped and resumed; the results must equal a local
// sweep's bit for bit and count every run exactly once.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { BIN, cli, startCli, timeFor, until, type CliProcess } from '../helpers.ts';
import { queueSuite } from '../redis-server.ts';
import { sweep } from '../../sweep/local.ts';
import { queueSweep } from '../../sweep/queue-client.ts';
import { type RunResult, type SweepSpec } from '../../sweep/runs.ts';
import { QUEUE_NAME, redisOptions } from '../../sweep/queue-access.ts';

const startWorker = (url: string, extra: string[] = []): CliProcess => startCli(['worker', '--queue', url, '--lock-seconds', '2', ...extra]);

/** Checkpoints of a run in any worker's scratch space (workers without --runs-dir train under the temp dir). */
const checkpointsOf = (key: string) =>
  readdirSync(tmpdir())
    .filter((d) => d.startsWith('onnx-gan-worker-'))
    .flatMap((d) => (existsSync(join(tmpdir(), d)) ? readdirSync(join(tmpdir(), d)).map((s) => join(tmpdir(), d, s, key, 'checkpoints')) : []))
    .flatMap((c) => (existsSync(c) ? readdirSync(c).filter((f) => f.startsWith('ckpt-')) : []));

/** The run a worker's log says it started last. */
const lastStarted = (log: string) => [...log.matchAll(/^(\S+): (?:starting|resuming) \(job/gm)].pop()?.[1];

const metrics = (r: RunResult) => ({ key: `${r.data}-${r.loss}-s${r.seed}`, status: r.status, modesCaptured: r.modesCaptured, highQualityPct: r.highQualityPct, reverseKL: r.reverseKL });
const samples = (r: RunResult) => readFileSync(join(r.dir, 'samples.csv'), 'utf8');

// 12 runs of ~1,500 iterations (a few seconds each): long enough for a kill to land mid-run.
const SPEC: SweepSpec = { data: ['ring8'], losses: ['ns', 'hinge', 'lsgan'], seeds: 4, iterations: 1500 };

const RUNS = SPEC.data.length * SPEC.losses.length * SPEC.seeds;

describe('sweeps on a Redis queue (BullMQ, real redis-server)', function () {
  // Each test runs the sweep once (plus the restarts its kills cause), one run at a time at worst.
  this.timeout(timeFor({ iterations: RUNS * SPEC.iterations * 1.5, starts: 2 * RUNS + 4 }));
  const q = queueSuite('onnx-gan-queue-');
  const workers = q.procs;
  let local: Map<string, RunResult>;

  before(async () => {
    // The reference: the same sweep run locally.
    const rs = await sweep({ ...SPEC, workers: 2, out: join(q.tmp, 'local') });
    local = new Map(rs.map((r) => [metrics(r).key, r]));
    expect(rs.every((r) => r.status === 'ok'), 'the local reference sweep finished').to.equal(true);
  });

  it('12 runs over 3 workers, one SIGKILLed mid-run: every run finishes exactly once, metrics and samples bit-identical to the local sweep', async () => {
    const shared = join(q.tmp, 'shared-runs');
    workers.push(...[0, 1, 2].map(() => startWorker(q.redis.url, ['--runs-dir', shared])));
    const client = queueSweep({ ...SPEC, queue: q.redis.url, out: join(q.tmp, 'queued') });
    const victim = workers[0];
    await until('the first worker to start a run', () => !!lastStarted(victim.log()));
    await new Promise((r) => setTimeout(r, 1500));
    const killed = lastStarted(victim.log())!;
    victim.proc.kill('SIGKILL');
    const rs = await client;

    expect(rs).to.have.length(12);
    expect(new Set(rs.map((r) => metrics(r).key)).size, 'each run once').to.equal(12);
    for (const r of rs) {
      const ref = local.get(metrics(r).key)!;
      expect(metrics(r), metrics(r).key).to.deep.equal(metrics(ref));
      expect(samples(r) === samples(ref), `${metrics(r).key} samples.csv`).to.equal(true);
    }
    // The killed worker's run was taken over by another worker after its lock expired, and resumed there.
    const others = workers.slice(1).map((w) => w.log()).join('\n');
    expect(others, `another worker resumed ${killed}`).to.match(new RegExp(`^${killed}: resuming \\(job \\S+, attempt [2-9]`, 'm'));
    // Collected runs leave the queue.
    const queue = new Queue(QUEUE_NAME, { connection: redisOptions(q.redis.url) });
    const counts = await queue.getJobCounts();
    await queue.close();
    expect(Object.values(counts).reduce((a, b) => a + b, 0), JSON.stringify(counts)).to.equal(0);
    const csv = readFileSync(join(q.tmp, 'queued', 'runs.csv'), 'utf8').trim().split('\n');
    expect(csv, 'runs.csv: header and 12 runs').to.have.length(13);
  });

  it('worker SIGTERM: its run checkpoints, goes back to the queue through Redis (no shared disk) and another worker resumes it', async () => {
    const spec = { ...SPEC, losses: ['ns'], seeds: 2 };
    const a = startWorker(q.redis.url);
    workers.push(a);
    const client = queueSweep({ ...spec, queue: q.redis.url, out: join(q.tmp, 'handoff') });
    await until('worker A to start a run', () => !!lastStarted(a.log()));
    const b = startWorker(q.redis.url);
    workers.push(b);
    const run = lastStarted(a.log())!;
    // Stopped once it has trained a little (a checkpoint in its scratch space), so there is something to resume.
    await until(`${run} to write a checkpoint`, () => checkpointsOf(run).length > 0);
    a.proc.kill('SIGTERM');
    expect(await a.exited, a.log()).to.equal(0);
    expect(a.log()).to.match(new RegExp(`^${run}: checkpointed and handed back to the queue`, 'm'));
    const rs = await client;
    expect(b.log(), `worker B resumed ${run}`).to.match(new RegExp(`^${run}: resuming`, 'm'));
    expect(b.log(), 'from the handed-back checkpoint').to.match(new RegExp(`^${run}: resumed from iteration [1-9]`, 'm'));
    for (const r of rs) expect(metrics(r)).to.deep.equal(metrics(local.get(metrics(r).key)!));
  });

  it('a stopped client leaves its runs on the queue; --status tells where they stand and --resume collects them', async () => {
    const out = join(q.tmp, 'client-stop');
    workers.push(startWorker(q.redis.url));
    const args = ['sweep', '--queue', q.redis.url, '--data', 'ring8', '--loss', 'ns', '--seeds', '2', '--iterations', '1500', '--out', out];
    const client = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    client.stderr!.on('data', (b) => (err += b));
    // Once sweep.json is written the client is queueing and listening for signals.
    await until('the client to queue the sweep', () => existsSync(join(out, 'sweep.json')));
    await new Promise((r) => setTimeout(r, 300));
    client.kill('SIGINT');
    const code = await new Promise((done) => client.on('exit', done));
    // Two runs of a few seconds each on one worker: neither is collected 0.3 s after queueing.
    expect(code, err).to.equal(130);
    expect(err).to.match(/they stay on the queue and its workers go on; collect them with onnx-gan sweep .* --resume/);
    const st = cli(['sweep', '--status', '--out', out, '--json']);
    expect(st.code, st.err).to.equal(0);
    expect(JSON.parse(st.out)).to.include({ total: 2 });
    const r = cli([...args, '--resume', '--json']);
    expect(r.code, r.err).to.equal(0);
    expect(JSON.parse(r.out)[0]).to.include({ runs: 2, ok: 2, modesMean: (local.get('ring8-ns-s0')!.modesCaptured! + local.get('ring8-ns-s1')!.modesCaptured!) / 2 });
  });

  it('bad queue settings: one line naming the flag, a non-zero exit', async () => {
    const http = cli(['worker', '--queue', 'http://127.0.0.1:1']);
    expect(http.code).to.equal(1);
    expect(http.err.trim()).to.equal('onnx-gan: --queue http://127.0.0.1:1: expected redis://HOST:PORT[/DB] or rediss://HOST:PORT[/DB] (got the scheme http:)');
    const down = cli(['sweep', '--queue', 'redis://127.0.0.1:1', '--out', join(q.tmp, 'down')]);
    expect(down.code).to.equal(1);
    expect(down.err.trim()).to.match(/^onnx-gan: --queue redis:\/\/127\.0\.0\.1:1: cannot reach Redis \(.*ECONNREFUSED.*\)$/);
    const both = cli(['sweep', '--queue', q.redis.url, '--workers', '2', '--out', join(q.tmp, 'both')]);
    expect(both.err.trim()).to.match(/^onnx-gan: --workers: a queued sweep runs on the workers/);
    const none = cli(['sweep', '--status', '--out', join(q.tmp, 'nothing')]);
    expect(none.err.trim()).to.match(/holds no queued sweep \(no sweep\.json with a queue id\)/);
  });
});
