// model.py for PyTorch users: the template's modules (MLP, PacGAN, DCGAN and ResNet generators and critics) and a loader for
// weights.safetensors, followed by this run's two architecture descriptions. Imported models have no
// description here: their ONNX files are what other frameworks load.
import { readFileSync } from 'node:fs';
import type { Model } from '../models/model.ts';

const KNOWN = new Set(['mlp', 'pacgan-generator', 'pacgan-critic', 'dcgan-generator', 'dcgan-critic', 'resnet-generator', 'resnet-critic']);
const TEMPLATE = new URL('./model_template.py', import.meta.url);

/**
 * A value as a Python literal, built from its parts: strings are JSON string literals (valid Python too,
 * escapes and all), so no text inside one is ever read as code.
 */
export function py(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? "float('nan')" : `float('${v > 0 ? '' : '-'}inf')`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(py).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${py(x)}`).join(', ')}}`;
  throw new Error(`model.py: cannot write a ${typeof v} as Python`);
}

/** The model.py source for these two networks, or null when one of them is not a built-in architecture. */
export function pytorchModule(generator: Model, critic: Model, classes: string[] = []): string | null {
  const [g, d] = [generator.describe(), critic.describe()];
  if (!KNOWN.has(String(g.kind)) || !KNOWN.has(String(d.kind))) return null;
  return `${readFileSync(TEMPLATE, 'utf8')}\n\n# This run's networks (onnx-gan describe()) and, for a class-conditional run, its class names.\nGENERATOR = ${py(g)}\nCRITIC = ${py(d)}\nCLASSES = ${py(classes)}\n`;
}
