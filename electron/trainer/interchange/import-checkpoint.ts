// `lab import <checkpoint>`: a PyTorch Light CNN checkpoint becomes a run the lab can look
// inside and evaluate like its own.
//
// Which network the file holds: its `lab_config` when the lab's exported train.py wrote it;
// otherwise the state_dict's names tell the architecture (LightCNN-9's features.N, LightCNN-29's
// block/group, v2's plain fc), conv1's channels the width, and the fc's inputs the input
// size; the activation is MFM 2/1, the published networks' one, unless given. Every tensor
// is then checked against the model the lab builds, and a file that does not fit is refused
// naming the tensor and why. The run is marked imported (run.json's `origin`): it has no
// training dataset, never resumes, and is evaluated on a dataset the user names.
import { rm } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { channelFactor, parseActivation, type ActivationSpec } from '../../../models/activations/spec';
import { ARCHITECTURE_NAMES, ARCHITECTURES, isArchitectureName, type ArchitectureName } from '../../../models/lightcnn-architectures';
import { traceSpatial, type Block, type TorchNaming } from '../../../models/lightcnn-blocks';
import { DEFAULT_INPUT_SIZE, ModelConfigError, type BuiltModel } from '../../../models/lightcnn';
import { torchModulesOfBlocks, torchParams, torchToLab, type TorchParam } from '../../../models/torch-layout';
import { LAB_VERSION } from '#protocol/version';
import type { RunOrigin } from '#protocol/run-record';
import { checkRunName, createRun, type RunHandle } from '../runs/run-store';
import type { NamedArray } from '../runs/checkpoint';
import { ConfigError, parseTrainConfig, type TrainConfig } from '../training/config';
import { buildFromConfig } from '../training/run-model';
import { InterchangeError } from './interchange-error';
import { readTorchCheckpoint, type TorchCheckpoint, type TorchTensor } from './torch-checkpoint';

export interface ImportOptions {
  readonly dataDir: string;
  /** Overrides for what the file does not say (or says wrongly). */
  readonly model?: string;
  readonly inputSize?: number;
  readonly width?: number;
  readonly activation?: string;
  /** A name for the run (its displayName). */
  readonly name?: string;
}

export interface ImportResult {
  readonly run: RunHandle;
  readonly checkpoint: Pick<TorchCheckpoint, 'format' | 'sha256' | 'bytes' | 'stateDictKey' | 'strippedModulePrefix' | 'info'>;
  readonly config: TrainConfig;
  /** How each setting was decided, in words. */
  readonly decisions: readonly string[];
  readonly classifier: { readonly present: boolean; readonly classes: number };
  readonly parameters: number;
}

/** The lab's settings a file's `lab_config` may give (the rest are the lab's defaults). */
const MODEL_KEYS = ['model', 'inputSize', 'width', 'activation', 'layers', 'init', 'dropout', 'seed'] as const;

