// Files written so that nothing is ever half-written or written through a link someone planted: a temp file
// with a random name is created exclusively beside the target (O_EXCL refuses an existing file or link,
// O_NOFOLLOW a link), synced, and renamed over the target (which replaces a link at the target's place
// rather than writing through it). Paths built from outside data go through `inside`.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { jsonObject } from './json.ts';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

const TEMP_RE = /^\..+\.tmp-[0-9a-f]{16}$/;

/** A temp file writeFileAtomic left behind (a kill in the middle of a write); the target itself is intact. */
export const isTempFile = (name: string) => TEMP_RE.test(name);

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** mkdir -p that names the folder and the reason when it cannot (a read-only mount, no permission). */
export function makeDir(dir: string): void {
  // One level at a time from the deepest folder that exists: Node's recursive mkdir reports a refusing
  // parent as ENOENT on the leaf, and never returns under /proc.
  const missing: string[] = [];
  let at = resolve(dir);
  while (!existsSync(at) && dirname(at) !== at) {
    missing.unshift(at);
    at = dirname(at);
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      const code = errCode(e);
      if (code === 'EEXIST') continue;
      throw new Error(`cannot create the folder ${dir} (${dirname(d)} refuses new entries: ${code})`);
    }
  }
}

/** Open for writing without following a link at `path`; `flags` adds to O_WRONLY | O_NOFOLLOW. */
const openNoFollow = (path: string, flags: number) => openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW | flags, 0o644);

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

const asBytes = (data: Uint8Array | string) => (typeof data === 'string' ? new TextEncoder().encode(data) : data);

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  makeDir(dir);
  const tmp = join(dir, `.${basename(path)}.tmp-${randomBytes(8).toString('hex')}`);
  try {
    const fd = openNoFollow(tmp, constants.O_CREAT | constants.O_EXCL);
    try {
      writeAll(fd, asBytes(data));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`could not write ${path} (${errCode(e)}); the previous version, if any, is unchanged`);
  }
  try {
    const dfd = openSync(dir, 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    /* directories cannot be fsynced on every platform; the rename is still atomic */
  }
}

/** Remove a link found where one of our files or folders belongs (it is replaced, never followed). */
export function dropLink(path: string): void {
  if (lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) unlinkSync(path);
}

/** Append to a log file; a link at its place is removed first, never written through. */
export function appendFile(path: string, text: string | Uint8Array): void {
  dropLink(path);
  let fd: number;
  try {
    fd = openNoFollow(path, constants.O_CREAT | constants.O_APPEND);
  } catch (e) {
    throw new Error(`could not append to ${path} (${errCode(e)})`);
  }
  try {
    writeAll(fd, asBytes(text));
  } finally {
    closeSync(fd);
  }
}

/** A folder of ours inside a run or sweep directory: a link at its place is replaced by a real folder. */
export function ownDir(dir: string): string {
  dropLink(dir);
  makeDir(dir);
  return dir;
}

/**
 * `root` joined with `parts`, refused (naming `what`) unless it stays strictly inside root: no absolute
 * part, no `..` that climbs out, no NUL. The one check for every path built from outside data.
 */
export function inside(root: string, parts: string[], what = 'path'): string {
  const base = resolve(root);
  for (const p of parts) if (typeof p !== 'string' || p === '' || p.includes('\0') || isAbsolute(p)) throw new Error(`${what} ${JSON.stringify(p)} is not a relative path`);
  const full = resolve(base, ...parts);
  if (full === base || !within(base, full)) throw new Error(`${what} ${JSON.stringify(parts.join('/'))} leaves ${base}`);
  return full;
}

/** Whether the absolute `path` is `root` itself or lies below it (the one containment check). */
export function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** A JSON object from a file (a config a person wrote, a run directory read back); errors name the file. */
export function readJsonObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw Object.assign(new Error(`cannot read ${file}: ${errCode(e)}`), { code: (e as NodeJS.ErrnoException).code });
  }
  return jsonObject(text, file);
}
