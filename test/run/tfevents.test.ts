// run/tfevents.ts: TensorBoard event files, read back by an independent reader (test/python/read_tfevents.py:
// Google's protobuf runtime against TensorFlow's field numbers, and the crc32c package for every record's
// masked CRC-32C), as written directly and as a run writes them.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pngGrid } from '../../data/image-files.ts';
import { EVENT_FILE_PREFIX, eventWriter, maskedCrc32c, tfRecord } from '../../run/tfevents.ts';
import { cli } from '../helpers.ts';

const PY = '/usr/bin/python3';
const READER = new URL('../python/read_tfevents.py', import.meta.url).pathname;

interface Read {
  records: number;
  crc_ok: boolean;
  events: { step: number; file_version?: string; session_log?: number; values?: { tag: string; kind: string; value?: number; width?: number; height?: number; png?: boolean; text?: string }[] }[];
}

function readBack(file: string): Read {
  const r = spawnSync(PY, [READER, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

describe('run/tfevents', function () {
  this.timeout(120000);
  let tmp: string;
  before(function () {
    const ok = spawnSync(PY, ['-c', 'import crc32c, google.protobuf']).status === 0;
    // CI installs python3-crc32c and python3-protobuf (.ci/run): there the reader must run.
    if (!ok && !process.env.CI) this.skip();
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-tfevents-'));
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  it("frames records as TFRecord does: the masked CRC-32C of the standard check value", () => {
    // crc32c('123456789') = 0xe3069283; masked: rotate right 15, add 0xa282ead8.
    const c = 0xe3069283;
    expect(maskedCrc32c(new TextEncoder().encode('123456789'))).to.equal((((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0);
    const r = tfRecord(Uint8Array.from([1, 2, 3]));
    expect(r.length).to.equal(19);
    expect(new DataView(r.buffer).getBigUint64(0, true)).to.equal(3n);
  });

  it('scalars, a PNG and text read back with every CRC valid; a resumed file starts with SessionLog START', () => {
    let t = 1_700_000_000;
    const w = eventWriter(tmp, { clock: () => t++ });
    w.text(0, 'config', '{"loss": "ns"}');
    w.scalars(10, { 'D.loss': 0.5, 'G.loss': -1.25, skipped: NaN });
    w.image(10, 'samples', pngGrid(new Float32Array(4 * 3 * 8 * 8).fill(0.5), [3, 8, 8], 2));
    const a = readBack(w.file);
    expect(a.crc_ok).to.equal(true);
    expect(a.records).to.equal(4);
    expect(a.events[0].file_version).to.equal('brain.Event:2');
    expect(a.events[1].values).to.deep.equal([{ tag: 'config', kind: 'text', text: '{"loss": "ns"}' }]);
    expect(a.events[2]).to.deep.include({ step: 10, values: [{ tag: 'D.loss', kind: 'scalar', value: 0.5 }, { tag: 'G.loss', kind: 'scalar', value: -1.25 }] });
    expect(a.events[3].values).to.deep.equal([{ tag: 'samples', kind: 'image', width: 22, height: 22, png: true }]);
    const resumed = eventWriter(tmp, { resumedAt: 10, clock: () => t++ });
    resumed.restart(5, 'rolled back');
    const b = readBack(resumed.file);
    expect(b.crc_ok).to.equal(true);
    expect(b.events.slice(1).map((e) => [e.step, e.session_log])).to.deep.equal([[10, 1], [5, 1]]);
  });

  it('a run writes one: its losses, learning rates and speed every --log-every, the samples image, the config', () => {
    const out = join(tmp, 'run');
    const r = cli(['train', '--loss', 'wgan-gp', '--hidden', '16,16', '--batch', '32', '--iterations', '40', '--log-every', '20', '--eval-samples', '100', '--out', out]);
    expect(r.code, r.err).to.equal(0);
    const files = readdirSync(out).filter((f) => f.startsWith(EVENT_FILE_PREFIX));
    expect(files).to.have.length(1);
    const e = readBack(join(out, files[0]));
    expect(e.crc_ok).to.equal(true);
    const tags = new Set(e.events.flatMap((x) => (x.values ?? []).map((v) => `${v.kind}:${v.tag}`)));
    for (const t of ['text:config', 'scalar:D.loss', 'scalar:G.loss', 'scalar:D.gp', 'scalar:lr/D', 'scalar:speed/iterations_per_s', 'scalar:eval/modes_captured', 'image:samples']) expect([...tags], t).to.include(t);
    expect(e.events.filter((x) => x.values?.some((v) => v.tag === 'D.loss')).map((x) => x.step)).to.deep.equal([20, 40]);
  });
});
