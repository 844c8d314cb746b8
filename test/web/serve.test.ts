// web/serve.ts as a person meets it: a port already taken, and a run that was never exported, each said
// in one line with what to do. (What it refuses to serve: test/security/page-server.test.ts.)
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from '../../web/build.ts';
import { serve, type Served } from '../../web/serve.ts';

describe('web/serve', function () {
  this.timeout(120000);
  let tmp: string;
  let first: Served;
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-serve-'));
    writeFileSync(join(tmp, 'config.json'), JSON.stringify({ loss: 'ns' }));
    await build();
    first = await serve({ run: tmp });
  });
  after(async () => {
    await first?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a run without an export is served with a note saying how to export it', () => {
    expect(first.notes).to.deep.equal([`${tmp} has no export yet: the page opens nothing from it until \`npx onnx-gan export ${tmp}\` (then reload)`]);
    expect(first.pageUrl).to.equal(first.url);
  });

  it('a port in use is named, with --port as the way out', async () => {
    const port = Number(new URL(first.url).port);
    const e = await serve({ port }).then((s) => (s.close(), null), (x: Error) => x);
    expect(e?.message).to.equal(`web: port ${port} on 127.0.0.1 is in use (another server?); pass --port N, or --port 0 for any free one`);
  });
});
