// One writer per run or sweep directory: an exclusive lock file holding who writes there (pid, host, the
// process's start time, the command). A second writer is refused naming the holder; a lock whose process
// is gone from this host (killed, its machine rebooted) is taken over with a message. The lock goes with the
// process: released on exit, and stale after a SIGKILL.
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { printable } from '../graph/serialize.ts';
import { makeDir, readJsonObject } from './files.ts';

export const LOCK_FILE = '.onnx-gan.lock';

const HolderSchema = z.object({
  pid: z.number().int().positive(),
  host: z.string().max(256),
  /** The process's start time in clock ticks since boot (Linux), so a reused pid is not mistaken for the holder. */
  start: z.number().int().nonnegative().nullable(),
  command: z.string().max(200),
  since: z.string().max(40),
  token: z.string().max(64),
});
type Holder = z.infer<typeof HolderSchema>;

/** A process's start time from /proc/<pid>/stat (field 22), or null where there is no /proc. */
function startTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return null;
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the holder's process is certainly gone: only a lock of this host can be judged. */
function stale(h: Holder): boolean {
  if (h.host !== hostname()) return false;
  if (!running(h.pid)) return true;
  const now = startTicks(h.pid);
  return h.start !== null && now !== null && now !== h.start;
}

function readHolder(file: string): Holder | null {
  try {
    const r = HolderSchema.safeParse(readJsonObject(file));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

// The holder's fields are read from a file anyone with write access to the folder could have written.
const describe = (h: Holder) => `${printable(h.command, 200)} (pid ${h.pid} on host ${printable(h.host)}, since ${printable(h.since)})`;

export interface DirLock {
  release(): void;
}

const held = new Map<string, string>();
let exitHook = false;

/**
 * Take `dir`'s lock for `command` (made with the folder if need be), or throw one line naming the holder.
 * `what` names the directory in messages ('run directory', 'sweep directory').
 */
export function lockDir(dir: string, command: string, what: string, say: (m: string) => void = () => {}): DirLock {
  makeDir(dir);
  const file = join(dir, LOCK_FILE);
  if (held.has(file)) throw new Error(`${what} ${dir} is already in use by this process`);
  const me: Holder = { pid: process.pid, host: hostname(), start: startTicks(process.pid), command: command.slice(0, 200), since: new Date().toISOString(), token: randomBytes(12).toString('hex') };
  // Written whole under a private name, then linked into place: link() fails if a lock exists, and a
  // reader never sees a half-written one.
  const tmp = `${file}.${me.token}`;
  writeFileSync(tmp, JSON.stringify(me) + '\n', { flag: 'wx' });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, file);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 3) throw e;
      }
      const h = readHolder(file);
      if (h && !stale(h)) throw new Error(`${what} ${dir} is in use by ${describe(h)}; wait for it to end or stop it${h.host === hostname() ? '' : ` (if it is gone, remove ${file})`}`);
      // Stale or unreadable: move it aside (one taker wins the rename), check it is the one judged, drop it.
      const aside = `${file}.stale-${randomBytes(6).toString('hex')}`;
      try {
        renameSync(file, aside);
      } catch {
        continue;
      }
      const moved = readHolder(aside);
      if (moved && h && moved.token !== h.token) {
        // Someone took the lock between our read and our rename: put theirs back and look again.
        try {
          linkSync(aside, file);
        } catch {
          /* a third process holds it now; the next attempt reads it */
        }
        unlinkSync(aside);
        continue;
      }
      unlinkSync(aside);
      say(h ? `${what} ${dir}: took over the lock of ${describe(h)}, which is no longer running` : `${what} ${dir}: replaced an unreadable lock file`);
    }
  } finally {
    unlinkSync(tmp);
  }
  held.set(file, me.token);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const f of [...held.keys()]) release(f);
    });
  }
  return { release: () => release(file) };
}

/** `fn` run while holding `dir`'s lock (see lockDir), released however it ends. */
export async function withLock<T>(dir: string, command: string, what: string, say: ((m: string) => void) | undefined, fn: () => Promise<T> | T): Promise<T> {
  const lock = lockDir(dir, command, what, say);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

function release(file: string): void {
  const token = held.get(file);
  if (token === undefined) return;
  held.delete(file);
  // Only our own lock: a directory removed and re-made by someone else keeps theirs.
  if (readHolder(file)?.token === token) rmSync(file, { force: true });
}

/** The live holder of `dir`'s lock, or null when it is free or its holder is gone. */
export function lockHolder(dir: string): string | null {
  const h = readHolder(join(dir, LOCK_FILE));
  return h && !stale(h) ? describe(h) : null;
}
