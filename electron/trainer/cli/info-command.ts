// `lab info [--backend <name>]`: versions, which compute backend the lab gets here and why
// the others are not used, and where the lab keeps its data.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { Option, type Command } from 'commander';
import { BACKEND_ORDER, selectBackend, type BackendAttempt, type BackendChoice, type BackendName, type BackendPurpose } from '../../../models/backend';
import { labDataDir } from '../../../datasets/data-dir';
import { otherCudaRuntimes } from '../../../models/backend-native';
import { CUDA_NEEDS } from '../../../models/backend-packages';
import { adapterLimits, describeAdapter, probeWebGpu } from '../../../models/backend-webgpu';
import { printOut } from './terminal-text';

/** The lab's version from its package.json, found by walking up from this file (works bundled or not). */
function labVersion(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'face-cnn-lab' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // no package.json here: keep walking
    }
    const parent = dirname(folder);
    if (parent === folder) return 'unknown';
    folder = parent;
  }
}

async function wasmVersion(): Promise<string> {
  try {
    const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as { version_wasm?: unknown };
    return typeof wasm.version_wasm === 'string' ? wasm.version_wasm : 'unknown';
  } catch {
    return 'not installed';
  }
}

type Outcome = { choice: BackendChoice } | { error: string };

async function choose(purpose: BackendPurpose, force: BackendName | undefined): Promise<Outcome> {
  try {
    return { choice: await selectBackend(force !== undefined ? { purpose, force } : { purpose }) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** One backend: "train" if it can train, "infer" if only inference, "no"; the reason from the training attempt. */
function attemptLine(name: BackendName, training: BackendAttempt | undefined, inference: BackendAttempt | undefined): string {
  const attempt = training ?? inference;
  if (attempt === undefined) return `  ${name.padEnd(15)} -      not tried (a backend before it was chosen)`;
  const status = attempt.canTrain || inference?.canTrain === true ? 'train' : attempt.ok || inference?.ok === true ? 'infer' : 'no';
  return `  ${name.padEnd(15)} ${status.padEnd(6)} ${attempt.reason}`;
}

function choiceLine(label: string, outcome: Outcome): string {
  if ('error' in outcome) return `${label} none: ${outcome.error}`;
  return `${label} ${outcome.choice.name} (tfjs backend '${outcome.choice.tfBackend}'): ${outcome.choice.summary}`;
}

/** The WebGPU adapters found (the one used, or why each is not), and a CUDA other than tfjs-node-gpu's, said plainly. */
async function gpuLines(training: Outcome): Promise<string[]> {
  const probe = await probeWebGpu();
  const lines = probe.adapters.length > 0 ? ['WebGPU adapters (Dawn):'] : [`WebGPU adapters (Dawn): none. ${probe.reason.replace(/^webgpu: /, '')}${probe.hint ? `. ${probe.hint}` : ''}`];
  const used = 'choice' in training ? training.choice.adapter : undefined;
  for (const adapter of probe.adapters) {
    const role = used !== undefined && describeAdapter(used) === describeAdapter(adapter) ? 'trains' : adapter.software !== null ? `software (${adapter.software}): only with --backend webgpu` : 'not used';
    lines.push(`  ${describeAdapter(adapter)}: ${adapterLimits(adapter)}; ${role}`);
  }
  const cuda = otherCudaRuntimes();
  if (cuda.length > 0) lines.push(`CUDA: this machine has ${cuda.join(', ')}; ${CUDA_NEEDS}, so an NVIDIA GPU trains through WebGPU instead`);
  return lines;
}

export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('print versions, the compute backend used for training and for inference (and why the others are not), and the data directory')
    .addOption(new Option('--backend <name>', 'check only this backend, as `train --backend` would use it').choices(BACKEND_ORDER))
    .action(async (flags: { backend?: BackendName }) => {
      const force = flags.backend;
      const training = await choose('train', force);
      const inference = await choose('infer', force);
      const lines = [
        `Face CNN Lab ${labVersion()}`,
        `Node.js ${process.versions.node} (${process.platform} ${process.arch})`,
        `TensorFlow.js ${tf.version.tfjs} (tfjs-core ${tf.version_core}, wasm backend ${await wasmVersion()})`,
        '',
        force === undefined ? 'Backends, in the order they are tried (train: can train; infer: inference only; no: not usable):' : `Backend ${force} (forced):`,
      ];
      const attempts = (outcome: Outcome): BackendAttempt[] => ('choice' in outcome ? outcome.choice.attempts : []);
      const names = force === undefined ? BACKEND_ORDER : [force];
      for (const name of names) {
        const trained = attempts(training).find((a) => a.name === name);
        const inferred = attempts(inference).find((a) => a.name === name);
        if (trained !== undefined || inferred !== undefined || 'choice' in training) lines.push(attemptLine(name, trained, inferred));
      }
      if (force === undefined || force === 'webgpu' || force === 'tensorflow-gpu') lines.push('', ...(await gpuLines(training)));
      lines.push('', choiceLine('Training: ', training), choiceLine('Inference:', inference), '', `Data directory: ${labDataDir()}`);
      printOut(`${lines.join('\n')}\n`);
    });
}
