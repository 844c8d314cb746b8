// `onnx-gan export`: a run's newest checkpoint as ONNX models, safetensors, model.py and training artifacts.
import { Command } from 'commander';
import { exportRun } from '../../api/index.ts';

export function exportCommand(cli: Command): void {
  cli
    .command('export <run>')
    .description("write generator.onnx, critic.onnx (inference only), weights.safetensors and training/ (artifacts to keep training) from a run's newest checkpoint, or from a checkpoint file")
    .option('--out <dir>', 'output directory (default <run>/export; for a checkpoint file outside a run, export/ beside it)')
    .option('--uint8', "also write generator_uint8.onnx: uint8 [N, 3, H, W] images, the output torch-fidelity's ONNX generator wrapper expects (image runs)")
    .option('--no-ema', "export the trained generator's own weights, not their average (runs trained with --ema)")
    .option('--json', 'print the result as one JSON object')
    .action(async (run: string, o) => {
      const r = await exportRun(run, { out: o.out, uint8: o.uint8, ema: o.ema === false ? false : undefined, onLog: (m) => void process.stderr.write(`${m}\n`) });
      if (o.json) console.log(JSON.stringify(r));
      else if (r.unchanged.length === r.files.length) console.log(`${r.out} already holds iteration ${r.iteration}; nothing changed`);
      else console.log(`exported iteration ${r.iteration} to ${r.out}:\n  ${r.files.map((f) => (r.unchanged.includes(f) ? `${f} (unchanged)` : f)).join('\n  ')}`);
    });
}
