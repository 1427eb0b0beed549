// Which tfjs backend the lab computes on, and why.
//
// The chain (DESIGN.md, "Backends"): @tensorflow/tfjs-node-gpu (TensorFlow on CUDA) →
// webgpu (tfjs-backend-webgpu on Dawn, a GPU adapter only: backend-webgpu.ts) →
// @tensorflow/tfjs-node (TensorFlow on the CPU) → @tensorflow/tfjs-backend-wasm (XNNPACK)
// → the pure JavaScript `cpu` backend. The first that loads AND can do what it is asked
// for ('train' or 'infer') wins; every attempt keeps its reason, so the user is told which
// backend runs and why the others do not ("tfjs-node not installed", "CUDA libraries not
// found: libcudart.so.11.0"). The wasm package alone cannot train (no Conv2DBackpropFilter,
// a wrong MaxPoolGrad); loading it through backend-wasm.ts registers the lab's kernels
// (models/kernels/wasm-*.ts), so wasm trains and is chosen over cpu.
//
// Loading the packages lives beside this file: backend-native.ts (tfjs-node(-gpu), the
// shared tfjs-core check, CUDA diagnosis), backend-webgpu.ts (Dawn, the adapter), backend-wasm.ts, backend-packages.ts (names,
// install hints). Here: the chain, the kernel and computation checks, and selectBackend.
import * as tf from '@tensorflow/tfjs';
import { computeCheck } from './backend-check';
import { installCpuConv2dBackpropFilter } from './kernels/cpu-conv2d-backprop-filter';
import { installWebGpuAddN } from './kernels/webgpu-addn';
import { webGpuProblem } from './webgpu-device';
import { installWebGpuConv2dBackpropFilter } from './kernels/webgpu-conv2d-backprop-filter';
import { registerWebGpuMaxPiecesKernels } from './kernels/webgpu-max-pieces';
import { cachedNativeLoad, loadNative, noGpuReason, otherCudaRuntimes, type NativeLoad } from './backend-native';
import { adapterLimits, describeAdapter, INSTALL_HINT as WEBGPU_INSTALL_HINT, loadWebGpu, probeWebGpu, WEBGPU_PACKAGE, type WebGpuAdapter } from './backend-webgpu';
import { CUDA_NEEDS, errorText, firstLine, NATIVE, type Importer, type NativeName } from './backend-packages';
import { loadWasm, wasmThreads, wasmThreadsNote } from './backend-wasm';

export { missingLibraries } from './backend-native';

export type BackendName = 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';

/**
 * A backend the user asked for (or any backend at all) cannot be used here: a forced
 * backend that is not installed or lacks what training needs, an unknown backend name,
 * no usable backend. The message says why and what to install; the command line and the
 * app show it as it is. Plain Errors from this module are programming errors.
 */
export class BackendError extends Error {
  override readonly name = 'BackendError';
}

export interface BackendAttempt {
  name: BackendName;
  /** Loaded, and able to do the purpose asked for. */
  ok: boolean;
  /** Why it was (not) usable, one phrase for the user. */
  reason: string;
  /** Loaded, has every kernel a training step needs, and a test gradient came out right. */
  canTrain: boolean;
  /** Passed over only because automatic choice never takes it (a software WebGPU adapter): named, it would be used. */
  byNameOnly?: boolean;
}

export interface BackendChoice {
  name: BackendName;
  /** tf.getBackend() after the choice: 'tensorflow', 'wasm' or 'cpu'. */
  tfBackend: string;
  canTrain: boolean;
  attempts: BackendAttempt[];
  /** One line for the user: which backend, and why not the ones before it. */
  summary: string;
  /** The WebGPU adapter it computes on, when the choice is webgpu. */
  adapter?: WebGpuAdapter;
  /**
   * True when training computes in another context (the app's GPU host page, through
   * `remoteWebGpu`), not on tfjs' global backend: `tfBackend` is then this process's own, for
   * the little tensor work left here (evaluating runs, describing models).
   */
  remote?: boolean;
  /** Every backend of the chain, in order, with why it can (not) train: only when `survey` was asked. */
  survey?: BackendAttempt[];
}

