// npm run bench:gpu [-- --setups mlp,dcgan,resnet] [--iters N] [--warmup N] [--out FILE] [--swiftshader]
// The GPU figures in one command, for a machine with a GPU and nothing edited: makes sure the Vulkan
// loader is there (onnxruntime-node's WebGPU runs on Dawn over Vulkan on Linux), then runs the bench of
// each setup with our rows on WebGPU and on the CPU (with the PyTorch peer), and the profile's placement
// check (which nodes onnxruntime put on the CPU instead), and writes one JSON and a table.
// --swiftshader runs it on SwiftShader's CPU Vulkan (Debian's chromium) where no GPU is: correct, not fast.
import { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const cmd = new Command('bench:gpu')
  .option('--setups <list>', 'bench setups, comma separated', 'mlp,dcgan,resnet')
  .option('--iters <n>', 'timed generator steps per row (default: each bench\'s own)')
  .option('--warmup <n>', 'untimed generator steps first (default: each bench\'s own)')
  .option('--cpu-threads <list>', 'thread counts of the CPU rows', '1,2')
  .option('--out <file>', 'where the JSON goes', 'bench-gpu.json')
  .option('--swiftshader', "use SwiftShader's Vulkan (from Debian's chromium) instead of a GPU's driver");
cmd.parse();
const o = cmd.opts<{ setups: string; iters?: string; warmup?: string; cpuThreads: string; out: string; swiftshader?: boolean }>();
const root = fileURLToPath(new URL('..', import.meta.url));
const say = (m: string) => process.stderr.write(`bench:gpu: ${m}\n`);
const die = (m: string): never => {
  say(m);
  process.exit(1);
};

/** The Vulkan loader: present, or unpacked from .gl/*.deb (a device machine's carried packages), or apt-get installed. */
function vulkanLoader(): void {
  const has = () => /libvulkan\.so\.1/.test(spawnSync('ldconfig', ['-p'], { encoding: 'utf8' }).stdout ?? '');
  if (has()) return;
  const carried = join(root, '.gl');
  if (existsSync(carried)) {
    for (const f of readdirSync(carried).filter((f) => f.endsWith('.deb'))) spawnSync('dpkg', ['-x', join(carried, f), '/'], { stdio: 'inherit' });
    spawnSync('ldconfig', [], { stdio: 'inherit' });
  }
  if (!has() && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    say('installing the Vulkan loader (apt-get install libvulkan1)');
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    spawnSync('apt-get', ['install', '-y', '-qq', 'libvulkan1'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  if (!has()) die('no Vulkan loader (libvulkan.so.1): install libvulkan1 (as root: apt-get install libvulkan1) and run again');
}

/** The Vulkan driver to use, as environment; and what the GPU is called. */
function driver(): { env: Record<string, string>; gpu: string } {
  if (o.swiftshader) {
    const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
    if (!existsSync(icd)) die(`--swiftshader: ${icd} not found (apt-get install chromium)`);
    return { env: { VK_ICD_FILENAMES: icd, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' }, gpu: 'SwiftShader (Vulkan on the CPU)' };
  }
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], { encoding: 'utf8' });
  const gpu = smi.status === 0 ? smi.stdout.trim().split('\n')[0] : (spawnSync('sh', ['-c', 'lspci 2>/dev/null | grep -iE "vga|3d|display" | head -1'], { encoding: 'utf8' }).stdout.trim() || 'unknown GPU');
  // NVIDIA's container toolkit puts the ICD where the loader does not look by default.
  const nvidiaIcd = '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json';
  const env: Record<string, string> = {};
  if (!process.env.VK_DRIVER_FILES && !process.env.VK_ICD_FILENAMES && existsSync(nvidiaIcd) && !existsSync('/usr/share/vulkan/icd.d/nvidia_icd.json')) env.VK_DRIVER_FILES = nvidiaIcd;
  return { env, gpu };
}

/** One bench or profile command, its JSON lines parsed; its progress lines pass through. */
function run(script: string, args: string[], env: Record<string, string>): unknown[] {
  say(`${script} ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', script), ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  if (r.status !== 0) return [{ error: `${script} ${args.join(' ')}: exit ${r.status ?? r.signal}` }];
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

vulkanLoader();
const { env, gpu } = driver();
say(`GPU: ${gpu}`);
const setups = o.setups.split(',');
const sized = [...(o.iters ? ['--iters', o.iters] : []), ...(o.warmup ? ['--warmup', o.warmup] : [])];
const results: Record<string, unknown> = {};
for (const s of setups) {
  // The ResNet under hinge + spectral norm only: the WGAN-GP variant doubles the time and adds no new op.
  const loss = s === 'resnet' ? ['--loss', 'sngan'] : [];
  results[s] = {
    webgpu: run('run.ts', [s, ...loss, '--ep', 'webgpu', '--threads', '1', '--no-peer', '--json', ...sized], env),
    cpu: run('run.ts', [s, ...loss, '--ep', 'cpu', '--threads', o.cpuThreads, '--json', ...sized], env),
    placement: run('profile.ts', [s, ...loss, '--ep', 'webgpu', '--iters', '1', '--warmup', '1', '--json'], env),
  };
}
const report = { date: new Date().toISOString(), gpu, node: process.version, results };
const out = resolve(o.out);
writeFileSync(`${out}.tmp`, `${JSON.stringify(report, null, 1)}\n`);
renameSync(`${out}.tmp`, out);

// The table: each setup's best WebGPU row beside the best CPU rows, and what the provider left to the CPU.
type BenchJson = { rows?: { name: string; ep: string; threads: number; steps_per_s: number; peak_rss_mb: number | null }[]; error?: string };
type ProfileJson = { programs?: { program: string; providers: Record<string, number>; elsewhere: { op: string }[] }[]; error?: string };
console.log(`GPU: ${gpu}`);
console.log(`${'setup'.padEnd(8)} ${'WebGPU steps/s'.padStart(15)} ${'best CPU (ours)'.padStart(16)} ${'PyTorch CPU'.padStart(12)}  nodes off the GPU`);
for (const s of setups) {
  const r = results[s] as { webgpu: BenchJson[]; cpu: BenchJson[]; placement: ProfileJson[] };
  const best = (rows: BenchJson['rows'] = [], pick: (x: { name: string }) => boolean) => Math.max(0, ...rows.filter(pick).map((x) => x.steps_per_s));
  const w = best(r.webgpu[0]?.rows, () => true);
  const c = best(r.cpu[0]?.rows, (x) => x.name.startsWith('onnx-gan'));
  const p = best(r.cpu[0]?.rows, (x) => x.name.startsWith('PyTorch'));
  const off = (r.placement[0]?.programs ?? []).map((pr) => `${pr.program}: ${pr.elsewhere.length ? [...new Set(pr.elsewhere.map((e) => e.op))].join(' ') : 'none'}`).join('; ');
  const err = [...r.webgpu, ...r.cpu, ...r.placement].map((x) => (x as { error?: string }).error).filter(Boolean);
  console.log(`${s.padEnd(8)} ${w.toFixed(3).padStart(15)} ${c.toFixed(3).padStart(16)} ${p ? p.toFixed(3).padStart(12) : '-'.padStart(12)}  ${off}${err.length ? `  (failed: ${err.join('; ')})` : ''}`);
}
console.log(`written: ${out}`);
