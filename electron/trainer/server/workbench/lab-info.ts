// labInfo and describeModel: what the trainer can do here, and what a config would build.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CATALOG } from '../../../../datasets/catalog';
import { downloadFolder } from '../../../../datasets/download';
import { ACTIVATION_NAMES, ACTIVATIONS, ActivationSpecError, formatActivation } from '../../../../models/activations/registry';
import { BackendError, selectBackend, type BackendName, type RemoteWebGpu } from '../../../../models/backend';
import { adapterLimits, describeAdapter, type WebGpuAdapter } from '../../../../models/backend-webgpu';
import { ModelConfigError, type BuiltModel } from '../../../../models/lightcnn';
import type { LayerSummary } from '../../../../models/summary';
import { PRESETS } from '../../training/presets';
import type { BackendInfo, BackendOption, CatalogInfo, LabInfo, ModelDescription } from '#protocol/workbench';
import { ARCHITECTURES, ConfigError, parseTrainConfig } from '../../training/config';
import { buildFromConfig } from '../../training/run-model';
import { LAB_VERSION } from '#protocol/version';
import type { WorkbenchContext } from './context';
import { CommandError } from './types';

/** Every activation, as its registry entry describes it (models/activations/registry.ts). */
export function activationInfo(): LabInfo['activations'] {
  return ACTIVATION_NAMES.map((name) => {
    const { example, rule, description } = ACTIVATIONS[name];
    return { name, example, rule, description };
  });
}

/** The backend training would use, and every backend of the chain with why it can (not) train. */
interface BackendSurvey {
  readonly info: BackendInfo;
  readonly backends: BackendOption[];
}

// The choice is made once per process: selecting runs test convolutions and switches tfjs'
// global backend, which must not happen again under a run that is training.
const backendChoices = new Map<string, Promise<BackendSurvey>>();

/** The backend training would use (and, once chosen, tfjs' global backend). */
export async function trainingBackend(context: Pick<WorkbenchContext, 'backend' | 'training' | 'gpuHost'>): Promise<BackendInfo> {
  return (await surveyBackends(context)).info;
}

function surveyBackends(context: Pick<WorkbenchContext, 'backend' | 'training' | 'gpuHost'>): Promise<BackendSurvey> {
  // A lost GPU host is opened afresh when next asked: what was said of the old one is out of date.
  const key = `${context.backend ?? 'auto'}/${context.gpuHost?.generation ?? 0}`;
  const known = backendChoices.get(key);
  if (known) return known;
  if (context.training) {
    // The run chose already; probing the others now would switch its backend away under it.
    const name = tf.getBackend();
    return Promise.resolve({ info: { name, summary: `training on ${name} now (the full check of the backends runs when no run is training)`, canTrain: true }, backends: [] });
  }
  const choosing = chooseBackend(context.backend, context.gpuHost);
  backendChoices.set(key, choosing);
  return choosing;
}

function describeGpu(adapter: WebGpuAdapter): string {
  return `${describeAdapter(adapter)}; ${adapterLimits(adapter)}${adapter.software !== null ? ` (a software adapter: ${adapter.software})` : ''}`;
}

async function chooseBackend(force: BackendName | undefined, gpuHost: RemoteWebGpu | undefined): Promise<BackendSurvey> {
  // The GPU host's adapter is asked for once, for the choice and for the list of backends alike.
  let report: ReturnType<RemoteWebGpu['probe']> | undefined;
  const remoteWebGpu: RemoteWebGpu | undefined = gpuHost && { where: gpuHost.where, probe: () => (report ??= gpuHost.probe()) };
  try {
    const choice = await selectBackend({ purpose: 'train', survey: true, ...(force === undefined ? {} : { force }), ...(remoteWebGpu ? { remoteWebGpu } : {}) });
    const info: BackendInfo = { name: choice.name, summary: choice.summary, canTrain: choice.canTrain };
    if (choice.adapter !== undefined) info.adapter = describeGpu(choice.adapter);
    // The adapter of a webgpu that cannot be chosen automatically (a software one) is worth showing too.
    const hostAdapter = report ? await report.then((r) => (r.ok ? r.adapter : undefined)) : undefined;
    const backends = (choice.survey ?? []).map((attempt): BackendOption => {
      const adapter = attempt.name === 'webgpu' ? (choice.name === 'webgpu' ? choice.adapter : hostAdapter) : undefined;
      // A software adapter is never taken automatically, but a run that names webgpu trains on it.
      return { name: attempt.name, canTrain: (attempt.ok && attempt.canTrain) || attempt.byNameOnly === true, reason: attempt.reason, ...(adapter ? { adapter: describeGpu(adapter) } : {}) };
    });
    return { info, backends };
  } catch (error) {
    // Installed packages do not change while the process runs: the answer stands, and says what to install.
    if (error instanceof BackendError) return { info: { name: force ?? 'none', summary: error.message, canTrain: false }, backends: [] };
    throw error;
  }
}

