// `onnx-gan export-loss`: one loss as an ONNX model.
import { Command } from 'commander';
import { isLoss, LOSSES } from '../../losses/index.ts';
import { exportLoss } from '../../export/loss.ts';
import { writeFileAtomic } from '../../run/files.ts';
import { lossFlags, numList } from '../options.ts';

export function exportLossCommand(cli: Command): void {
  lossFlags(cli.command('export-loss <name>'))
    .description('write a loss as an ONNX model: critic outputs in, losses and their gradients out')
    .option('--out <file>', 'output file (default loss-<name>.onnx)')
    .option('--sample-shape <list>', 'per-sample shape of the critic input, for a penalty', numList)
    .action((name: string, o) => {
      if (!isLoss(name)) throw new Error(`unknown loss '${name}'; valid losses: ${Object.keys(LOSSES).join(', ')}`);
      const bytes = exportLoss(name, { lambda: o.lambda, penalty: o.penalty, ls: o.ls, divergence: o.divergence, rho: o.rho, sampleShape: o.sampleShape });
      const out = o.out ?? `loss-${name}.onnx`;
      writeFileAtomic(out, bytes);
      console.log(`wrote ${out} (${bytes.length} bytes)`);
    });
}
