// `lab export <run> --format pytorch|onnx|torchrun`: a run's network for other tools.
//   pytorch   model.pt (a state_dict with the reference's names, torch's zip format, read by
//             torch.load(..., weights_only=True)), model.py (the architecture with its
//             activations in plain PyTorch), config.json (the run's settings), README.md
//   onnx      model.onnx (image -> embedding; and -> logits when the run has a classifier),
//             config.json, README.md
//   torchrun  model.py, train.py, config.json, README.md: the same experiment under
//             torchrun (DDP on CPUs or GPUs), whose checkpoints `lab import` reads back; and
//             init.pt, the run's weights (a state_dict as model.pt; without fc2 when the run has
//             no classifier of its own), that `train.py --init init.pt` trains further
// Everything goes into one new folder; an existing non-empty folder is refused unless forced.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BuiltModel } from '../../../models/lightcnn';
import { labToTorch, torchParams } from '../../../models/torch-layout';
import { errorCode } from '../../../files/file-error';
import type { RunHandle } from '../runs/run-store';
import { InterchangeError } from './interchange-error';
import { modelPy } from './model-py';
import { onnxModel } from './onnx-export';
import { loadRunModel } from './run-weights';
import { torchrunFiles } from './torchrun-folder';
import { writeStateDict, type StateDictEntry } from './torch-writer';

export const EXPORT_FORMATS = ['pytorch', 'onnx', 'torchrun'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  readonly dataDir: string;
  readonly format: ExportFormat;
  /** The folder to write (default: ./<run id>-<format>). */
  readonly out?: string;
  /** Write into an existing non-empty folder, replacing files of the same names. */
  readonly force?: boolean;
}

export interface ExportResult {
  readonly runId: string;
  readonly step: number;
  readonly format: ExportFormat;
  readonly dir: string;
  readonly files: readonly string[];
}

/** The model's weights as a state_dict with the reference's names and layouts. */
export async function stateDictOf(built: BuiltModel): Promise<StateDictEntry[]> {
  const variables = new Map(built.model.weights.map((w) => [w.originalName, w]));
  const entries: StateDictEntry[] = [];
  for (const param of torchParams(built)) {
    const variable = variables.get(param.lab);
    if (variable === undefined) throw new Error(`internal: no variable ${param.lab}`);
    const values = (await variable.read().data()) as Float32Array;
    entries.push({ name: param.torch, shape: param.torchShape, values: labToTorch(param, values) });
  }
  return entries;
}

async function prepareFolder(dir: string, force: boolean): Promise<void> {
  const existing = await readdir(dir).catch((error: unknown) => {
    if (errorCode(error) === 'ENOENT') return [];
    throw new InterchangeError(`The export folder cannot be read (${errorCode(error) ?? (error as Error).message})`, 'Choose another folder with --out', dir);
  });
  if (existing.length > 0 && !force) throw new InterchangeError('The export folder exists and is not empty', 'Choose another folder with --out, or pass --force to replace the files of the same names', dir);
  await mkdir(dir, { recursive: true }).catch((error: unknown) => {
    throw new InterchangeError(`The export folder cannot be created (${errorCode(error) ?? (error as Error).message})`, 'Choose another folder with --out', dir);
  });
}

export async function exportRun(runRef: string | RunHandle, options: ExportOptions): Promise<ExportResult> {
  const { run, config, built, step } = await loadRunModel(options.dataDir, runRef);
  try {
    const dir = resolve(options.out ?? `${run.id}-${options.format}`);
    const configJson = `${JSON.stringify({ ...config, labRun: run.id, labStep: step }, null, 2)}\n`;
    const classifier = run.record.origin?.classifier ?? true;
    const files = new Map<string, string | Uint8Array>();
    if (options.format === 'pytorch') {
      files.set('model.py', modelPy(built));
      files.set('config.json', configJson);
      files.set('README.md', pytorchReadme(run.id, step, classifier));
    } else if (options.format === 'onnx') {
      files.set('model.onnx', await onnxModel(built, { classifier }));
      files.set('config.json', configJson);
      files.set('README.md', onnxReadme(run.id, step, config.inputSize, classifier));
    } else {
      for (const [name, text] of Object.entries(torchrunFiles(built, config, { runId: run.id, step, classifier }))) files.set(name, text);
    }
    await prepareFolder(dir, options.force ?? false);
    const written: string[] = [];
    if (options.format === 'pytorch') {
      // The run's settings go inside too, so that `lab import model.pt` rebuilds this very network.
      await writeStateDict(join(dir, 'model.pt'), await stateDictOf(built), { extra: { 'lab_config.json': configJson } });
      written.push('model.pt');
    } else if (options.format === 'torchrun') {
      // The weights train.py --init starts from; a classifier the run never had (zeros) is left out, so that train.py starts it afresh.
      const entries = (await stateDictOf(built)).filter((e) => classifier || !e.name.startsWith('fc2.'));
      await writeStateDict(join(dir, 'init.pt'), entries, { extra: { 'lab_config.json': configJson } });
      written.push('init.pt');
    }
    for (const [name, content] of files) {
      await writeFile(join(dir, name), content).catch((error: unknown) => {
        throw new InterchangeError(`${name} could not be written (${errorCode(error) ?? (error as Error).message})`, 'Check the space and permissions of the folder, or choose another with --out', dir);
      });
      written.push(name);
    }
    return { runId: run.id, step, format: options.format, dir, files: written };
  } finally {
    built.model.dispose();
  }
}

function pytorchReadme(runId: string, step: number, classifier: boolean): string {
  return `# Face CNN Lab run ${runId}, step ${step}, for PyTorch

\`\`\`python
import torch
from model import build_model

model = build_model()
model.load_state_dict(torch.load('model.pt', weights_only=True))
model.eval()
logits, embedding = model(images)  # images: float32 [N, 1, S, S], grey, as the lab prepares them
\`\`\`

- model.pt: the weights, with the names of the Light CNN reference (AlfredXiangWu/LightCNN light_cnn.py).
- model.py: the network with this run's activations, in plain PyTorch.
- config.json: the run's settings (architecture, input size, activations, optimiser, schedule, seed).
${classifier ? '' : '- The run was imported without an identity classifier: fc2 holds zeros; use the embedding.\n'}`;
}

function onnxReadme(runId: string, step: number, inputSize: number, classifier: boolean): string {
  return `# Face CNN Lab run ${runId}, step ${step}, as ONNX

model.onnx takes \`image\`, float32 [N, 1, ${inputSize}, ${inputSize}] (grey, as the lab prepares faces), and gives
\`embedding\` [N, 256]${classifier ? ' and `logits` (the identity classifier)' : ''}.

\`\`\`python
import onnxruntime
session = onnxruntime.InferenceSession('model.onnx')
embedding = session.run(['embedding'], {'image': images})[0]
\`\`\`
`;
}