/**
 * WebGPU that computes in another context: in the desktop app, Chromium's WebGPU in a hidden
 * page (Dawn in Node cannot run in Electron's utility process). Replaces the Dawn probe.
 */
export interface RemoteWebGpu {
  /** Where it computes, for the user ("the app's GPU host"). */
  readonly where: string;
  /** Counts the host's losses: an answer about it given before the last loss is out of date. */
  readonly generation?: number;
  /** The adapter it computes on, or why it cannot (with the way out). */
  probe(): Promise<{ readonly ok: true; readonly adapter: WebGpuAdapter } | { readonly ok: false; readonly reason: string; readonly hint: string }>;
}

export type BackendPurpose = 'train' | 'infer';

export interface SelectBackendOptions {
  /** Use exactly this backend, or throw saying why it cannot be used and what to install. */
  force?: BackendName;
  /** Default 'train'. */
  purpose?: BackendPurpose;
  /** For tests only: replaces the dynamic import, to simulate a package that throws a given error. */
  importer?: (name: string) => Promise<unknown>;
  /** webgpu through another context instead of Dawn in this process (the app's trainer). */
  remoteWebGpu?: RemoteWebGpu;
  /** Also try every backend after the chosen one, for a list of them all (BackendChoice.survey). */
  survey?: boolean;
}

export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

/**
 * Kernels one training step of the lab's conv nets runs, found by profiling (tf.profile) a
 * step on the cpu backend of a small net with every activation (MFM, maxout, PReLU,
 * RReLU, leaky ReLU, ELU, SELU, GELU, swish, mish), dropout, max and average pooling, a
 * residual add, softmax cross-entropy with weight decay, gradient-norm clipping, a
 * NaN/Inf guard and SGD-momentum and Adam updates, and read against tfjs-core 4.22's
 * gradient definitions (dist/gradients/*_grad.js). Random numbers (dropout masks, RReLU
 * slopes) are drawn in JavaScript by tf.randomUniform and written as a tensor: no kernel,
 * any backend. tfjs-layers' Conv2D and Dense call the fused ops (FusedConv2D,
 * _FusedMatMul), whose gradients are written with Conv2DBackpropInput/Filter and
 * BatchMatMul.
 */
export const TRAINING_KERNELS: readonly string[] = [
  // convolutions, dense layers, pooling, forward and backward
  'Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter',
  'BatchMatMul', '_FusedMatMul',
  'MaxPool', 'MaxPoolGrad', 'AvgPool', 'AvgPoolGrad',
  // activations and their gradients: MFM and maxout where the lab's fused LabMaxPieces kernel
  // is not registered, i.e. beyond cpu and wasm (SplitV/Reshape + Maximum/Max, whose
  // gradients use GreaterEqual/Less/Equal + Cast), PReLU and leaky ReLU (Greater + Select),
  // RReLU (GreaterEqual + Select), ReLU (Step), ELU (EluGrad), SELU (Exp), GELU (Erf),
  // swish (Sigmoid), mish (Softplus, Tanh)
  'Maximum', 'Minimum', 'Max', 'Greater', 'GreaterEqual', 'Less', 'Equal', 'Select', 'Cast',
  'Relu', 'Step', 'LeakyRelu', 'Prelu', 'Elu', 'EluGrad', 'Selu', 'Sigmoid', 'Tanh', 'Softplus', 'Erf',
  // plumbing: residual adds, splits, concatenation, padding
  'Add', 'AddN', 'Sub', 'Multiply', 'RealDiv', 'Neg', 'Square', 'Sqrt', 'Exp', 'Log', 'Floor',
  'Reshape', 'Identity', 'Slice', 'SplitV', 'Concat', 'Pack', 'Unpack', 'PadV2', 'ZerosLike', 'Fill',
  // loss, accuracy, the NaN/Inf guard
  'Sum', 'Mean', 'Softmax', 'OneHot', 'ArgMax', 'IsFinite', 'IsNan', 'All', 'Any', 'LogicalNot',
];

