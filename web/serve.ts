// The page's static server: web/dist at /, and optionally a run directory at /run/ so the page can load
// its export (generator.onnx) and training artifacts (export/training/) by URL; Fashion-MNIST's files
// (Debian's dataset-fashion-mnist) at /data/fashion-mnist/ for image runs trained in the tab.
//   npm run web -- [run-dir] [--port 8080] [--no-build]
import { Command } from 'commander';
import { existsSync, realpathSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';
import { FASHION_MNIST_DIR } from '../data/paths.ts';
import { build, DIST } from './build.ts';
import { openRun } from '../run/open.ts';
import { within } from '../run/files.ts';

export interface Served {
  url: string;
  /** The page URL that opens the run's generator and artifacts, when a run is mounted. */
  pageUrl: string;
  /** What a person should know about the mounted run (an export it lacks). */
  notes: string[];
  close(): Promise<void>;
}

export async function serve(opts: { port?: number; host?: string; run?: string } = {}): Promise<Served> {
  if (!existsSync(resolve(DIST, 'app.js'))) throw new Error(`web: ${DIST} has no build; run \`npm run web\` (it builds first) or \`npx tsx web/build.ts\``);
  const run = opts.run ? openRun(opts.run, 'web').dir : null;
  // sirv serves what exists now (dev mode: the run's export may appear later); `confined` decides what it may.
  const app = confined(DIST, sirv(DIST, { dev: true, etag: true }));
  const files = run ? confined(run, sirv(run, { dev: true })) : null;
  const fmnist = confined(FASHION_MNIST_DIR, sirv(FASHION_MNIST_DIR, { dev: true }));
  const hosts = allowedHosts(opts.host);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const refuse = (code: number, text: string) => {
      res.statusCode = code;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(text);
    };
    // DNS rebinding: a page on another site whose name resolves here would send its own name as Host.
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    if (hosts && !hosts.has(host)) return refuse(403, `this server answers to ${[...hosts].join(', ')} only; start it with --host ${host || 'NAME'} to serve that name`);
    // Cross-origin isolation lets onnxruntime-web use WASM threads where a page asks for them.
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    const notFound = () => refuse(404, 'not found');
    // Fashion-MNIST from Debian's package, for image runs trained in the tab.
    if (req.url?.startsWith('/data/fashion-mnist/')) {
      req.url = req.url.slice('/data/fashion-mnist'.length);
      return fmnist(req, res, notFound);
    }
    if (files && req.url?.startsWith('/run/')) {
      req.url = req.url.slice('/run'.length);
      return files(req, res, notFound);
    }
    app(req, res, notFound);
  });
  await new Promise<void>((ok, bad) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      bad(e.code === 'EADDRINUSE' ? new Error(`web: port ${opts.port} on ${opts.host ?? '127.0.0.1'} is in use (another server?); pass --port N, or --port 0 for any free one`) : e),
    );
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}/`;
  const q: string[] = [];
  const notes = run && !existsSync(resolve(run, 'export/generator.onnx')) ? [`${run} has no export yet: the page opens nothing from it until \`npx onnx-gan export ${run}\` (then reload)`] : [];
  if (run && existsSync(resolve(run, 'export/generator.onnx'))) q.push('generator=/run/export/generator.onnx');
  if (run && existsSync(resolve(run, 'export/training/artifacts.json'))) q.push('artifacts=/run/export/training/');
  return {
    url,
    pageUrl: q.length ? `${url}?${q.join('&')}` : url,
    notes,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

type Handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/**
 * A static handler limited to `root`: no dotfile or dot-folder (.env, .git), nothing whose real path
 * (links followed) leaves the real path of root; anything else is `next()` (404).
 */
export function confined(root: string, serve: Handler): Handler {
  const base = existsSync(root) ? realpathSync(root) : resolve(root);
  return (req, res, next) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return next();
    }
    if (path.includes('\0') || path.split(/[/\\]/).some((seg) => seg.startsWith('.'))) return next();
    const file = resolve(base, `.${path}`);
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      return next();
    }
    if (!within(base, real)) return next();
    serve(req, res, next);
  };
}

/** The Host names the server answers to: loopback names, and --host's; null (any) when it listens on every address. */
function allowedHosts(host = '127.0.0.1'): Set<string> | null {
  if (host === '0.0.0.0' || host === '::' || host === '[::]') return null;
  return new Set(['localhost', '127.0.0.1', '[::1]', host.toLowerCase()]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const cli = new Command('web')
    .description('build the page and serve it; a run directory is mounted at /run/ (export it first)')
    .argument('[run]', 'run directory whose export/ the page opens')
    .option('--port <n>', 'port', '8080')
    .option('--host <addr>', 'address to listen on; the server answers to loopback names and this one (0.0.0.0: any name)', '127.0.0.1')
    .option('--no-build', 'serve the existing web/dist');
  cli.parse();
  const o = cli.opts();
  try {
    if (o.build) await build();
    const s = await serve({ port: Number(o.port), host: o.host, run: cli.args[0] });
    for (const n of s.notes) process.stderr.write(`web: ${n}\n`);
    console.log(`serving ${s.pageUrl}  (Ctrl-C stops)`);
  } catch (e) {
    process.stderr.write(`web: ${(e as Error).message.split('\n')[0].replace(/^web: /, '')}\n`);
    process.exit(1);
  }
}
