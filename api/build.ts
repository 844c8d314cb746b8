// `npm run build` (and `npm pack`, through prepack): the library compiled to dist/ with declaration files,
// by the TypeScript compiler over tsconfig.build.json, plus the non-TypeScript files the modules read.
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageRoot } from '../runtime/package-files.ts';

const root = packageRoot();
rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
copyFileSync(join(root, 'export/model_template.py'), join(root, 'dist/export/model_template.py'));
console.log(`built ${join(root, 'dist')}`);
