// ONNX Loop written as a loop: named carried values go in, the body callback sees the iteration index and
// the current values and returns the next ones (and per-iteration values to stack), as a for-loop would.
// The body may read any value of the enclosing graphs; ONNX passes those in by outer scope. The same body
// can be unrolled instead, for providers that have no Loop.
import { attr, type Graph, type Value } from './ir.ts';
import { cast, concat, unsqueeze } from './ops.ts';

export interface LoopBody<C extends Record<string, Value>> {
  /** The carried values for the next iteration, under the same names. */
  next: C;
  /** Per-iteration values, returned stacked along a new first axis of length `trips`. */
  scans?: Record<string, Value>;
}

export interface LoopResult<C extends Record<string, Value>> {
  /** The carried values after the last iteration. */
  final: C;
  scans: Record<string, Value>;
}

function checkTrips(kind: string, name: string, trips: number): void {
  if (!Number.isInteger(trips) || trips < 1) throw new Error(`${kind} '${name}': trip count must be a positive integer, got ${trips}`);
}

/** A body returns exactly the carried names. */
function checkNext(kind: string, name: string, carried: Record<string, Value>, next: Record<string, Value>): void {
  for (const k of Object.keys(carried)) if (!next[k]) throw new Error(`${kind} '${name}': the body returns no next value for '${k}'`);
  for (const k of Object.keys(next)) if (!(k in carried)) throw new Error(`${kind} '${name}': the body returns '${k}', which is not carried`);
}

/** `for (i = 0; i < trips; i++) carried = body(i, carried)` as one ONNX Loop node in graph `g`. */
export function loop<C extends Record<string, Value>>(g: Graph, trips: number, carried: C, body: (i: Value, cur: C) => LoopBody<C>, name = 'body'): LoopResult<C> {
  checkTrips('loop', name, trips);
  const keys = Object.keys(carried);
  const sub = g.subgraph(name);
  const i = sub.freshInput('i', 'int64', []);
  const cond = sub.freshInput('cond', 'bool', []);
  const cur = Object.fromEntries(keys.map((k) => [k, sub.freshInput(`${k}.in`, carried[k].dtype, carried[k].shape)])) as C;
  const { next, scans = {} } = body(i, cur);
  checkNext('loop', name, carried, next);
  sub.output(cond);
  for (const k of keys) sub.output(next[k]);
  const scanKeys = Object.keys(scans);
  for (const k of scanKeys) sub.output(scans[k]);
  const trip = g.constant({ dtype: 'int64', dims: [], data: new BigInt64Array([BigInt(trips)]) }, 'trips');
  const outTypes = [
    ...keys.map((k) => ({ dtype: carried[k].dtype, shape: carried[k].shape })),
    ...scanKeys.map((k) => ({ dtype: scans[k].dtype, shape: scans[k].shape ? [trips, ...scans[k].shape!] : null })),
  ];
  const outs = g.addNode('Loop', [trip, null, ...keys.map((k) => carried[k])], outTypes, { body: attr.graph(sub) });
  return {
    final: Object.fromEntries(keys.map((k, j) => [k, outs[j]])) as C,
    scans: Object.fromEntries(scanKeys.map((k, j) => [k, outs[keys.length + j]])),
  };
}

/**
 * The same loop with its body written out `trips` times in `g` itself, for providers without a Loop
 * kernel (WebGPU): `i` is a constant each time, scans are stacked by one Concat.
 */
export function unrolled<C extends Record<string, Value>>(g: Graph, trips: number, carried: C, body: (i: Value, cur: C) => LoopBody<C>, name = 'body'): LoopResult<C> {
  checkTrips('unrolled loop', name, trips);
  let cur = carried;
  const scans: Record<string, Value[]> = {};
  for (let t = 0; t < trips; t++) {
    const r = body(g.constant({ dtype: 'int64', dims: [], data: new BigInt64Array([BigInt(t)]) }, `${name}.i`), cur);
    checkNext('unrolled loop', name, carried, r.next);
    cur = r.next;
    for (const [k, v] of Object.entries(r.scans ?? {})) (scans[k] ??= []).push(unsqueeze(v, [0]));
  }
  // WebGPU's Concat takes no bool: flags are stacked as floats.
  const stack = (vs: Value[]) => (vs[0].dtype === 'bool' ? cast(concat(vs.map((v) => cast(v, 'float32')), 0), 'bool') : concat(vs, 0));
  return { final: cur, scans: Object.fromEntries(Object.entries(scans).map(([k, vs]) => [k, vs.length === 1 ? vs[0] : stack(vs)])) };
}
