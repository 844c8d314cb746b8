// model.py for PyTorch users: the template's modules (MLP, PacGAN, DCGAN and ResNet generators and critics) and a loader for
// weights.safetensors, followed by this run's two architecture descriptions. Imported models have no
// description here: their ONNX files are what other frameworks load.
import { readFileSync } from 'node:fs';
import type { Model } from '../models/model.ts';

const KNOWN = new Set(['mlp', 'pacgan-generator', 'pacgan-critic', 'dcgan-generator', 'dcgan-critic', 'resnet-generator', 'resnet-critic']);
const TEMPLATE = new URL('./model_template.py', import.meta.url);

/** The model.py source for these two networks, or null when one of them is not a built-in architecture. */
export function pytorchModule(generator: Model, critic: Model, classes: string[] = []): string | null {
  const [g, d] = [generator.describe(), critic.describe()];
  if (!KNOWN.has(String(g.kind)) || !KNOWN.has(String(d.kind))) return null;
  const py = (v: unknown) => JSON.stringify(v).replace(/\btrue\b/g, 'True').replace(/\bfalse\b/g, 'False').replace(/\bnull\b/g, 'None');
  return `${readFileSync(TEMPLATE, 'utf8')}\n\n# This run's networks (onnx-gan describe()) and, for a class-conditional run, its class names.\nGENERATOR = ${py(g)}\nCRITIC = ${py(d)}\nCLASSES = ${py(classes)}\n`;
}
