// The layout's rules, checked on the sources themselves: each folder imports only the folders below it
// (type imports included), no module cycle, the browser page reaches no Node-only module, every module
// with logic has a test that imports it, and command files stay small.
import { expect } from 'chai';
import { build } from 'esbuild';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(new URL('..', import.meta.url).pathname);

/** Bottom to top; a folder may import its own and lower ranks. Same rank: neither imports the other. */
export const LAYERS: string[][] = [['graph'], ['data'], ['losses', 'models'], ['runtime'], ['training'], ['eval', 'export'], ['run'], ['api', 'sweep', 'web'], ['cli']];
const rank = new Map(LAYERS.flatMap((fs, i) => fs.map((f): [string, number] => [f, i])));

/** Packages that exist only in Node; the page must reach none of them (nor node: builtins). */
const NODE_ONLY = ['onnxruntime-node', 'pngjs', 'bullmq', 'ioredis', 'commander', 'cli-progress', 'sirv', 'esbuild', 'tsx'];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((e) => {
    const p = join(dir, e);
    return statSync(join(ROOT, p)).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const SPEC = /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*'([^']+)'|(?:^|\n)\s*import\s*'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g;

/** What a file imports: relative ones as repository paths, the rest as package names. */
export function importsOf(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const local: string[] = [];
  const packages: string[] = [];
  for (const m of text.matchAll(SPEC)) {
    const s = m[1] ?? m[2] ?? m[3];
    if (s.startsWith('.')) local.push(relative(ROOT, resolve(ROOT, dirname(file), s)));
    else packages.push(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]);
  }
  return { local, packages };
}

const FOLDERS = LAYERS.flat();
const ALL = FOLDERS.flatMap(sources);
const folderOf = (f: string) => f.split('/')[0];

describe('layout', () => {
  it('every source folder has a place in the layers, and every .ts file outside them is a test, bench or config', () => {
    const top = readdirSync(ROOT).filter((e) => !e.startsWith('.') && statSync(join(ROOT, e)).isDirectory() && sources(e).length && !['node_modules', 'test', 'bench', 'dist'].includes(e));
    expect(top.sort()).to.deep.equal([...FOLDERS].sort());
  });

  it('imports go only downward (type imports too): no folder imports its own rank or above', () => {
    const bad: string[] = [];
    for (const f of ALL)
      for (const t of importsOf(f).local) {
        const a = folderOf(f);
        const b = folderOf(t);
        if (a !== b && !(rank.get(b)! < rank.get(a)!)) bad.push(`${f} imports ${t}`);
      }
    expect(bad).to.deep.equal([]);
  });

  it('no module cycle', () => {
    const graph = new Map(ALL.map((f) => [f, importsOf(f).local.filter((t) => t.endsWith('.ts'))]));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') return void cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of ALL) visit(f, []);
    expect(cycles).to.deep.equal([]);
  });

  it('the browser page, its training worker and the onnx-gan/web entry reach no Node-only module (node: builtins, onnxruntime-node, file readers)', () => {
    const seen = new Set<string>();
    const bad: string[] = [];
    const walk = (f: string) => {
      if (seen.has(f)) return;
      seen.add(f);
      const { local, packages } = importsOf(f);
      for (const p of packages) if (p.startsWith('node:') || NODE_ONLY.includes(p)) bad.push(`${f} imports ${p}`);
      for (const t of local) walk(t);
    };
    walk('web/page.ts');
    walk('web/trainer-worker.ts');
    walk('api/web.ts');
    expect(bad).to.deep.equal([]);
    expect(seen.size).to.be.greaterThan(20);
  });

  it('the page and the onnx-gan/web entry bundle for a browser with esbuild, no node: module in them', async () => {
    for (const entry of ['web/page.ts', 'web/trainer-worker.ts', 'api/web.ts']) {
      const r = await build({ entryPoints: [join(ROOT, entry)], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
      expect(r.errors, entry).to.have.length(0);
      expect(r.outputFiles[0].text, entry).to.not.match(/from "node:|require\("(fs|path|os|child_process)"\)/);
    }
  });

  it('no file in cli/ is over 250 lines', () => {
    const long = sources('cli').map((f) => [f, readFileSync(join(ROOT, f), 'utf8').split('\n').length] as const).filter(([, n]) => n > 250);
    expect(long).to.deep.equal([]);
  });

  it('every module with logic is imported by a test of its own (test/<folder>/<name>.test.ts) or another test', () => {
    const tests = sources('test').filter((f) => !f.startsWith('test/fixtures'));
    const tested = new Set(tests.flatMap((t) => importsOf(t).local));
    // Modules of declarations only (types, constants) have no logic to test; the page and its worker are
    // entry points, tested in the browser (test/web/page.test.ts).
    const logic = (f: string) => /^export (async )?function |^export class |=>|^function /m.test(readFileSync(join(ROOT, f), 'utf8'));
    const untested = ALL.filter((f) => logic(f) && !tested.has(f) && !['cli/main.ts', 'runtime/forked-entry.ts', 'web/page.ts', 'web/trainer-worker.ts'].includes(f));
    expect(untested).to.deep.equal([]);
  });
});
