// Values from outside written into code and messages: model.py's Python literals, and the errors an
// imported model can make us print (a 5M-entry attribute, a tensor whose dims ask for terabytes).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { py } from '../../export/pytorch.ts';
import { Graph } from '../../graph/ir.ts';
import * as o from '../../graph/ops.ts';
import { check, ModelError, toBytes } from '../../graph/serialize.ts';
import { inside } from '../../run/files.ts';
import { renderSvg, scatterSpec } from '../../eval/plot.ts';
import { escapeHtml, markdownCell } from '../../sweep/report.ts';

const { onnx } = onnxProto;
const PYTHON = '/usr/bin/python3';

function model(mutate: (m: ReturnType<typeof onnx.ModelProto.decode>) => void): Uint8Array {
  const g = new Graph('m');
  const x = g.input('x', 'float32', [2, 3]);
  g.output(o.relu(x), 'y');
  const m = onnx.ModelProto.decode(toBytes(g));
  mutate(m);
  return onnx.ModelProto.encode(m).finish();
}

const messageOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
};

describe('security: values from outside in code, messages and paths', () => {
  it('model.py writes Python literals from the values themselves: no text inside a string becomes code', function () {
    const v = { classes: ['null', 'true', 'false', 'a"b', "c'd", 'e\\f', 'line\nbreak', '"""', '\u2028'], n: null, t: true, f: false, x: [1.5, -2, 0], nan: NaN };
    const text = py(v);
    expect(text).to.equal(String.raw`{"classes": ["null", "true", "false", "a\"b", "c'd", "e\\f", "line\nbreak", "\"\"\"", "` + '\u2028' + String.raw`"], "n": None, "t": True, "f": False, "x": [1.5, -2, 0], "nan": float('nan')}`);
    if (!existsSync(PYTHON)) return this.skip();
    // Python reads back exactly the values (literal_eval evaluates literals only; NaN is not one).
    const { nan: _nan, ...plain } = v;
    const r = spawnSync(PYTHON, ['-c', 'import ast, json, sys; print(json.dumps(ast.literal_eval(sys.stdin.read())))'], { input: py(plain), encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal(plain);
  });

  it("an imported model's huge attribute gives a short error naming the op and its first entries", () => {
    const perm = Array.from({ length: 5_000_000 }, (_, i) => i);
    const e = messageOf(() => check(model((m) => ((m.graph!.node![0].opType = 'Transpose'), (m.graph!.node![0].attribute = [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: perm }])))));
    expect(e).to.be.instanceOf(ModelError);
    expect(e.message.length).to.be.lessThan(300);
    expect(e.message).to.match(/\(Transpose\): perm \[0, 1, 2, 3, 4, 5, 6, 7, \.\.\. 4999992 more\] \(5000000 entries\) does not match rank 2/);
  });

  it("an initializer whose dims ask for 2^40 values is refused naming the tensor, before any allocation", () => {
    const e = messageOf(() => check(model((m) => m.graph!.initializer!.push({ name: 'huge', dataType: 1, dims: [2 ** 40] }))));
    expect(e).to.be.instanceOf(ModelError);
    expect(e.message).to.match(/tensor 'huge': 0 values, expected 1099511627776 for float32\[1099511627776\]/);
  });

  it('SVG plots hold their titles as escaped text', async () => {
    const svg = await renderSvg(scatterSpec(Float32Array.from([0, 0, 1, 1]), [[0, 0]], '<script>alert(1)</script> & "x"'));
    expect(svg).to.not.include('<script>');
    expect(svg).to.include('&lt;script&gt;alert(1)&lt;/script&gt; &amp;');
  });

  it('reports escape text for HTML and Markdown', () => {
    expect(escapeHtml(`<img src=x onerror="a('b')">&`)).to.equal('&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;');
    expect(markdownCell('a|b\n[x](javascript:y) <b>*c*</b> `d` _e_ \\')).to.equal('a\\|b \\[x\\](javascript:y) &lt;b&gt;\\*c\\*&lt;/b&gt; \\`d\\` \\_e\\_ \\\\');
  });

  it('paths built from outside data stay inside their folder', () => {
    expect(inside('/runs', ['abc', 'ring8-ns-s0'])).to.equal('/runs/abc/ring8-ns-s0');
    for (const parts of [['..', 'x'], ['a', '../../x'], ['/etc/passwd'], ['a\0b'], [''], ['.'], ['a', '..']]) expect(() => inside('/runs', parts), JSON.stringify(parts)).to.throw(/is not a relative path|leaves \/runs/);
  });
});