/** Kernels a training step needs that `backendName` has not registered, e.g. ['Conv2DBackpropFilter'] for wasm 4.22. */
export function trainingKernelsMissing(backendName: string): string[] {
  return TRAINING_KERNELS.filter((kernel) => tf.getKernel(kernel, backendName) === undefined);
}

/** Switches to `tfBackend` and checks it computes what `purpose` needs; null when it does. */
async function usableFor(tfBackend: string, purpose: BackendPurpose): Promise<{ problem: string | null; canTrain: boolean }> {
  const missing = trainingKernelsMissing(tfBackend);
  let switched = false;
  try {
    switched = await tf.setBackend(tfBackend);
  } catch (error) {
    return { problem: `could not switch to it: ${firstLine(errorText(error).message)}`, canTrain: false };
  }
  if (!switched) return { problem: 'could not switch to it', canTrain: false };
  const inferProblem = await computeCheck('infer');
  if (inferProblem !== null) return { problem: inferProblem, canTrain: false };
  if (missing.length > 0) {
    const what = `lacks ${missing.join(', ')}, needed for training`;
    return { problem: purpose === 'train' ? what : null, canTrain: false };
  }
  const trainProblem = await computeCheck('train');
  if (purpose === 'train') return { problem: trainProblem, canTrain: trainProblem === null };
  return { problem: null, canTrain: trainProblem === null };
}

// ---------------------------------------------------------------------------------------
// The attempts

interface Attempt extends BackendAttempt {
  hint: string;
  adapter?: WebGpuAdapter;
  remote?: boolean;
}

const DESCRIPTION: Record<BackendName, string> = {
  'tensorflow-gpu': 'native TensorFlow on the GPU',
  webgpu: 'WebGPU through Dawn',
  tensorflow: 'native TensorFlow on the CPU',
  wasm: "WebAssembly with XNNPACK and the lab's training kernels",
  cpu: 'pure JavaScript',
};

