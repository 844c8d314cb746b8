// How to reach the sweep queue (BullMQ on Redis): its URL (redis:// or rediss://), a password from a file
// or the environment (never the command line, which `ps` shows), a CA for TLS; and the URL with its
// password redacted wherever it is printed or stored.
import { type ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

/** Where the queue's password may come from besides the URL (which `ps` shows); a run's process does not inherit it. */
export const PASSWORD_ENV = 'ONNX_GAN_REDIS_PASSWORD';

/** One queue serves every sweep; job ids are `<sweep id>.<run key>`. */
export const QUEUE_NAME = 'onnx-gan-runs';


/** How to reach the queue: its URL and, optionally, a file holding the password and a CA for rediss://. */
export interface QueueAccess {
  /** redis[s]://[user[:password]@]host:port[/db] */
  queue: string;
  passwordFile?: string;
  /** PEM file of the certificate authority that signed the server's certificate (rediss://). */
  caFile?: string;
}

const access = (a: string | QueueAccess): QueueAccess => (typeof a === 'string' ? { queue: a } : a);

/** The URL with its password shown as ***: what every message, hint and file says. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@');
  }
}

/** The URL without its password, for sweep.json: the password is given again where it is used. */
export function withoutPassword(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

/** Command-line arguments with any password in a URL shown as ***, for hints that repeat a command. */
export const redactArgs = (args: string[]) => args.map((a) => (/^rediss?:\/\//.test(a) ? redact(a) : a));

/** The file a flag names, or one line naming the flag, the file and why it cannot be read. */
function flagFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`${flag} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** redis[s]://[user[:password]@]host:port[/db] -> ioredis options; errors name the flag and never the password. */
export function redisOptions(a: string | QueueAccess, flag = '--queue'): { host: string; port: number; db: number; username?: string; password?: string; tls?: { ca?: Buffer; servername?: string } } {
  const { queue: url, passwordFile, caFile } = access(a);
  const shown = redact(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${flag} ${shown}: not a URL; expected redis://HOST:PORT[/DB] or rediss://HOST:PORT[/DB] (TLS)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`${flag} ${shown}: expected redis://HOST:PORT[/DB] or rediss://HOST:PORT[/DB] (got the scheme ${u.protocol})`);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`${flag} ${shown}: the database '${u.pathname.slice(1)}' is not a non-negative integer`);
  let password = u.password ? decodeURIComponent(u.password) : undefined;
  if (passwordFile) password = flagFile('--queue-password-file', passwordFile).toString('utf8').replace(/\r?\n$/, '');
  else if (!password && process.env[PASSWORD_ENV]) password = process.env[PASSWORD_ENV];
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  let tls: { ca?: Buffer; servername?: string } | undefined;
  if (u.protocol === 'rediss:') {
    // SNI carries names only: for an address the certificate is checked against its IP entries.
    tls = isIP(host) ? {} : { servername: host };
    if (caFile) tls.ca = flagFile('--queue-ca', caFile);
  } else if (caFile) throw new Error(`--queue-ca: ${shown} is not a TLS URL; use rediss://`);
  return { host, port: u.port ? Number(u.port) : 6379, db, ...(u.username ? { username: decodeURIComponent(u.username) } : {}), ...(password ? { password } : {}), ...(tls ? { tls } : {}) };
}

/** Fail fast, in one line, when Redis is not there (ioredis would otherwise retry forever). */
export async function checkReachable(a: string | QueueAccess): Promise<ConnectionOptions> {
  const o = redisOptions(a);
  const probe = new Redis({ ...o, lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause: Error | null = null;
  probe.on('error', (e) => (cause ??= e));
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    const why = (cause ?? (e as Error)).message.split('\n')[0];
    throw new Error(`--queue ${redact(access(a).queue)}: cannot reach Redis (${o.password ? why.split(o.password).join('***') : why})`);
  } finally {
    probe.disconnect();
  }
  // BullMQ's blocking commands need ioredis not to give up on a request.
  return { ...o, maxRetriesPerRequest: null };
}

export const jobId = (sweep: string, key: string) => `${sweep}.${key}`;
