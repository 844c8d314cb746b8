// What a user gets from npm: the packed tarball installed into a fresh project trains through
// `import { train } from 'onnx-gan'` under plain node (no tsx), and a TypeScript file using the API
// type-checks against the shipped declarations (and a wrong setting does not).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../runtime/package-files.ts';

const npm = (args: string[], cwd: string) => spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' } });

describe('the npm package', function () {
  this.timeout(600000);
  let tmp: string;
  let project: string;
  before(function () {
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-pack-'));
    const packed = npm(['pack', '--pack-destination', tmp], packageRoot());
    if (packed.status !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
    const tarball = join(tmp, readdirSync(tmp).find((f) => f.endsWith('.tgz'))!);
    project = join(tmp, 'app');
    spawnSync('mkdir', [project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    // From npm's cache where `npm ci` filled it; the registry otherwise.
    const installed = npm(['install', tarball, '--prefer-offline', '--no-package-lock'], project);
    if (installed.status !== 0) throw new Error(`npm install of the tarball failed: ${installed.stderr}`);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('ships the compiled library, its declarations and the CLI, not the TypeScript sources or tests', () => {
    const pkg = join(project, 'node_modules', 'onnx-gan');
    const top = readdirSync(pkg).sort();
    expect(top).to.include.members(['bin', 'dist', 'package.json', 'README.md']);
    expect(top).to.not.include.members(['test', 'training', 'api', 'node_modules']);
    expect(readdirSync(join(pkg, 'dist', 'api'))).to.include.members(['index.js', 'index.d.ts', 'web.js', 'web.d.ts']);
    const cli = spawnSync(process.execPath, [join(pkg, 'bin', 'onnx-gan.js'), '--version'], { cwd: project, encoding: 'utf8' });
    expect(cli.status, cli.stderr).to.equal(0);
  });

  it('trains 20 iterations through the API from a plain .mjs file, then exports and samples', () => {
    writeFileSync(
      join(project, 'main.mjs'),
      `import { train, exportRun, loadGenerator } from 'onnx-gan';
const seen = [];
const r = await train({ data: 'ring8', iterations: 20, hidden: [16, 16], evalSamples: 200, out: 'run' }, { onIteration: (e) => seen.push(e.iteration) });
await exportRun('run');
const g = await loadGenerator('run');
const xs = await g.generate(new Float32Array(3 * g.latent));
console.log(JSON.stringify({ status: r.status, iterations: r.iterations, seen, modes: r.metrics.modes, samples: xs.length }));
`,
    );
    const r = spawnSync(process.execPath, ['main.mjs'], { cwd: project, encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).to.deep.equal({ status: 'done', iterations: 20, seen: [10, 20], modes: 8, samples: 6 });
  });

  it('a TypeScript file using the API type-checks; a wrong setting is a type error naming it', () => {
    const good = `import { train, trainEvents, type Settings } from 'onnx-gan';
import { loadGenerator } from 'onnx-gan/web';
const settings: Settings = { data: 'ring8', loss: 'hinge', iterations: 20, betas: [0.5, 0.9] };
const stop = new AbortController();
export async function main(): Promise<number> {
  for await (const e of trainEvents(settings, { signal: stop.signal })) if (e.values['D.loss'] > 1e6) stop.abort();
  const r = await train({ ...settings, out: 'run2' });
  const g = await loadGenerator(new Uint8Array());
  return r.iterations + g.latent;
}
`;
    writeFileSync(join(project, 'good.ts'), good);
    writeFileSync(join(project, 'bad.ts'), `import { train } from 'onnx-gan';\nvoid train({ loss: 'wgan-typo', iterations: '20' });\n`);
    const base = { compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, lib: ['es2022', 'dom'], types: [] } };
    writeFileSync(join(project, 'tsconfig.good.json'), JSON.stringify({ ...base, files: ['good.ts'] }));
    writeFileSync(join(project, 'tsconfig.bad.json'), JSON.stringify({ ...base, files: ['bad.ts'] }));
    const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
    const ok = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.good.json'], { cwd: project, encoding: 'utf8' });
    expect(ok.status, ok.stdout).to.equal(0);
    const bad = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.bad.json'], { cwd: project, encoding: 'utf8' });
    expect(bad.status).to.not.equal(0);
    expect(bad.stdout).to.match(/bad\.ts\(2,\d+\): error TS2322: Type '"wgan-typo"' is not assignable/);
    expect(bad.stdout).to.match(/bad\.ts\(2,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
  });
});
