// JSON objects from text that crossed a boundary, shape-checked only (a schema then says what they hold).
// No Node import: the browser page reads a run's config through it too.

/** Text that must hold a JSON object (a file's, a job's), shape-checked only: a schema then says what it holds. */
export function jsonObject(text: string, where: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where} is not JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where} is not a JSON object`);
  return v as Record<string, unknown>;
}