/** Reads, checks and imports `file` into a new run. */
export async function importCheckpoint(file: string, options: ImportOptions): Promise<ImportResult> {
  const path = resolve(file);
  if (options.name !== undefined) checkRunName(options.name); // refused before the file is read
  const checkpoint = await readTorchCheckpoint(path);
  const decisions: string[] = [];
  if (checkpoint.strippedModulePrefix) decisions.push("names: DataParallel's module. prefix removed");
  if (checkpoint.stateDictKey !== '') decisions.push(`weights: the dict's "${checkpoint.stateDictKey}"`);
  const settings = modelSettings(checkpoint, options, decisions);
  const fc2 = checkpoint.tensors.get('fc2.weight');
  const classes = fc2?.shape.length === 2 ? (fc2.shape[0] as number) : 0;
  const classifierPresent = classes >= 2 && classifierFits(checkpoint, String(settings['model']), decisions);
  let config: TrainConfig;
  try {
    config = parseTrainConfig({ data: `imported:${basename(path)}`, ...settings });
  } catch (error) {
    if (error instanceof ConfigError) throw new InterchangeError(`the network's settings are not ones the lab can build (${error.message})`, 'Give them with --model, --input-size, --width and --activation', path);
    throw error;
  }
  let built: BuiltModel;
  try {
    built = buildFromConfig(config, classifierPresent ? classes : 2);
  } catch (error) {
    if (error instanceof ModelConfigError) throw new InterchangeError(`the lab cannot build this network: ${error.message}`, 'Give the settings with --model, --input-size, --width and --activation', path);
    throw error;
  }
  try {
    const params = torchParams(built);
    const arrays = labArrays(params, checkpoint, classifierPresent, path);
    const parameters = arrays.filter((a) => !a.name.startsWith('weights/classifier/')).reduce((sum, a) => sum + a.values.length, 0);
    const origin: RunOrigin = { kind: 'imported', file: path, sha256: checkpoint.sha256, format: checkpoint.format, classifier: classifierPresent, notes: [...checkpoint.info].filter(([k]) => k !== 'lab_config').map(([k, v]) => `${k}: ${v}`) };
    // Created whole: run.json says "imported" from its first write, and a failure before the
    // weights are saved removes the folder again (no half-made run that looks lab-trained).
    const run = await createRun(options.dataDir, {
      config: config as unknown as Record<string, unknown>,
      dataset: { name: 'none (imported weights)', source: path, hash: '', identities: classifierPresent ? classes : 0, images: 0, synthetic: false },
      backend: 'pytorch (imported)',
      versions: { lab: LAB_VERSION },
      label: `${config.model}_imported`,
      state: 'finished',
      origin,
      ...(options.name === undefined ? {} : { displayName: options.name }),
    });
    try {
      await run.saveCheckpoint({ step: 0, epoch: 0, meta: { imported: true, sha256: checkpoint.sha256 }, tensors: arrays });
    } catch (error) {
      await rm(run.dir, { recursive: true, force: true });
      throw error;
    }
    const { tensors: _tensors, ...about } = checkpoint;
    return { run, checkpoint: about, config, decisions, classifier: { present: classifierPresent, classes }, parameters };
  } finally {
    built.model.dispose();
  }
}

// ---------------------------------------------------------------- what the file holds

/** The model settings: the file's lab_config, else inferred from the names and shapes; options win. */
function modelSettings(checkpoint: TorchCheckpoint, options: ImportOptions, decisions: string[]): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  const labConfig = checkpoint.info.get('lab_config');
  if (labConfig !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(labConfig);
    } catch {
      throw new InterchangeError('the checkpoint\'s lab_config is not JSON', 'Give the settings with --model, --input-size, --width and --activation');
    }
    if (typeof parsed === 'object' && parsed !== null) for (const key of MODEL_KEYS) if (key in parsed) settings[key] = (parsed as Record<string, unknown>)[key];
    decisions.push("settings: the lab's own, saved in the file (lab_config)");
  }
  if (options.model !== undefined) settings['model'] = options.model;
  if (options.activation !== undefined) settings['activation'] = options.activation;
  if (options.width !== undefined) settings['width'] = options.width;
  if (options.inputSize !== undefined) settings['inputSize'] = options.inputSize;
  if (settings['model'] === undefined) {
    const found = architectureOf(checkpoint.tensors);
    settings['model'] = found;
    decisions.push(`architecture: ${ARCHITECTURES[found].title}, from the tensors' names`);
  }
  const model = String(settings['model']);
  if (!isArchitectureName(model)) throw new InterchangeError(`unknown architecture "${model}"`, `Choose one of ${ARCHITECTURE_NAMES.join(', ')}`);
  const architecture = ARCHITECTURES[model];
  if (settings['activation'] === undefined) {
    settings['activation'] = 'mfm:2/1';
    decisions.push('activation: MFM 2/1 everywhere, as in the published Light CNNs (give --activation otherwise)');
  }
  let activation: ActivationSpec;
  try {
    activation = parseActivation(String(settings['activation']));
  } catch (error) {
    throw new InterchangeError(`--activation: ${(error as Error).message}`, 'Give an activation the lab knows, e.g. mfm:2/1 or relu');
  }
  if (settings['width'] === undefined) {
    const width = widthOf(architecture.blocks, architecture.torch, checkpoint.tensors, activation);
    settings['width'] = width;
    decisions.push(`width: ${width} (conv1's channels)`);
  }
  if (settings['inputSize'] === undefined) {
    const { size, fits } = inputSizeOf(architecture.blocks, checkpoint.tensors, activation, Number(settings['width']), architecture.torch.fc);
    settings['inputSize'] = size;
    const range = fits.length === 1 ? `only ${size} px gives` : `${fits[0]}-${fits[fits.length - 1]} px all give`;
    decisions.push(`input size: ${size} px (${range} the fc's inputs; the file cannot tell which one it was trained at: give --input-size if not ${size})`);
  }
  return settings;
}

