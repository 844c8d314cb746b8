// The job queue as an attacker meets it, on a real redis-server: anyone who can write to the Redis can add
// jobs and answer them. A crafted job must not reach outside the runs dir, a rogue worker must not write
// outside --out, put markup in the reports or block the sweep; the password shows nowhere; a worker told to
// stop is gone in bounded time whatever Redis does.
import { expect } from 'chai';
import { Queue, Worker, type Job } from 'bullmq';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, needChromium } from '../browser-page.ts';
import { cli, startCli, until } from '../helpers.ts';
import { queueSuite, startRedis } from '../redis-server.ts';
import { queueSweep } from '../../sweep/queue-client.ts';
import { QUEUE_NAME, redisOptions } from '../../sweep/queue-access.ts';

/** Every file under `dir`, with its bytes: what an attack must leave unchanged. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[p] = readFileSync(p, 'latin1');
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const spec = { key: 'ring8-ns-s0', data: 'ring8', loss: 'ns', seed: 0, pack: 1, iterations: 50 };

/** The job once it has failed or completed. */
async function finalState(q: Queue, id: string, ms = 120000): Promise<Job> {
  const t0 = Date.now();
  for (;;) {
    const state = await q.getJobState(id);
    if (state === 'failed' || state === 'completed') return (await q.getJob(id))!;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for job ${id} to end (${state})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('security: the job queue (real redis-server)', function () {
  this.timeout(300000);
  const suite = queueSuite('onnx-gan-sec-queue-');
  const worker = (url: string, args: string[], env: Record<string, string> = {}) => {
    const w = startCli(['worker', '--queue', url, '--lock-seconds', '2', ...args], env);
    suite.procs.push(w);
    return w;
  };

  it('crafted jobs cannot delete, write or read outside the runs dir: each is refused naming the field', async () => {
    const runs = join(suite.tmp, 'runs');
    const victim = join(suite.tmp, 'victim');
    mkdirSync(join(victim, 'keep'), { recursive: true });
    writeFileSync(join(victim, 'keep', 'config.json'), '{"secret": "victim data"}\n');
    // A directory in the runs dir that no worker made (someone's own files).
    const foreign = join(runs, 'abcdef02', 'ring8-ns-s0');
    mkdirSync(foreign, { recursive: true });
    writeFileSync(join(foreign, 'notes.txt'), 'mine\n');
    const before = { ...snapshot(victim), ...snapshot(runs) };
    const w = worker(suite.redis.url, ['--runs-dir', runs]);
    await until('the worker to listen', () => /waiting for runs/.test(w.log()));
    const handoffConfig = (o: object) => b64(JSON.stringify({ data: 'ring8', loss: 'ns', seed: 0, iterations: 50, ...o }));
    const jobs: [string, object, RegExp][] = [
      ['x1', { sweep: '../victim', run: { ...spec, key: 'keep' } }, /'sweep': not a sweep id/],
      ['x2', { sweep: 'abcdef01', run: { ...spec, key: '../../victim/keep' } }, /'run\.key': does not match the run it names/],
      ['abcdef01.ring8-ns-s0', { sweep: 'abcdef01', run: spec, handoff: { '../../pwned.sh': b64('#!/bin/sh\necho pwned\n') } }, /'handoff\["\.\.\/\.\.\/pwned\.sh"\]': not a file a run hands over/],
      ['abcdef03.ring8-ns-s0', { sweep: 'abcdef03', run: spec, handoff: { 'config.json': handoffConfig({ generator: '/etc/hostname' }) } }, /handoff config\.json: 'generator' is not this run's/],
      ['abcdef04.ring8-ns-s0', { sweep: 'abcdef04', run: { ...spec, data: '/etc', key: '/etc-ns-s0' } }, /'run\.data': not a built-in data set/],
      ['abcdef05.ring8-ns-s0', { sweep: 'abcdef05', run: { ...spec, iterations: 1e12 } }, /'run\.iterations'/],
      ['abcdef02.ring8-ns-s0', { sweep: 'abcdef02', run: spec }, /ring8-ns-s0 exists and no onnx-gan worker made it; it is left as it is/],
      ['abcdef06.ring8-ns-s1', { sweep: 'abcdef06', run: spec }, /its id does not name its run/],
      ['x3\nworker stopped', { sweep: 'abcdef06', run: spec }, /its id does not name its run/],
    ];
    const q = new Queue(QUEUE_NAME, { connection: redisOptions(suite.redis.url) });
    try {
      for (const [id, data] of jobs) await q.add('attack', data, { jobId: id, attempts: 3 });
      for (const [id, , reason] of jobs) {
        const job = await finalState(q, id);
        expect(await job.getState(), id).to.equal('failed');
        expect(job.failedReason, id).to.match(reason);
        // Refused once, not retried: the same job would be refused again.
        expect(job.attemptsMade, id).to.equal(1);
      }
    } finally {
      await q.close();
    }
    expect({ ...snapshot(victim), ...snapshot(runs) }, 'nothing outside the workers\' own run directories changed').to.deep.equal(before);
    expect(existsSync(resolve(runs, 'abcdef01', 'ring8-ns-s0', '../../pwned.sh'))).to.equal(false);
    expect(w.log()).to.match(/job x1 refused: job x1: 'sweep': not a sweep id/);
    // Text from the queue cannot forge a line of the worker's log.
    expect(w.log()).to.include('job x3\\x0aworker stopped refused');
    expect(w.log()).to.not.match(/^worker stopped/m);
  });

  it('a rogue worker cannot write outside --out, put markup in the reports, or block the sweep', async function () {
    const out = join(suite.tmp, 'client');
    const markup = '<img src=x onerror="window.pwned=1">|cell|';
    const answers: Record<string, unknown> = {
      ns: { result: { status: 'ok', seconds: 1 }, files: { '../../../client-pwned.txt': 'pwned' } },
      hinge: 'not an object',
      lsgan: { result: { status: 'ok', seconds: 1, modes: markup }, files: {} },
      wgan: { result: { status: 'crashed', seconds: 1, error: markup }, files: {} },
      dragan: { result: { status: 'ok', seconds: 1 }, files: { 'metrics.json': JSON.stringify({ iterations: 50, seconds: 1, modesCaptured: markup, modes: 8, highQualityPct: 10, reverseKL: 0.1 }) } },
    };
    const rogue = new Worker(QUEUE_NAME, async (job: Job) => answers[job.data.run.loss], { connection: { ...redisOptions(suite.redis.url), maxRetriesPerRequest: null } });
    try {
      const rs = await queueSweep({ data: ['ring8'], losses: Object.keys(answers), seeds: 1, iterations: 50, queue: suite.redis.url, out });
      const by = Object.fromEntries(rs.map((r) => [r.loss, r]));
      expect(Object.values(by).map((r) => r.status)).to.deep.equal(['crashed', 'crashed', 'crashed', 'crashed', 'crashed']);
      expect(by.ns.error).to.match(/^result of job \w+\.ring8-ns-s0: 'files': Unrecognized key: "\.\.\/\.\.\/\.\.\/client-pwned\.txt"$/);
      expect(by.hinge.error).to.match(/^result of job \w+\.ring8-hinge-s0: the whole value/);
      expect(by.lsgan.error).to.match(/'result\.modes'/);
      expect(by.wgan.error).to.equal(markup);
      expect(by.dragan.error).to.match(/metrics\.json: 'modesCaptured'/);
    } finally {
      await rogue.close();
    }
    expect(existsSync(resolve(out, 'runs', 'ring8-ns-s0', '../../../client-pwned.txt'))).to.equal(false);
    expect(snapshot(suite.tmp)).to.satisfy((files: Record<string, string>) => Object.keys(files).every((f) => !f.endsWith('client-pwned.txt')));
    const md = readFileSync(join(out, 'summary.md'), 'utf8');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    const csv = readFileSync(join(out, 'runs.csv'), 'utf8');
    expect(md).to.not.include('<img');
    expect(html, 'no markup from a result in the page').to.not.include('<img');
    expect(csv).to.include('"<img src=x onerror=""window.pwned=1"">|cell|"');
    // Opened in a real browser, the error is text and no handler ran.
    needChromium(this);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    try {
      const page = await browser.newPage();
      await page.goto(`file://${join(out, 'report.html')}`);
      await page.waitForSelector('.card');
      await page.waitForTimeout(0);
      const seen = await page.evaluate(() => ({ pwned: (window as unknown as { pwned?: number }).pwned, errors: [...document.querySelectorAll('.err')].map((e) => e.textContent), imgs: document.querySelectorAll('img').length }));
      expect(seen.pwned).to.equal(undefined);
      expect(seen.imgs).to.equal(0);
      expect(seen.errors).to.include(markup);
    } finally {
      await browser.close();
    }
  });

  it('the Redis password shows in no output, no file and no hint; it can come from a variable or a file', async () => {
    const pw = 'pw-S3cret-9c1f';
    const auth = await startRedis(['--requirepass', pw]);
    try {
      const out = join(suite.tmp, 'secret-sweep');
      const pwFile = join(suite.tmp, 'redis-password');
      writeFileSync(pwFile, `${pw}\n`);
      const withPw = auth.url.replace('redis://', `redis://:${pw}@`);
      const w1 = worker(auth.url, [], { ONNX_GAN_REDIS_PASSWORD: pw });
      const w2 = worker(auth.url, ['--queue-password-file', pwFile]);
      await until('both workers to listen', () => /waiting for runs/.test(w1.log()) && /waiting for runs/.test(w2.log()));
      const args = ['sweep', '--queue', withPw, '--data', 'ring8', '--loss', 'ns,hinge', '--seeds', '1', '--iterations', '100', '--out', out];
      const r = cli(args);
      expect(r.code, r.err).to.equal(0);
      const st = cli(['sweep', '--status', '--out', out, '--json'], { ONNX_GAN_REDIS_PASSWORD: pw });
      expect(st.code, st.err).to.equal(0);
      const wrong = cli(['sweep', '--queue', auth.url.replace('redis://', 'redis://:wrong-pw-77@'), '--out', join(suite.tmp, 'wrong')]);
      expect(wrong.code).to.equal(1);
      expect(wrong.err.trim()).to.match(/^onnx-gan: --queue redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: cannot reach Redis \(.*(WRONGPASS|invalid).*\)$/);
      // A client stopped mid-sweep repeats its command in the hint: without the password.
      const client = startCli([...args.slice(0, -1), join(suite.tmp, 'secret-stopped'), '--iterations', '100000']);
      suite.procs.push(client);
      await until('the client to queue', () => existsSync(join(suite.tmp, 'secret-stopped', 'sweep.json')));
      client.proc.kill('SIGINT');
      expect(await client.exited, client.log()).to.equal(130);
      expect(client.log()).to.match(/--resume$/m).and.to.include('redis://:***@');
      for (const p of [w1, w2]) p.proc.kill('SIGTERM');
      await Promise.all([w1.exited, w2.exited]);
      const said = [r.out, r.err, st.out, st.err, wrong.err, client.log(), w1.log(), w2.log()].join('\n');
      expect(said).to.not.include(pw);
      expect(said).to.not.include('wrong-pw-77');
      for (const [file, text] of Object.entries({ ...snapshot(out), ...snapshot(join(suite.tmp, 'secret-stopped')) })) expect(text, file).to.not.include(pw);
      expect(JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')).queue).to.equal(`${auth.url}`);
    } finally {
      await auth.stop();
    }
  });

  it('rediss:// with a CA file reaches a TLS-only Redis; without the CA it is refused in one line', async function () {
    if (spawnSync('openssl', ['version']).status !== 0) return this.skip();
    const dir = join(suite.tmp, 'tls');
    mkdirSync(dir);
    const ssl = (args: string[]) => expect(spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' }).status).to.equal(0);
    ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=onnx-gan test CA']);
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
    const tls = await startRedis([], { cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), ca: join(dir, 'ca.pem') });
    try {
      expect(tls.url).to.match(/^rediss:/);
      const w = worker(tls.url, ['--queue-ca', join(dir, 'ca.pem')]);
      await until('the worker to listen over TLS', () => /waiting for runs on rediss:/.test(w.log()) || w.proc.exitCode !== null);
      w.proc.kill('SIGTERM');
      expect(await w.exited, w.log()).to.equal(0);
      const untrusted = cli(['worker', '--queue', tls.url]);
      expect(untrusted.code).to.equal(1);
      expect(untrusted.err.trim()).to.match(/^onnx-gan: --queue rediss:\/\/127\.0\.0\.1:\d+: cannot reach Redis \(.*certificate.*\)$/);
    } finally {
      await tls.stop();
    }
  });

  it('a worker told to stop exits within --stop-seconds when Redis is gone, saying where the checkpoints are', async () => {
    const gone = await startRedis();
    const runs = join(suite.tmp, 'stop-runs');
    const w = worker(gone.url, ['--runs-dir', runs, '--stop-seconds', '3']);
    await until('the worker to listen', () => /waiting for runs/.test(w.log()));
    const q = new Queue(QUEUE_NAME, { connection: redisOptions(gone.url) });
    const long = { ...spec, iterations: 1_000_000 };
    await q.add('run', { sweep: 'abcdef07', run: long }, { jobId: 'abcdef07.ring8-ns-s0' });
    await q.close();
    const dir = join(runs, 'abcdef07', 'ring8-ns-s0');
    await until('the run to train', () => existsSync(join(dir, 'metrics.jsonl')));
    await gone.kill();
    const t0 = Date.now();
    w.proc.kill('SIGTERM');
    const code = await w.exited;
    const seconds = (Date.now() - t0) / 1000;
    expect(code, w.log()).to.equal(0);
    expect(w.log()).to.match(new RegExp(`Redis did not answer within 3 s of the stop; runs in flight are not handed back \\(their checkpoints are in ${runs};`));
    // The bound plus the run's own stop (a step and a checkpoint) and the exit: far below a k8s grace period.
    expect(seconds, w.log()).to.be.lessThan(30);
    // The run, told to stop, saves its checkpoint (it may finish just after its worker has gone).
    await until('the stopped run to checkpoint', () => readdirSync(join(dir, 'checkpoints')).some((f) => f.startsWith('ckpt-')));
  });
});