const TF_BACKEND: Record<BackendName, string> = { 'tensorflow-gpu': 'tensorflow', webgpu: 'webgpu', tensorflow: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

interface Context {
  purpose: BackendPurpose;
  importer: Importer | undefined;
  /** The GPU package's load in this selection, if it was tried. */
  gpuLoad?: NativeLoad;
  /** The user named this backend: a software WebGPU adapter may be used. */
  forced: boolean;
  remoteWebGpu: RemoteWebGpu | undefined;
}

async function attemptNative(name: NativeName, context: Context): Promise<Attempt> {
  const { short } = NATIVE[name];
  const fail = (reason: string, hint: string): Attempt => ({ name, ok: false, reason, canTrain: false, hint });
  let load: NativeLoad;
  let via = short;
  if (name === 'tensorflow') {
    // Once tfjs-node-gpu has loaded, its TensorFlow is the native CPU backend too: importing
    // tfjs-node would load a second libtensorflow and register 'tensorflow' twice.
    const gpuLoad = context.gpuLoad ?? (context.importer === undefined ? await cachedNativeLoad('tensorflow-gpu') : undefined);
    if (gpuLoad?.ok === true) {
      load = gpuLoad;
      via = NATIVE['tensorflow-gpu'].short;
    } else {
      load = await loadNative(name, context.importer);
    }
  } else {
    load = await loadNative(name, context.importer);
    context.gpuLoad = load;
  }
  if (!load.ok) return fail(load.reason, load.hint);
  if (name === 'tensorflow-gpu' && load.gpu === false) {
    return fail(noGpuReason(), `Install them (${CUDA_NEEDS}); without them its TensorFlow still runs on the CPU (--backend tensorflow)`);
  }
  const { problem, canTrain } = await usableFor('tensorflow', context.purpose);
  if (problem !== null) return fail(`${short}: ${problem}`, `Reinstall it: \`npm install ${NATIVE[name].pkg}@${tf.version_core}\``);
  const device = load.gpu === true ? 'on the GPU' : load.gpu === false ? 'on the CPU' : name === 'tensorflow-gpu' ? 'GPU use not reported' : 'on the CPU';
  const reason = via !== short ? `${via}'s TensorFlow, ${device} (${short} not loaded as well)` : `${short} loaded, ${device}`;
  return { name, ok: true, reason, canTrain, hint: '' };
}

async function attemptWasm(context: Context): Promise<Attempt> {
  const load = await loadWasm(context.importer);
  if (!load.ok) return { name: 'wasm', ok: false, reason: load.reason, canTrain: false, hint: load.hint };
  const { problem, canTrain } = await usableFor('wasm', context.purpose);
  if (problem !== null) {
    const missing = trainingKernelsMissing('wasm');
    const reason = missing.length > 0 && problem.startsWith('lacks') ? `wasm ${problem} (fine for inference)` : `wasm: ${problem}`;
    const hint = missing.length > 0 ? 'Train on another backend (cpu, or tensorflow with tfjs-node installed) and keep wasm for inference' : '';
    return { name: 'wasm', ok: false, reason, canTrain: false, hint };
  }
  const threads = wasmThreads();
  const how = `XNNPACK${threads > 1 ? `, ${threads} threads` : ''}`;
  const threadNote = wasmThreadsNote() ? ` (${wasmThreadsNote()})` : '';
  const reason = canTrain ? `wasm (${how}) with the lab's training kernels${threadNote}` : `wasm loaded; lacks ${trainingKernelsMissing('wasm').join(', ')}, so inference only`;
  return { name: 'wasm', ok: true, reason, canTrain, hint: '' };
}

async function attemptCpu(context: Context): Promise<Attempt> {
  const { problem, canTrain } = await usableFor('cpu', context.purpose);
  if (problem !== null) return { name: 'cpu', ok: false, reason: `cpu: ${problem}`, canTrain: false, hint: 'Reinstall @tensorflow/tfjs' };
  return { name: 'cpu', ok: true, reason: 'cpu is always available', canTrain, hint: '' };
}

const SOFTWARE_HINT = 'It can still be chosen by name (--backend webgpu, or the app\'s backend choice), for checking results rather than speed';

/** webgpu in another context: its report stands in for Dawn's probe, loading and checks (the host checked its own computation). */
async function attemptRemoteWebGpu(remote: RemoteWebGpu, context: Context): Promise<Attempt> {
  const fail = (reason: string, hint: string): Attempt => ({ name: 'webgpu', ok: false, reason, canTrain: false, hint });
  let report: Awaited<ReturnType<RemoteWebGpu['probe']>>;
  try {
    report = await remote.probe();
  } catch (error) {
    return fail(`webgpu: ${remote.where} did not answer (${firstLine(errorText(error).message)})`, 'Restart the app');
  }
  if (!report.ok) return fail(`webgpu: ${report.reason}`, report.hint);
  const { adapter } = report;
  if (adapter.software !== null && !context.forced) {
    return { ...fail(`webgpu: only a software adapter, ${describeAdapter(adapter)} (${adapter.software}), slower than wasm, so not chosen automatically`, SOFTWARE_HINT), byNameOnly: true };
  }
  const software = adapter.software !== null ? `; a software adapter (${adapter.software}): correct, not fast` : '';
  // Training only: inference (evaluating runs) stays on this process's own backend.
  if (context.purpose !== 'train') return fail(`webgpu in ${remote.where} trains; evaluation runs in this process`, '');
  return { name: 'webgpu', ok: true, reason: `webgpu in ${remote.where} on ${describeAdapter(adapter)} (${adapterLimits(adapter)})${software}`, canTrain: true, hint: '', adapter, remote: true };
}

async function attemptWebGpu(context: Context): Promise<Attempt> {
  if (context.remoteWebGpu !== undefined) return attemptRemoteWebGpu(context.remoteWebGpu, context);
  const fail = (reason: string, hint: string): Attempt => ({ name: 'webgpu', ok: false, reason, canTrain: false, hint });
  if (context.importer !== undefined) {
    // Tests simulate which packages exist; the adapter probe itself runs Dawn in a child process.
    try {
      await context.importer(WEBGPU_PACKAGE);
    } catch (error) {
      return fail(`webgpu ${/not find|not found/i.test(errorText(error).message) ? 'not installed' : `could not be loaded (${firstLine(errorText(error).message)})`}`, WEBGPU_INSTALL_HINT);
    }
  }
  const broken = webGpuProblem();
  if (broken !== undefined) return fail(`webgpu: ${broken}`, 'Restart the lab for a new GPU device (after updating the GPU driver, if it happens again)');
  const probe = await probeWebGpu();
  if (!probe.ok) return fail(probe.reason, probe.hint);
  const gpu = probe.adapters.find((a) => a.software === null);
  const adapter = context.forced ? (gpu ?? probe.adapters[0]) : gpu;
  if (adapter === undefined) {
    const software = probe.adapters[0] as WebGpuAdapter;
    return { ...fail(`webgpu: only a software adapter, ${describeAdapter(software)} (${software.software}), slower than wasm, so not chosen automatically`, SOFTWARE_HINT), byNameOnly: true };
  }
  const load = await loadWebGpu(adapter, context.importer);
  if (!load.ok) return fail(load.reason, load.hint);
  // After the package's import (which registers its own kernels): the lab's replace two of them.
  installWebGpuConv2dBackpropFilter(); // tfjs-webgpu's runs one thread per filter weight
  installWebGpuAddN(); // tfjs-webgpu's binds every input at once, past the device's limit
  registerWebGpuMaxPiecesKernels(); // maxout and MFM in one pass each way, not a dozen generic kernels
  const used = load.adapter ?? adapter;
  const { problem, canTrain } = await usableFor('webgpu', context.purpose);
  if (problem !== null) return fail(`webgpu on ${describeAdapter(used)}: ${problem}`, 'Update the GPU driver, or use another backend');
  const software = used.software !== null ? `; a software adapter (${used.software}): correct, not fast` : '';
  return { name: 'webgpu', ok: true, reason: `webgpu on ${describeAdapter(used)} (${adapterLimits(used)})${software}`, canTrain, hint: '', adapter: used };
}

function attempt(name: BackendName, context: Context): Promise<Attempt> {
  if (name === 'webgpu') return attemptWebGpu(context);
  if (name === 'wasm') return attemptWasm(context);
  if (name === 'cpu') return attemptCpu(context);
  return attemptNative(name, context);
}

function publicAttempt({ name, ok, reason, canTrain, byNameOnly }: Attempt): BackendAttempt {
  return { name, ok, reason, canTrain, ...(byNameOnly === true ? { byNameOnly } : {}) };
}

/** This process's own backend when training computes elsewhere: the first of the CPU backends that can infer. */
async function localBackend(context: Context): Promise<Attempt> {
  const local: Context = { ...context, purpose: 'infer', forced: false };
  const tried: string[] = [];
  for (const name of ['tensorflow', 'wasm', 'cpu'] as const) {
    const result = await attempt(name, local);
    if (result.ok) return result;
    tried.push(result.reason);
  }
  throw new BackendError(`No backend can be used in this process for evaluation: ${tried.join('; ')}`);
}

/** Every backend of the chain in order: the attempts made, and the rest tried now (as automatic choice would judge them). */
async function surveyAll(made: readonly Attempt[], context: Context): Promise<BackendAttempt[]> {
  const rest: Context = { ...context, forced: false };
  const out: BackendAttempt[] = [];
  for (const name of BACKEND_ORDER) {
    const known = made.find((a) => a.name === name);
    out.push(publicAttempt(known ?? (await attempt(name, rest))));
  }
  return out;
}

/** Makes sure the global backend is a working one after a failed selection. */
async function restoreBackend(previous: string | null): Promise<void> {
  const candidates = previous !== null ? [previous, 'cpu'] : ['cpu'];
  for (const candidate of candidates) {
    if (tf.findBackendFactory(candidate) == null) continue;
    try {
      if (await tf.setBackend(candidate)) return;
    } catch {
      // try the next one
    }
  }
}

function currentBackend(): string | null {
  try {
    return tf.getBackend() ?? null;
  } catch {
    return null;
  }
}

/**
 * Chooses the backend and makes it tfjs' global backend: the first of tfjs-node-gpu → webgpu (a GPU adapter) →
 * tfjs-node → wasm → cpu that loads and can do `purpose` (default 'train'), or exactly
 * `force`. Throws a BackendError saying why the forced backend (or every backend) cannot be
 * used and what to install.
 */
export function selectBackend(options: SelectBackendOptions = {}): Promise<BackendChoice> {
  // One selection at a time: each switches tfjs' global backend while it tries the chain, and a
  // survey for the backend list (which may wait on the app's GPU host) must not switch it away
  // under a run that chose meanwhile. A run's choice made after a survey is the one that stays.
  const chosen = selection.then(() => selectNow(options));
  selection = chosen.catch(() => undefined);
  return chosen;
}

let selection: Promise<unknown> = Promise.resolve();

async function selectNow(options: SelectBackendOptions): Promise<BackendChoice> {
  // The lab says which backend runs and why; tfjs' own first-use banner ("install
  // our node backend") would only repeat it, less accurately.
  tf.enableProdMode();
  const purpose = options.purpose ?? 'train';
  const context: Context = { purpose, importer: options.importer, forced: options.force !== undefined, remoteWebGpu: options.remoteWebGpu };
  const previous = currentBackend();
  const attempts: Attempt[] = [];
  const order = options.force !== undefined ? [options.force] : BACKEND_ORDER;
  let chosen: Attempt | undefined;
  for (const name of order) {
    if (!BACKEND_ORDER.includes(name)) throw new BackendError(`Unknown backend "${name}": choose one of ${BACKEND_ORDER.join(', ')}`);
    const result = await attempt(name, context);
    attempts.push(result);
    if (result.ok) {
      chosen = result;
      break;
    }
  }
  const doing = purpose === 'train' ? 'training' : 'inference';
  if (chosen === undefined) {
    await restoreBackend(previous);
    const last = attempts[attempts.length - 1];
    if (options.force !== undefined && last !== undefined) {
      throw new BackendError(`The ${options.force} backend cannot be used for ${doing}: ${last.reason}${last.hint ? `. ${last.hint}` : ''}.`);
    }
    throw new BackendError(`No backend can be used for ${doing}: ${attempts.map((a) => a.reason).join('; ')}`);
  }
  const survey = options.survey === true ? await surveyAll(attempts, context) : undefined;
  // Training elsewhere: this process keeps a CPU backend of its own for what it still computes.
  const local = chosen.remote === true ? await localBackend(context) : chosen;
  const tfBackend = TF_BACKEND[local.name];
  if (!(await tf.setBackend(tfBackend))) throw new Error(`Could not switch tfjs to the ${tfBackend} backend`);
  if (tfBackend === 'cpu') installCpuConv2dBackpropFilter(); // tfjs' own makes CPU training ~10x slower
  const others = attempts.filter((a) => a !== chosen).map((a) => a.reason);
  const forced = options.force !== undefined ? ' (chosen by name, not automatically)' : '';
  const description = chosen.remote === true && options.remoteWebGpu !== undefined ? `WebGPU in ${options.remoteWebGpu.where}` : DESCRIPTION[chosen.name];
  const what = chosen.adapter !== undefined ? `${description} on ${describeAdapter(chosen.adapter)}${chosen.adapter.software !== null ? `, a software adapter: correct, not fast` : ''}` : DESCRIPTION[chosen.name];
  const summary = `${doing} on ${chosen.name} (${what})${forced}${others.length > 0 ? `: ${others.join('; ')}` : ''}${cudaNote(chosen.adapter)}`;
  const choice: BackendChoice = { name: chosen.name, tfBackend: tf.getBackend(), canTrain: chosen.canTrain, attempts: attempts.map(publicAttempt), summary };
  if (chosen.adapter !== undefined) choice.adapter = chosen.adapter;
  if (chosen.remote === true) choice.remote = true;
  if (survey !== undefined) choice.survey = survey;
  return choice;
}

/** A machine with another CUDA (12, 13) is told plainly why its GPU is reached through WebGPU, not CUDA. */
function cudaNote(adapter: WebGpuAdapter | undefined): string {
  if (adapter === undefined || adapter.software !== null) return '';
  const others = otherCudaRuntimes();
  if (others.length === 0) return '';
  return `. This machine has ${others.join(', ')}; ${CUDA_NEEDS}, so the GPU trains through WebGPU instead`;
}