/** The architecture whose linear layers have exactly the file's names. */
function architectureOf(tensors: ReadonlyMap<string, TorchTensor>): ArchitectureName {
  const names = new Set([...tensors.keys()].filter((k) => k.endsWith('.weight') && !k.endsWith('.act.weight') && k !== 'fc2.weight'));
  for (const name of ARCHITECTURE_NAMES) {
    const expected = linearWeightNames(name);
    if (expected.size === names.size && [...expected].every((n) => names.has(n))) return name;
  }
  const sample = [...names].slice(0, 6).join(', ');
  throw new InterchangeError(
    `its tensors do not match any Light CNN the lab builds (${names.size} weight tensors: ${sample}${names.size > 6 ? ', ...' : ''})`,
    `The lab reads LightCNN-9, LightCNN-29 and LightCNN-29 v2 with the reference's names (AlfredXiangWu/LightCNN light_cnn.py); for another network give --model (${ARCHITECTURE_NAMES.join(', ')}) and check its names`,
  );
}

/** The names of every conv and fc weight of an architecture, as the reference calls them. */
function linearWeightNames(name: ArchitectureName): Set<string> {
  const architecture = ARCHITECTURES[name];
  // A unit's module holds a `filter`; v2's plain fc is a bare Linear.
  const modules = torchModulesOfBlocks(architecture.blocks, architecture.torch);
  const names = new Set([...modules.values()].map((m) => `${m}.filter.weight`));
  const fc = architecture.blocks.find((b) => b.type === 'fc');
  if (fc?.type === 'fc' && !fc.activation) names.add(`${architecture.torch.fc}.weight`);
  return names;
}

/** The width multiplier conv1's output channels give (its activation decides how many it makes). */
function widthOf(blocks: readonly Block[], naming: TorchNaming, tensors: ReadonlyMap<string, TorchTensor>, activation: ActivationSpec): number {
  const first = blocks[0];
  const module = first === undefined ? undefined : torchModulesOfBlocks(blocks, naming).get(first.name);
  const weight = module === undefined ? undefined : tensors.get(`${module}.filter.weight`);
  if (first?.type !== 'conv' || weight === undefined || weight.shape.length !== 4) return 1;
  const { num, den } = channelFactor(activation);
  const outputs = ((weight.shape[0] as number) * den) / num;
  const width = Math.round((outputs / first.out) * 1000) / 1000;
  return width > 0 ? width : 1;
}

/** The input size whose last map, flattened, makes as many inputs as the fc takes: 128 when it fits. */
function inputSizeOf(blocks: readonly Block[], tensors: ReadonlyMap<string, TorchTensor>, activation: ActivationSpec, width: number, fcName: string): { size: number; fits: number[] } {
  const fc = tensors.get(`${fcName}.filter.weight`) ?? tensors.get(`${fcName}.weight`);
  const lastConv = [...blocks].reverse().find((b) => b.type === 'conv' || b.type === 'group');
  if (fc === undefined || fc.shape.length !== 2 || lastConv === undefined || !('out' in lastConv)) return { size: DEFAULT_INPUT_SIZE, fits: [DEFAULT_INPUT_SIZE] };
  const multiple = channelFactor(activation).den;
  const channels = Math.max(multiple, Math.round((lastConv.out * width) / multiple) * multiple);
  const features = fc.shape[1] as number;
  const fits: number[] = [];
  for (let size = 16; size <= 512; size++) {
    const trace = traceSpatial(blocks, size);
    const side = trace[trace.length - 1]?.outputSize ?? 0;
    if (side * side * channels === features) fits.push(size);
  }
  if (fits.length === 0) {
    throw new InterchangeError(`the fc takes ${features} inputs, which no input size from 16 to 512 px gives with ${channels} channels`, 'Give --model, --width and --input-size');
  }
  const pools = blocks.filter((b) => b.type === 'pool').length;
  return { size: fits.find((s) => s === DEFAULT_INPUT_SIZE) ?? fits.find((s) => s % 2 ** pools === 0) ?? (fits[0] as number), fits };
}

/**
 * Whether the file's classifier (fc2) has the tensors the architecture's has: LightCNN-9 and -29
 * have a bias, v2 none. One that does not is left out, said in the decisions: evaluation and
 * looking inside need only the embedding.
 */
