// The other end of runtime-node.ts's fork(): a process that opens CPU sessions and runs them for its
// parent, over a socket on fd 3 and two message files in the directory it is given (tensor-pipe.ts).
// Data-parallel shards run here because one process runs one session at a time (measured: two sessions'
// runs in one process, or one in each of two worker threads, barely overlap; two processes' do). It ends
// when its parent closes the socket or dies.
import { rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import type { TensorData } from '../graph/ir.ts';
import { nodeRuntime } from './node.ts';
import type { Feeds, ForkedRequest, Session } from './runtime.ts';
import { TensorPipe, type Message } from './tensor-pipe.ts';

const runtime = nodeRuntime('cpu');
const sessions = new Map<number, Session>();
let next = 0;

async function serve(r: ForkedRequest, tensors: Record<string, TensorData>): Promise<Message> {
  if (r.op === 'create') {
    const s = await runtime.createSession(tensors.model.data as Uint8Array, r.opts);
    sessions.set(++next, s);
    return { head: { session: next, inputNames: [...s.inputNames], outputNames: [...s.outputNames] }, tensors: {} };
  }
  const s = sessions.get(r.session!);
  if (!s) throw new Error(`forked runtime: no session ${r.session}`);
  if (r.op === 'release') {
    sessions.delete(r.session!);
    await s.release();
    return { head: {}, tensors: {} };
  }
  const out: Feeds = await s.run(tensors, r.outputs);
  return { head: {}, tensors: out };
}

const dir = process.argv[2];
const socket = new Socket({ fd: 3, readable: true, writable: true });
const pipe: TensorPipe = new TensorPipe(socket, join(dir, 'reply'), join(dir, 'request'), ({ head, tensors }) => {
  const r = head as unknown as ForkedRequest;
  serve(r, tensors).then(
    (m) => pipe.send({ head: { ...m.head, id: r.id }, tensors: m.tensors }),
    (e: Error) => pipe.send({ head: { id: r.id, error: e.message }, tensors: {} }),
  );
});
// The parent removes the directory when this process ends, unless it was killed first.
const end = () => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
socket.on('close', end);
socket.on('error', end);
