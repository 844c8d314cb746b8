// Mocha's root hooks: the tests (and the CLI processes they start, which inherit the environment) keep
// prepared image folders in a cache of their own, never the user's ~/.cache.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cache = mkdtempSync(join(tmpdir(), 'onnx-gan-test-cache-'));
process.env.ONNX_GAN_CACHE_DIR = cache;

export const mochaHooks = {
  afterAll: () => rmSync(cache, { recursive: true, force: true }),
};