function classifierFits(checkpoint: TorchCheckpoint, model: string, decisions: string[]): boolean {
  if (!isArchitectureName(model)) return false;
  const wantsBias = ARCHITECTURES[model].classifierBias;
  const hasBias = checkpoint.tensors.has('fc2.bias');
  const others = [...checkpoint.tensors.keys()].filter((k) => k.startsWith('fc2.') && k !== 'fc2.weight' && k !== 'fc2.bias');
  if (hasBias === wantsBias && others.length === 0) return true;
  decisions.push(`classifier: left out, the file's fc2 ${hasBias ? 'has a bias' : 'has no bias'}${others.length > 0 ? ` and ${others.join(', ')}` : ''} where ${ARCHITECTURES[model].title}'s ${wantsBias ? 'has one' : 'has none'}; the embedding is what the run gives`);
  return false;
}

// ---------------------------------------------------------------- weights

/** Every lab weight from the file, in the lab's layout, checked name by name and shape by shape. */
function labArrays(params: readonly TorchParam[], checkpoint: TorchCheckpoint, classifierPresent: boolean, path: string): NamedArray[] {
  const wanted = params.filter((p) => classifierPresent || !p.classifier);
  const missing = wanted.filter((p) => !checkpoint.tensors.has(p.torch));
  const known = new Set(params.map((p) => p.torch));
  const extra = [...checkpoint.tensors.keys()].filter((k) => !known.has(k) && !(k.startsWith('fc2.') && !classifierPresent));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [];
    if (missing.length > 0) parts.push(`it lacks ${list(missing.map((p) => `${p.torch} (${p.what})`))}`);
    if (extra.length > 0) parts.push(`it has tensors this network does not: ${list(extra)}`);
    throw new InterchangeError(`the checkpoint does not fit the network: ${parts.join('; ')}`, 'Check --model and --activation (a maxout or PReLU network has other tensors than MFM)', path);
  }
  const arrays: NamedArray[] = [];
  for (const param of wanted) {
    const tensor = checkpoint.tensors.get(param.torch) as TorchTensor;
    if (tensor.shape.join('x') !== param.torchShape.join('x')) throw new InterchangeError(shapeMismatch(param, tensor), 'Check --model, --width, --input-size and --activation; they decide every shape', path);
    if (tensor.values.some((v) => !Number.isFinite(v))) throw new InterchangeError(`${param.torch} holds NaN or infinite values`, 'The network diverged before it was saved; import an earlier checkpoint', path);
    arrays.push({ name: `weights/${param.lab}`, dtype: 'float32', shape: [...param.labShape], values: torchToLab(param, tensor.values) });
  }
  if (!classifierPresent) {
    // The model keeps a 2-way classifier of its own initial weights (an embedding needs none);
    // it is saved so that the checkpoint restores whole, and run.json says the file had none.
    const classifier = params.filter((p) => p.classifier);
    for (const param of classifier) arrays.push({ name: `weights/${param.lab}`, dtype: 'float32', shape: [...param.labShape], values: new Float32Array(param.labShape.reduce((a, b) => a * b, 1)) });
  }
  return arrays;
}

function shapeMismatch(param: TorchParam, tensor: TorchTensor): string {
  const got = tensor.shape.join('x');
  const want = param.torchShape.join('x');
  if (param.conversion === 'conv-kernel' && tensor.shape.length === 4 && param.torchShape.length === 4 && tensor.shape[2] !== param.torchShape[2]) {
    return `${param.torch} is a ${tensor.shape[2]}x${tensor.shape[3]} kernel where the network has a ${param.torchShape[2]}x${param.torchShape[3]} one (${param.what}): the file is ${got}, the network needs ${want}`;
  }
  if (param.conversion === 'flatten-dense-kernel' && tensor.shape[1] !== param.torchShape[1]) {
    return `${param.torch} takes ${tensor.shape[1]} inputs where the network's flattened map gives ${param.torchShape[1]} (${param.what}): another input size? the file is ${got}, the network needs ${want}`;
  }
  return `${param.torch} is ${got} in the file, but ${param.what} needs ${want}`;
}

function list(items: readonly string[]): string {
  return items.length <= 6 ? items.join(', ') : `${items.slice(0, 6).join(', ')} and ${items.length - 6} more`;
}
