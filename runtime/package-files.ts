// Files of this package found from any module, whether it runs as TypeScript from the checkout or as the
// compiled JavaScript under dist/ of an installed package: the package root is the nearest folder above
// the module whose package.json is ours.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

export function packageRoot(): string {
  if (root) return root;
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'onnx-gan') return (root = dir);
  }
  throw new Error(`onnx-gan: no package.json of onnx-gan above ${fileURLToPath(import.meta.url)}`);
}

/** A file of the package by its path from the package root (bin/onnx-gan.js, package.json). */
export const packageFile = (path: string): string => join(packageRoot(), path);
