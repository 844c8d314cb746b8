// The page's server (web/serve.ts) with a run directory mounted: no dotfiles, nothing outside the real path
// of a served folder, and only loopback Host names unless --host names another (DNS rebinding).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from '../../web/build.ts';
import { serve, type Served } from '../../web/serve.ts';

/** GET `path` with the Host header given (or the server's own). */
function get(url: string, path: string, host?: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((done, fail) => {
    const req = request({ host: u.hostname, port: u.port, path, headers: host ? { host } : {} }, (res) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => done({ status: res.statusCode!, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('security: the page server', function () {
  this.timeout(120000);
  let tmp: string;
  let server: Served;
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-sec-web-'));
    const run = join(tmp, 'run');
    mkdirSync(join(run, '.git'), { recursive: true });
    mkdirSync(join(run, 'export'));
    writeFileSync(join(run, '.env'), 'TOKEN=secret-env\n');
    writeFileSync(join(run, '.git', 'config'), '[remote] secret-git\n');
    writeFileSync(join(run, 'export', 'generator.onnx'), 'model bytes');
    writeFileSync(join(run, 'config.json'), JSON.stringify({ loss: 'ns' }));
    writeFileSync(join(tmp, 'outside.txt'), 'secret-outside\n');
    symlinkSync(join(tmp, 'outside.txt'), join(run, 'export', 'link.txt'));
    symlinkSync(tmp, join(run, 'up'));
    await build();
    server = await serve({ run });
  });
  after(async () => {
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('serves the run\'s files and the page', async () => {
    expect(await get(server.url, '/run/export/generator.onnx')).to.deep.equal({ status: 200, body: 'model bytes' });
    expect((await get(server.url, '/')).status).to.equal(200);
  });

  it('no dotfile or dot-folder, however the path is spelled', async () => {
    for (const p of ['/run/.env', '/run/.git/config', '/run/%2Eenv', '/run/export/../.env', '/run/./.git/config', '/run/%2e%2e/outside.txt', '/.env']) {
      const r = await get(server.url, p);
      expect(r.status, p).to.equal(404);
      expect(r.body, p).to.not.match(/secret/);
    }
  });

  it('no file whose real path leaves the served folder (links are resolved first)', async () => {
    for (const p of ['/run/export/link.txt', '/run/up/outside.txt', '/run/up/run/.env']) {
      const r = await get(server.url, p);
      expect(r.status, p).to.equal(404);
      expect(r.body, p).to.not.match(/secret/);
    }
  });

  it('answers loopback Host names only, unless --host names another', async () => {
    expect((await get(server.url, '/run/export/generator.onnx', 'localhost:8080')).status).to.equal(200);
    expect((await get(server.url, '/run/export/generator.onnx', '127.0.0.1')).status).to.equal(200);
    const rebound = await get(server.url, '/run/export/generator.onnx', 'attacker.example:8080');
    expect(rebound.status).to.equal(403);
    expect(rebound.body).to.match(/answers to .*localhost.* only; start it with --host attacker\.example/);
    // --host 127.0.0.2 (any 127/8 address is this machine on Linux): that name is served too.
    const named = await serve({ host: '127.0.0.2', run: join(tmp, 'run') });
    try {
      expect((await get(named.url, '/run/export/generator.onnx', '127.0.0.2:80')).status).to.equal(200);
      expect((await get(named.url, '/run/export/generator.onnx', 'attacker.example')).status).to.equal(403);
    } finally {
      await named.close();
    }
  });
});
