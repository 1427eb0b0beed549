// `lab import` and `lab export`: PyTorch checkpoints in, PyTorch, ONNX and torchrun out.
import { Option, type Command } from 'commander';
import { labDataDir } from '../../../datasets';
import { EXPORT_FORMATS, exportRun, type ExportFormat } from '../interchange/export-run';
import { importCheckpoint } from '../interchange/import-checkpoint';
import { inputSizeArg } from './args';
import { printOut } from './terminal-text';

export function registerInterchangeCommands(program: Command): void {
  program
    .command('import')
    .description("make a run of a PyTorch Light CNN checkpoint (the published LightCNN-9/29/29 v2 files, or a train.py of `lab export --format torchrun`), to look inside and evaluate it")
    .argument('<checkpoint>', "a file torch.save wrote (.pth, .pt, .pth.tar; torch's zip or older format); it is parsed, never run")
    .option('--model <name>', 'the architecture, when the names do not tell it (lightcnn9, lightcnn29, lightcnn29v2, lightcnn4, tiny)')
    .option('--activation <spec>', 'the activation of every layer (default: the file\'s lab_config, else mfm:2/1 as published)')
    .option('--width <multiplier>', 'the width multiplier (default: from conv1\'s channels)', Number)
    .option('--input-size <px>', 'the input size (default: from the fc\'s inputs, 128 where it fits)', inputSizeArg)
    .option('--name <name>', 'a name for the run')
    .action(async (file: string, flags: { model?: string; activation?: string; width?: number; inputSize?: number; name?: string }) => {
      const result = await importCheckpoint(file, { dataDir: labDataDir(), ...flags });
      const { config, checkpoint, classifier } = result;
      printOut(
        [
          `Imported ${file} (${checkpoint.format === 'zip' ? "torch's zip format" : "torch's legacy format"}) as run ${result.run.id}`,
          `  ${config.model} at ${config.inputSize} px, width ${config.width}, activation ${config.activation}; ${result.parameters.toLocaleString('en')} parameters without the classifier`,
          `  classifier: ${classifier.present ? `${classifier.classes} identities` : 'none in the file (the embedding is what it gives)'}`,
          ...result.decisions.map((d) => `  ${d}`),
          ...(result.run.record.origin?.notes ?? []).map((n) => `  the file says ${n}`),
          `Evaluate it on a dataset of your own (LFW's protocol): npm run lab -- eval ${result.run.id} --data <faces> --pairs <pairs.txt>`,
          '',
        ].join('\n'),
      );
    });

  program
    .command('export')
    .description("write a run's network for PyTorch (state_dict + model.py), ONNX, or torchrun (the experiment, to train on several GPUs or machines)")
    .argument('<run>', 'run id (a unique prefix is enough), or "latest"')
    .addOption(new Option('--format <format>', 'what to write').choices(EXPORT_FORMATS).makeOptionMandatory())
    .option('--out <folder>', 'the folder to write (default: ./<run id>-<format>)')
    .option('--force', 'write into an existing non-empty folder, replacing files of the same names')
    .action(async (runRef: string, flags: { format: ExportFormat; out?: string; force?: boolean }) => {
      const result = await exportRun(runRef, { dataDir: labDataDir(), format: flags.format, ...(flags.out === undefined ? {} : { out: flags.out }), force: flags.force === true });
      printOut(`Exported run ${result.runId} (step ${result.step}) to ${result.dir}: ${result.files.join(', ')}\n`);
      if (result.format === 'torchrun') printOut(`Train it: cd ${result.dir} && torchrun --nproc_per_node=2 train.py --data <folder of identities>; bring a checkpoint back with npm run lab -- import <checkpoint>\n`);
      else printOut(`See ${result.dir}/README.md for loading it.\n`);
    });
}