function catalogInfo(dataDir: string): Promise<CatalogInfo[]> {
  return Promise.all(CATALOG.map(async (entry): Promise<CatalogInfo> => {
    const images = entry.files.find((file) => file.role === 'images');
    const path = images ? join(downloadFolder(entry, dataDir), images.name) : null;
    return {
      id: entry.id,
      name: entry.name,
      description: entry.description,
      homePage: entry.homePage,
      identities: entry.identities,
      images: entry.images,
      downloadBytes: entry.files.reduce((sum, file) => sum + file.approxBytes, 0),
      terms: entry.terms,
      citation: entry.citation,
      // A download gets its real name only once complete (download.ts), so a non-empty file is a finished one.
      downloaded: path !== null && ((await stat(path).catch(() => null))?.size ?? 0) > 0,
    };
  }));
}

export async function labInfo(context: WorkbenchContext): Promise<LabInfo> {
  const { info: backend, backends } = await surveyBackends(context);
  const { data: _data, ...defaults } = parseTrainConfig({ data: 'synthetic' }, { backend: backend.name });
  return {
    lab: LAB_VERSION,
    backend,
    backends,
    pathInput: context.pathInput,
    architectures: [...ARCHITECTURES],
    activations: activationInfo(),
    presets: PRESETS.map((preset) => ({ name: preset.name, title: preset.title, claim: preset.claim, compareWith: [...preset.compareWith], config: { ...preset.config } })),
    catalog: await catalogInfo(context.dataDir),
    defaults,
  };
}

/** Identities the model is actually built with: the classifier is scaled to the real count afterwards. */
const BUILT_CLASSES = 2;

/**
 * The model a training config would build. It is built with a 2-way classifier and that
 * layer's figures are scaled to `identities`: the classifier is linear in the identity
 * count, and building it for real would allocate up to a gigabyte (256 x 1,000,000
 * weights) in the process that may be training.
 */
export async function describeModel(command: { config: Record<string, unknown>; identities: number }, context: WorkbenchContext): Promise<ModelDescription> {
  const backend = await trainingBackend(context); // the model's weights are made on the backend training uses
  let built: BuiltModel;
  try {
    // The input size a run on this backend would take when the config names none.
    const config = parseTrainConfig({ data: 'synthetic', ...command.config }, { backend: backend.name });
    built = buildFromConfig(config, BUILT_CLASSES);
  } catch (error) {
    if (error instanceof ConfigError) throw new CommandError(error.message, 'bad-config', error.issues);
    if (error instanceof ModelConfigError || error instanceof ActivationSpecError) throw new CommandError(error.message, 'bad-config');
    throw error;
  }
  try {
    const layers = built.summary.layers.map((layer) => (layer.name === 'classifier' ? scaleClassifier(layer, command.identities) : layer));
    const sum = (pick: (layer: LayerSummary) => number): number => layers.reduce((total, layer) => total + pick(layer), 0);
    return {
      layers: layers.map(({ name, kind, detail, outputShape, params }) => ({ name, kind, detail, outputShape: [...outputShape], params })),
      // `layer` is the key a config's `layers` record takes (the unit: conv1, group1.a, fc); `unit`
      // is the activation layer it sets, the name probes and dead-neuron tables use (conv1.act, embedding).
      activationLayers: built.units.map((unit) => ({ layer: unit.unit, unit: unit.layer, activation: formatActivation(unit.spec) })),
      totalParams: sum((layer) => layer.params),
      macsPerImage: sum((layer) => layer.macs),
    };
  } finally {
    built.model.dispose(); // `embedding` shares its layers
  }
}

/** The classifier's row for `identities` classes, from the row built for BUILT_CLASSES. */
function scaleClassifier(layer: LayerSummary, identities: number): LayerSummary {
  const perClass = (n: number): number => (n / BUILT_CLASSES) * identities;
  return {
    ...layer,
    detail: layer.detail.replace(`-> ${BUILT_CLASSES} logits`, `-> ${identities} logits`),
    outputShape: [identities],
    params: perClass(layer.params),
    macs: perClass(layer.macs),
  };
}
