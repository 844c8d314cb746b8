// `onnx-gan export`: inference models and weights from a run, checked in onnxruntime-node and -web, by
// python3-onnx's checker and through PyTorch (both when Debian's packages are installed, as in .ci/run).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '../../graph/ir.ts';
import { exportRun } from '../../run/export.ts';
import { Rng } from '../../data/random.ts';
import { decodeSafetensors } from '../../training/checkpoint.ts';
import { webRuntime } from '../../runtime/web.ts';
import { BIN, relErr, rt } from '../helpers.ts';

const PY = '/usr/bin/python3';
const hasPy = (mod: string) => spawnSync(PY, ['-c', `import ${mod}`]).status === 0;

describe('export', function () {
  this.timeout(120000);
  let tmp: string;
  let files: string[];
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-export-'));
    // SN-GAN: the critic carries spectral norm's u, which the export must fold in.
    const r = spawnSync(process.execPath, [BIN, 'train', '--loss', 'sngan', '--hidden', '32,32', '--batch', '64', '--iterations', '30', '--checkpoint-every', '10', '--eval-samples', '100', '--out', join(tmp, 'run')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    files = (await exportRun(join(tmp, 'run'), { out: join(tmp, 'out') })).files;
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('generator.onnx and critic.onnx give the same outputs in onnxruntime-node and onnxruntime-web (1e-5)', async () => {
    const z = Rng.stream(1, 'z').fillNormal(new Float32Array(37 * 16)); // a batch size never used in training
    const web = webRuntime();
    const g = readFileSync(files[0]);
    const [a, b] = await Promise.all([rt.createSession(g), web.createSession(g)]);
    const [ra, rb] = [await a.run({ z: tensor('float32', [37, 16], z) }), await b.run({ z: tensor('float32', [37, 16], z) })];
    expect(ra.samples.dims).to.deep.equal([37, 2]);
    expect(relErr(ra.samples.data as Float32Array, rb.samples.data as Float32Array)).to.be.lessThan(1e-5);
    const d = readFileSync(files[1]);
    const [c, e] = await Promise.all([rt.createSession(d), web.createSession(d)]);
    const x = { x: ra.samples };
    const [sc, se] = [await c.run(x), await e.run(x)];
    expect(sc.score.dims).to.deep.equal([37, 1]);
    expect(relErr(sc.score.data as Float32Array, se.score.data as Float32Array)).to.be.lessThan(1e-5);
    for (const s of [a, b, c, e]) await s.release();
  });

  it('carries its metadata: latent size and distribution, output layout and range, loss, step, data, version', async () => {
    const { fromBytes } = await import('../../graph/serialize.ts');
    const m = fromBytes(readFileSync(files[0]));
    expect(m.metadata).to.include({ latent_size: '16', loss: 'sngan', data: 'ring8', step: '30', 'onnx-gan.version': '0.1.0' });
    expect(m.metadata.latent_distribution).to.match(/normal/);
    expect(m.graph.inputs.map((v) => v.name)).to.deep.equal(['z']); // weights are initializers, not inputs
  });

  it("passes python3-onnx's full checker", function () {
    if (!hasPy('onnx')) this.skip();
    for (const f of files.slice(0, 2)) {
      const r = spawnSync(PY, ['-c', `import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print('ok')`, f], { encoding: 'utf8' });
      expect(r.stdout.trim(), r.stderr).to.equal('ok');
    }
  });

  it('weights.safetensors loads in PyTorch and round-trips bit for bit', function () {
    if (!hasPy('torch')) this.skip();
    const back = join(tmp, 'back.safetensors');
    const r = spawnSync(PY, [new URL('../python/safetensors_roundtrip.py', import.meta.url).pathname, files[2], back], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const seen = JSON.parse(r.stdout) as Record<string, [number[], number]>;
    const ours = decodeSafetensors(readFileSync(files[2]));
    expect(Object.keys(seen).sort()).to.deep.equal(Object.keys(ours.tensors).sort());
    expect(seen['G.l0.weight'][0]).to.deep.equal([32, 16]); // PyTorch's [out, in] layout
    for (const [k, t] of Object.entries(ours.tensors)) {
      expect(seen[k][0], k).to.deep.equal(t.shape);
      expect(seen[k][1], k).to.be.closeTo(t.data.reduce((s, v) => s + v, 0), 1e-4 * (1 + Math.abs(seen[k][1])));
    }
    const again = decodeSafetensors(readFileSync(back));
    for (const [k, t] of Object.entries(ours.tensors)) expect(Buffer.from(again.tensors[k].data.buffer).equals(Buffer.from(t.data.buffer)), k).to.equal(true);
  });
});
