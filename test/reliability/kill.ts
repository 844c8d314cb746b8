// Kill test: a training run is SIGKILLed at random moments (inside steps, during checkpoint writes) and
// resumed each time; at the end its final parameters must equal an uninterrupted run's, bit for bit.
//   npx tsx test/reliability/kill.ts [--kills 20] [--seed 1] [--json]
import { Command } from 'commander';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../data/random.ts';
import { isTempFile } from '../../run/files.ts';
import { decodeSafetensors } from '../../training/checkpoint.ts';

const BIN = new URL('../../bin/onnx-gan.js', import.meta.url).pathname;
// Long enough (about 10 s of training on 2 cores) that every kill lands before the run can finish: each
// resumed run trains at most ~1.2 s before its kill, and a finished run cannot be killed any more.
const ARGS = ['train', '--hidden', '32,32', '--batch', '64', '--iterations', '12000', '--checkpoint-every', '20', '--log-every', '20', '--eval-samples', '200', '--seed', '5'];

export interface KillReport {
  kills: number;
  killedDuringWrite: number;
  resumes: number;
  identical: boolean;
  mismatched: string[];
  seconds: number;
}

const latest = (dir: string) => {
  const cks = readdirSync(join(dir, 'checkpoints')).filter((f) => f.endsWith('.safetensors')).sort();
  return decodeSafetensors(readFileSync(join(dir, 'checkpoints', cks.at(-1)!)));
};

function runUntilKilled(args: string[], ms: number): Promise<boolean> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b) => (err += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL' && code !== 0) throw new Error(`training failed with exit code ${code}: ${err.trim()}`);
      done(signal === 'SIGKILL');
    });
  });
}

export async function killTest(kills: number, seed: number): Promise<KillReport> {
  const t0 = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-kill-'));
  try {
    const ref = join(tmp, 'ref');
    const r = spawnSync(process.execPath, [BIN, ...ARGS, '--out', ref], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`reference run failed: ${r.stderr}`);
    const run = join(tmp, 'killed');
    const rng = Rng.stream(seed, 'kill-moments');
    let killed = 0;
    let duringWrite = 0;
    let resumes = 0;
    let first = true;
    while (killed < kills && resumes < 4 * kills) {
      // Anywhere from start-up (~1.3 s here) into training; a run that finishes first is simply resumed again.
      const wasKilled = await runUntilKilled([...ARGS, '--out', run, ...(first ? [] : ['--resume'])], 200 + rng.uniform() * 2300);
      first = false;
      resumes++;
      if (!wasKilled) continue;
      killed++;
      const dirs = [run, join(run, 'checkpoints')].filter(existsSync);
      if (dirs.some((d) => readdirSync(d).some(isTempFile))) duringWrite++;
    }
    const fin = spawnSync(process.execPath, [BIN, ...ARGS, '--out', run, '--resume'], { encoding: 'utf8' });
    if (fin.status !== 0) throw new Error(`final resume failed: ${fin.stderr}`);
    const [a, b] = [latest(ref), latest(run)];
    const mismatched = Object.keys(a.tensors).filter((k) => !b.tensors[k] || !Buffer.from(a.tensors[k].data.buffer).equals(Buffer.from(b.tensors[k].data.buffer)));
    if (a.metadata.iteration !== b.metadata.iteration) mismatched.push('iteration');
    const its = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).iteration);
    if (its.some((x, i) => x !== (i + 1) * 20)) mismatched.push('metrics.jsonl');
    if (!existsSync(join(run, 'samples.csv'))) mismatched.push('samples.csv');
    return { kills: killed, killedDuringWrite: duringWrite, resumes, identical: mismatched.length === 0, mismatched, seconds: (performance.now() - t0) / 1000 };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const o = new Command('kill').option('--kills <n>', 'kills', (v) => parseInt(v, 10), 20).option('--seed <n>', 'seed of the kill moments', (v) => parseInt(v, 10), 1).option('--json').parse(process.argv).opts();
  const rep = await killTest(o.kills, o.seed);
  console.log(o.json ? JSON.stringify(rep) : `${rep.kills} kills (${rep.killedDuringWrite} left a write half-done), ${rep.resumes} resumes, ${rep.seconds.toFixed(0)} s: final parameters ${rep.identical ? 'bit-identical to the uninterrupted run' : `DIFFER: ${rep.mismatched.join(', ')}`}`);
  process.exitCode = rep.identical ? 0 : 1;
}
