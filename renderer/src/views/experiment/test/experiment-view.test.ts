import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { describe as suite, expect, test } from 'vitest';
import ExperimentView from '../ExperimentView.svelte';
import { checkBackend, ScriptedTrainer, scriptedSession, TEST_LAB_INFO, type Handlers } from '../../../test-support/scripted-trainer';
import { LabSession } from '../../../lib/session.svelte';
import type { DatasetSummary, ModelDescription } from '#protocol/workbench';
import type { CommandOf } from '#protocol/messages';
import { recipeFor } from '#protocol/train-recipes';
import { INITIALIZER_DESCRIPTIONS } from '../../../../../models/initializer-names';

const LAYERS: Record<string, string[]> = {
  tiny: ['conv1', 'conv2'],
  lightcnn9: ['conv1', 'group1.a', 'group1', 'fc'],
};

/** A describeModel that answers per model, each layer with the activation the config gives it. */
function describe(command: CommandOf<'describeModel'>): ModelDescription {
  const config = command.config as { model?: string; activation?: string; layers?: Record<string, string> };
  const names = LAYERS[config.model ?? 'lightcnn9'] ?? [];
  return {
    layers: names.map((name, i) => ({ name, kind: 'conv', detail: '3×3', outputShape: [16, 32 >> i, 32 >> i], params: 1000 * (i + 1) })),
    activationLayers: names.map((layer) => ({ layer, unit: layer.split('.')[0] ?? layer, activation: config.layers?.[layer] ?? config.activation ?? 'mfm:2/1' })),
    totalParams: config.model === 'tiny' ? 12_345 : 5_480_864,
    macsPerImage: 1.2e9,
  };
}

const DATASET: DatasetSummary = {
  data: '/data/faces',
  label: 'faces',
  synthetic: false,
  layout: 'folders',
  identityRule: 'folders',
  identities: 12,
  images: 120,
  imagesPerIdentity: { min: 10, median: 10, max: 10 },
  storedSize: 1000,
  decoded: 120,
  reused: 0,
  removed: 0,
  skipped: [],
  seconds: 1,
};

async function setup(handlers: Handlers = {}, { dataset = true } = {}) {
  const { trainer, session } = await scriptedSession({ describeModel: describe, start: () => ({ runId: 'run-1' }), ...handlers });
  if (dataset) {
    session.chooseDataset(DATASET);
    session.updateConfig({ data: DATASET.data });
  }
  render(ExperimentView, { session });
  return { trainer, session };
}

const rows = () => [...screen.getByTestId('layer-activations').querySelectorAll('tr[data-layer]')].map((row) => row.getAttribute('data-layer'));

test('the model is described, and changing it describes the new one and lists its layers', async () => {
  const { trainer, session } = await setup();
  expect(screen.getByTestId('view-experiment')).toBeInTheDocument();
  await waitFor(() => expect(rows()).toEqual(['conv1', 'group1.a', 'group1', 'fc']));
  expect(trainer.commands('describeModel')).toHaveLength(1);
  expect(trainer.commands('describeModel')[0]).toMatchObject({ identities: 12, config: { model: 'lightcnn9', data: '/data/faces', activation: 'mfm:2/1' } });
  expect(screen.getByTestId('model-params')).toHaveTextContent('5,480,864 parameters');
  expect(screen.getByTestId('model-params')).toHaveTextContent('1.20 G multiply-adds');

  await fireEvent.change(screen.getByLabelText('Model'), { target: { value: 'tiny' } });
  expect(session.config.model).toBe('tiny');
  await waitFor(() => expect(rows()).toEqual(['conv1', 'conv2']));
  expect(trainer.commands('describeModel').at(-1)?.config).toMatchObject({ model: 'tiny' });
  expect(screen.getByTestId('model-params')).toHaveTextContent('12,345 parameters');
  const conv2 = screen.getByTestId('layer-activations').querySelector('tr[data-layer="conv2"]') as HTMLElement;
  expect(within(conv2).getByLabelText('Activation for conv2')).toHaveValue('');
  expect(conv2).toHaveTextContent('mfm:2/1');
});

test('changes in quick succession are described once', async () => {
  const { trainer } = await setup();
  await waitFor(() => expect(trainer.commands('describeModel')).toHaveLength(1));
  await fireEvent.change(screen.getByLabelText('Input size'), { target: { value: '96' } });
  await fireEvent.change(screen.getByLabelText('Input size'), { target: { value: '112' } });
  await fireEvent.change(screen.getByLabelText('Width'), { target: { value: '0.5' } });
  await waitFor(() => expect(trainer.commands('describeModel')).toHaveLength(2));
  expect(trainer.commands('describeModel')[1]?.config).toMatchObject({ inputSize: 112, width: 0.5 });
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(trainer.commands('describeModel')).toHaveLength(2);
});

test('describes with 40 identities when no dataset is open', async () => {
  const { trainer } = await setup({}, { dataset: false });
  await waitFor(() => expect(trainer.commands('describeModel')).toHaveLength(1));
  expect(trainer.commands('describeModel')[0]).toMatchObject({ identities: 40, config: { data: 'synthetic' } });
});

test('a per-layer activation choice ends up in the start config', async () => {
  const { trainer, session } = await setup();
  await waitFor(() => expect(rows()).toContain('group1'));
  const row = screen.getByTestId('layer-activations').querySelector('tr[data-layer="group1"]') as HTMLElement;
  await fireEvent.change(within(row).getByLabelText('Activation for group1'), { target: { value: 'leaky_relu' } });
  expect(session.config.layers).toEqual({ group1: 'leaky_relu:0.01' });
  const param = within(row).getByLabelText('Activation for group1 parameter');
  expect(param).toHaveValue('0.01');
  await fireEvent.change(param, { target: { value: '0.2' } });
  expect(session.config.layers).toEqual({ group1: 'leaky_relu:0.2' });
  await waitFor(() => expect(row).toHaveTextContent('leaky_relu:0.2'));

  await fireEvent.click(screen.getByRole('button', { name: 'Train' }));
  await waitFor(() => expect(trainer.commands('start')).toHaveLength(1));
  expect(trainer.commands('start')[0]?.config).toMatchObject({ data: '/data/faces', layers: { group1: 'leaky_relu:0.2' } });

  // Back to the global activation.
  await fireEvent.change(within(row).getByLabelText('Activation for group1'), { target: { value: '' } });
  expect(session.config.layers).toEqual({});
});

test('the global activation takes a parameter checked against the example', async () => {
  const { session } = await setup();
  const select = screen.getByLabelText('Activation');
  expect(select).toHaveValue('mfm');
  const param = screen.getByLabelText('Activation Parameter');
  expect(param).toHaveValue('2/1');
  await fireEvent.change(param, { target: { value: '3/2' } });
  expect(session.config.activation).toBe('mfm:3/2');
  await fireEvent.change(param, { target: { value: 'three' } });
  expect(screen.getByText(/expected a parameter like 2\/1/)).toBeInTheDocument();
  expect(session.config.activation).toBe('mfm:3/2');
  await fireEvent.change(select, { target: { value: 'relu' } });
  expect(session.config.activation).toBe('relu');
  expect(screen.queryByLabelText('Activation Parameter')).not.toBeInTheDocument();
  expect(screen.getByText(/exactly 0 for every input/)).toBeInTheDocument();
});

test('a preset merges its settings, keeps the dataset, and says what to compare it with', async () => {
  const { session, trainer } = await setup();
  session.updateConfig({ layers: { conv1: 'relu' }, epochs: 9 });
  const presets = screen.getByTestId('presets');
  expect(presets).toHaveTextContent('ReLU at a high learning rate');
  expect(presets).toHaveTextContent('Filters die.');
  await fireEvent.click(within(presets).getByRole('button', { name: 'Use preset' }));
  expect(session.config).toMatchObject({ data: '/data/faces', model: 'tiny', inputSize: 32, activation: 'relu', lr: 0.1, epochs: 9, layers: {} });
  expect(within(presets).getByRole('status')).toHaveTextContent('Using ReLU at a high learning rate');
  expect(within(presets).getByRole('status')).toHaveTextContent('leaky-high-lr');
  expect(screen.getByLabelText('Learning rate')).toHaveValue(0.1);
  await waitFor(() => expect(trainer.commands('describeModel').at(-1)?.config).toMatchObject({ model: 'tiny', lr: 0.1 }));
});

test('hyper-parameters edit and check their values; the step schedule has its own knobs', async () => {
  const { session } = await setup();
  const lr = screen.getByLabelText('Learning rate');
  await fireEvent.change(lr, { target: { value: '0.1' } });
  await fireEvent.change(screen.getByLabelText('Batch size'), { target: { value: '16' } });
  expect(session.config).toMatchObject({ lr: 0.1, batch: 16 });
  await fireEvent.change(lr, { target: { value: '0' } });
  expect(screen.getByText('must be more than 0')).toBeInTheDocument();
  expect(session.config.lr).toBe(0.1);
  // The recipe's schedule is cosine: the step schedule's knobs only with the step schedule.
  expect(screen.queryByLabelText('Step every (epochs)')).not.toBeInTheDocument();
  await fireEvent.change(screen.getByLabelText('Learning-rate schedule'), { target: { value: 'step' } });
  expect(session.config.schedule).toBe('step');
  expect(screen.getByLabelText('Step every (epochs)')).toHaveValue(10);
  expect(screen.getByLabelText('Step factor (gamma)')).toHaveValue(0.457);
});

/** The recipes these tests expect (the trainer's table, whatever its numbers are today). */
const deep = recipeFor('lightcnn9', 64).settings;
const tiny = recipeFor('tiny', 64).settings;

test('the hyper-parameters nobody set follow the recipe of the model and input size, with its reason shown', async () => {
  const { session, trainer } = await setup();
  // labInfo says the cpu backend trains: 64 px, and lightcnn9's recipe at 64 px.
  expect(screen.getByLabelText('Input size')).toHaveValue(64);
  expect(screen.getByTestId('input-size-why')).toHaveTextContent('Input 64 px: training runs on the CPU (cpu)');
  expect(screen.getByLabelText('Optimizer')).toHaveValue(deep.optimizer);
  expect(screen.getByLabelText('Learning rate')).toHaveValue(deep.lr);
  expect(screen.getByLabelText('Warm-up steps')).toHaveValue(deep.warmupSteps);
  expect(screen.getByLabelText('Epochs')).toHaveValue(deep.epochs);
  const why = screen.getByTestId('recipe-why');
  expect(why).toHaveTextContent('Recipe for lightcnn9 at 64 px');
  expect(why).toHaveTextContent(
    `optimizer ${deep.optimizer}, lr ${deep.lr}, batch ${deep.batch}, epochs ${deep.epochs}, schedule ${deep.schedule}, warm-up steps ${deep.warmupSteps}, clip norm ${deep.clipNorm}`,
  );
  expect(why).toHaveTextContent(recipeFor('lightcnn9', 64).why.replace('lightcnn9: ', ''));
  // The Light CNN reference's values stay beside the fields.
  expect(screen.getByText(/^reference 0.01/)).toBeInTheDocument();
  expect(screen.getByText(/^reference sgd/)).toBeInTheDocument();

  await fireEvent.change(screen.getByLabelText('Model'), { target: { value: 'tiny' } });
  expect(screen.getByLabelText('Learning rate')).toHaveValue(tiny.lr);
  expect(screen.getByLabelText('Warm-up steps')).toHaveValue(tiny.warmupSteps);
  expect(why).toHaveTextContent('Recipe for tiny at 64 px');
  expect(why).toHaveTextContent(recipeFor('tiny', 64).why.replace('tiny: ', ''));
  expect(session.config).toEqual({ data: '/data/faces', model: 'tiny' });

  // A value the user set stays when the model changes, with the recipe's beside it.
  await fireEvent.change(screen.getByLabelText('Learning rate'), { target: { value: '0.005' } });
  await fireEvent.change(screen.getByLabelText('Model'), { target: { value: 'lightcnn9' } });
  expect(screen.getByLabelText('Learning rate')).toHaveValue(0.005);
  expect(screen.getByText(`recipe ${deep.lr} · reference 0.01`)).toBeInTheDocument();
  expect(screen.getByLabelText('Optimizer')).toHaveValue(deep.optimizer);

  // A larger input: the deep nets' recipe takes fewer epochs; the input size is the user's now.
  await fireEvent.change(screen.getByLabelText('Input size'), { target: { value: '128' } });
  expect(screen.getByLabelText('Epochs')).toHaveValue(recipeFor('lightcnn9', 128).settings.epochs);
  expect(why).toHaveTextContent('Recipe for lightcnn9 at 128 px');
  expect(screen.queryByTestId('input-size-why')).not.toBeInTheDocument();
  // The trainer is told only what the user set; it decides the rest the same way.
  await fireEvent.click(screen.getByRole('button', { name: 'Train' }));
  await waitFor(() => expect(trainer.commands('start')).toHaveLength(1));
  expect(trainer.commands('start')[0]?.config).toEqual({ data: '/data/faces', model: 'lightcnn9', lr: 0.005, inputSize: 128 });
});

test('the hyper-parameters reset to the recipe, or to the Light CNN reference settings', async () => {
  const { session } = await setup();
  const toRecipe = screen.getByRole('button', { name: 'Use the recipe' });
  const toReference = screen.getByRole('button', { name: 'Use the Light CNN reference settings' });
  expect(toRecipe).toBeDisabled();
  expect(toReference).toBeEnabled();
  expect(screen.getByTestId('reference-settings')).toHaveTextContent('SGD, lr 0.01, momentum 0.9, weight decay 0.0001, batch 128, 80 epochs, lr × 0.457 every 10 epochs, no warm-up, no clipping');

  await fireEvent.change(screen.getByLabelText('Momentum'), { target: { value: '0.5' } });
  await fireEvent.click(toReference);
  expect(session.config).toMatchObject({ optimizer: 'sgd', lr: 0.01, batch: 128, epochs: 80, schedule: 'step', warmupSteps: 0, clipNorm: 0 });
  expect(session.config.momentum).toBeUndefined();
  expect(screen.getByLabelText('Optimizer')).toHaveValue('sgd');
  expect(screen.getByLabelText('Learning rate')).toHaveValue(0.01);
  expect(screen.getByLabelText('Momentum')).toHaveValue(0.9);
  expect(screen.getByLabelText('Warm-up steps')).toHaveValue(0);
  expect(screen.getByLabelText('Step every (epochs)')).toBeInTheDocument();
  expect(toReference).toBeDisabled();
  expect(toRecipe).toBeEnabled();
  // Set values do not follow the model.
  await fireEvent.change(screen.getByLabelText('Model'), { target: { value: 'tiny' } });
  expect(screen.getByLabelText('Learning rate')).toHaveValue(0.01);

  await fireEvent.click(toRecipe);
  expect(session.config).toEqual({ data: '/data/faces', model: 'tiny' });
  expect(screen.getByLabelText('Optimizer')).toHaveValue(tiny.optimizer);
  expect(screen.getByLabelText('Learning rate')).toHaveValue(tiny.lr);
  expect(screen.queryByLabelText('Step every (epochs)')).not.toBeInTheDocument();
  expect(toRecipe).toBeDisabled();
});

test('warm-up steps and the weight initialisation are settings, each with its note', async () => {
  const { session } = await setup();
  const warmup = screen.getByLabelText('Warm-up steps');
  expect(warmup).toHaveAccessibleDescription(/linear lr warm-up; 0 = none/);
  await fireEvent.change(warmup, { target: { value: '-1' } });
  expect(screen.getByText('must be from 0 to 1000000')).toBeInTheDocument();
  await fireEvent.change(warmup, { target: { value: '200' } });
  expect(session.config.warmupSteps).toBe(200);

  const init = screen.getByLabelText('Weight initialisation');
  expect(init).toHaveValue('pytorch');
  expect(init).toHaveAccessibleDescription(expect.stringContaining(INITIALIZER_DESCRIPTIONS.pytorch));
  await fireEvent.change(init, { target: { value: 'he' } });
  expect(session.config.init).toBe('he');
  expect(init).toHaveAccessibleDescription(expect.stringContaining(INITIALIZER_DESCRIPTIONS.he));
});

test('Train is disabled without a dataset, with the reason', async () => {
  await setup({}, { dataset: false });
  const train = screen.getByRole('button', { name: 'Train' });
  expect(train).toBeDisabled();
  expect(train).toHaveAccessibleDescription(/Open a dataset in Data first/);
});

test('Train sends start with the dataset and what the user set, and goes to the Train view', async () => {
  const { trainer, session } = await setup();
  session.updateConfig({ data: undefined, lr: undefined, width: 0.5 });
  await fireEvent.click(screen.getByRole('button', { name: 'Train' }));
  await waitFor(() => expect(session.view).toBe('train'));
  // The rest the trainer decides (the input size for its backend, the model's recipe).
  expect(trainer.commands('start')[0]?.config).toEqual({ data: '/data/faces', width: 0.5 });
});

test('a refused start is shown, with the field it is about marked', async () => {
  const { session } = await setup({
    start: () => {
      throw Object.assign(new Error('The training settings are not valid: batch: Too big: expected number to be <=1024'), { code: 'bad-config', issues: [{ field: 'batch', message: 'Too big: expected number to be <=1024' }] });
    },
  });
  await fireEvent.click(screen.getByRole('button', { name: 'Train' }));
  const error = await screen.findByTestId('start-error');
  expect(error).toHaveTextContent('The run did not start.');
  expect(error).toHaveTextContent('batch: Too big');
  expect(screen.getByLabelText('Batch size')).toHaveAttribute('aria-invalid', 'true');
  expect(session.view).toBe('data');
});

test('a busy trainer is said', async () => {
  await setup({
    start: () => {
      throw Object.assign(new Error('A run is already running (run-0): stop it first'), { code: 'busy' });
    },
  });
  await fireEvent.click(screen.getByRole('button', { name: 'Train' }));
  expect(await screen.findByTestId('start-error')).toHaveTextContent('A run is already running (run-0): stop it first');
});

test('a config the trainer cannot build is shown next to the field, or as a whole', async () => {
  await setup({
    describeModel: (command) => {
      const config = command.config as { width?: number; layers?: Record<string, string> };
      if (config.layers?.conv1) throw Object.assign(new Error('The training settings are not valid: layers.conv1: not a known activation (e.g. relu)'), { code: 'bad-config', issues: [{ field: 'layers.conv1', message: 'not a known activation (e.g. relu)' }] });
      if (config.width === 3) throw new Error('mfm:3/2 needs a width divisible by 2, got 75');
      return describe(command);
    },
  });
  await waitFor(() => expect(rows()).toContain('conv1'));
  await fireEvent.change(screen.getByLabelText('Width'), { target: { value: '3' } });
  expect(await screen.findByTestId('model-error')).toHaveTextContent('mfm:3/2 needs a width divisible by 2, got 75');
  // The layers stay listed meanwhile.
  expect(rows()).toContain('conv1');
  await fireEvent.change(screen.getByLabelText('Width'), { target: { value: '1' } });
  await waitFor(() => expect(screen.queryByTestId('model-error')).not.toBeInTheDocument());
  const row = screen.getByTestId('layer-activations').querySelector('tr[data-layer="conv1"]') as HTMLElement;
  await fireEvent.change(within(row).getByLabelText('Activation for conv1'), { target: { value: 'sigmoid' } });
  expect(await within(row).findByText(/not a known activation/)).toBeInTheDocument();
});

test('the backend is shown, with a warning when it cannot train', async () => {
  await setup({ labInfo: () => ({ ...TEST_LAB_INFO, backend: { name: 'wasm', summary: 'CUDA libraries not found: libcudart.so.11.0; training on WASM', canTrain: false } }) });
  const backend = screen.getByTestId('backend-info');
  expect(backend).toHaveTextContent('wasm');
  expect(backend).toHaveTextContent('CUDA libraries not found');
  expect(within(backend).getByRole('alert')).toHaveTextContent('cannot train');
  expect(within(backend).queryByTestId('backend-adapter')).toBeNull();
});

test('on webgpu the adapter that trains is named', async () => {
  const adapter = 'nvidia ampere (NVIDIA GeForce RTX 3060), Vulkan; max buffer 4096 MiB, max storage binding 2048 MiB';
  await setup({ labInfo: () => ({ ...TEST_LAB_INFO, backend: { name: 'webgpu', summary: 'training on webgpu (WebGPU through Dawn on ...)', canTrain: true, adapter } }) });
  expect(screen.getByTestId('backend-adapter')).toHaveTextContent(`GPU adapter: ${adapter}`);
});

test('a view opened before the trainer answered describes the model and can train once it has', async () => {
  const trainer = new ScriptedTrainer({
    labInfo: () => TEST_LAB_INFO,
    status: () => ({ state: null, runId: null, step: null, totalSteps: null }),
    describeModel: describe,
    start: () => ({ runId: 'run-1' }),
  });
  const session = new LabSession();
  render(ExperimentView, { session });
  expect(screen.getByRole('button', { name: 'Train' })).toHaveAccessibleDescription('Not connected to the trainer.');
  session.chooseDataset(DATASET);
  await session.attach(trainer.client);
  await waitFor(() => expect(rows()).toEqual(['conv1', 'group1.a', 'group1', 'fc']));
  expect(screen.getByRole('button', { name: 'Train' })).toBeEnabled();
  await fireEvent.click(screen.getByRole('button', { name: 'Train' }));
  await waitFor(() => expect(session.view).toBe('train'));
});

test('says how many steps the run will take, once a dataset is chosen', async () => {
  const { session } = await setup();
  const length = screen.getByTestId('run-length');
  // 120 images, 20% held out: about 96 to train on, in the recipe's batches (a last partial batch is dropped) for its epochs.
  const { batch, epochs } = recipeFor('lightcnn9', 64).settings;
  const perEpoch = Math.floor(96 / batch);
  expect(length).toHaveTextContent(`≈ ${perEpoch * epochs} steps (${epochs} epochs × ${perEpoch} batches of ${batch} from about 96 training images).`);
  session.updateConfig({ batch: 64 });
  await waitFor(() => expect(length).toHaveTextContent(`≈ ${epochs} steps (${epochs} epochs × 1 batch of 64 from about 96 training images).`));
  session.updateConfig({ batch: 32, epochs: 10 });
  await waitFor(() => expect(length).toHaveTextContent('≈ 30 steps (10 epochs × 3 batches of 32 from about 96 training images).'));
  session.updateConfig({ maxSteps: 20 });
  await waitFor(() => expect(length).toHaveTextContent('≈ 20 steps: Max steps stops it before 10 epochs × 3 batches of 32 from about 96 training images (30 steps).'));
});

test('without a dataset the step count waits for one', async () => {
  await setup({}, { dataset: false });
  expect(screen.getByTestId('run-length')).toHaveTextContent('Open a dataset in Data to see how many steps a run takes.');
  expect(screen.getByTestId('run-length')).not.toHaveTextContent('≈');
});

test('inline code in a preset claim is shown as code, not as backticks', async () => {
  const claim = 'Dead pieces: check with `lab summary --model tiny --activation maxout:2`, then compare.';
  const info = { ...TEST_LAB_INFO, presets: [{ ...TEST_LAB_INFO.presets[0]!, claim }] };
  await setup({ labInfo: () => info });
  const presets = await screen.findByTestId('presets');
  await waitFor(() => expect(presets).toHaveTextContent('Dead pieces: check with lab summary --model tiny --activation maxout:2, then compare.'));
  expect(presets).not.toHaveTextContent('`');
  const code = presets.querySelector('code');
  expect(code).toHaveTextContent('lab summary --model tiny --activation maxout:2');
});

suite('the backend picker', () => {
  const ADAPTER = 'NVIDIA ampere (NVIDIA GeForce RTX 3060), in Chromium; max buffer 4096 MiB, max storage binding 2048 MiB';
  /** A trainer started with --backend cpu on a machine with a usable GPU: webgpu can train, but is not its choice. */
  const WITH_GPU = {
    ...TEST_LAB_INFO,
    backends: TEST_LAB_INFO.backends.map((b) => (b.name === 'webgpu' ? { ...b, canTrain: true, reason: 'WebGPU in Chromium', adapter: ADAPTER } : b)),
  };
  const picker = () => screen.getByRole('group', { name: 'Train on' });
  /** start answered as the trainer does: a backend that cannot train is refused. */
  const start = (info = TEST_LAB_INFO): Handlers => ({ labInfo: () => info, start: (command) => (checkBackend(command, info), { runId: 'run-1' }) });

  test('lists the automatic choice and every backend with its reason in the page; those that cannot train are disabled', async () => {
    await setup(start());
    const group = picker();
    const radios = within(group).getAllByRole('radio');
    expect(radios.map((r) => r.closest('[data-backend]')?.getAttribute('data-backend'))).toEqual(['automatic', 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']);
    expect(within(group).getByRole('radio', { name: 'Automatic (cpu)' })).toBeChecked();
    const gpu = within(group).getByRole('radio', { name: 'tensorflow-gpu' });
    expect(gpu).toBeDisabled();
    expect(gpu).toHaveAccessibleDescription('cannot train: not installed: npm install @tensorflow/tfjs-node-gpu');
    // Shown, not only in a tooltip.
    expect(group).toHaveTextContent('tensorflow-gpu cannot train: not installed: npm install @tensorflow/tfjs-node-gpu');
    expect(within(group).getByRole('radio', { name: 'webgpu' })).toBeDisabled();
    const wasm = within(group).getByRole('radio', { name: 'wasm' });
    expect(wasm).toBeEnabled();
    expect(wasm).toHaveAccessibleDescription('WebAssembly with SIMD, 2 threads');
    expect(within(group).getByRole('radio', { name: 'cpu' })).toBeEnabled();
    expect(screen.getByTestId('backend-info')).toHaveTextContent('Automatic choice: cpu');
  });

  test('Train names the picked backend, automatic names none, and the choice outlives the view', async () => {
    const { trainer, session } = await setup(start());
    const train = screen.getByRole('button', { name: 'Train' });
    expect(train).toHaveAccessibleDescription(/on cpu \(automatic\)\.$/);
    await fireEvent.click(train);
    await waitFor(() => expect(trainer.commands('start')).toHaveLength(1));
    expect(trainer.commands('start')[0]).toEqual({ name: 'start', config: { data: '/data/faces' } });

    await fireEvent.click(within(picker()).getByRole('radio', { name: 'wasm' }));
    expect(session.backendChoice).toBe('wasm');
    expect(train).toHaveAccessibleDescription(/on wasm\.$/);
    await fireEvent.click(train);
    await waitFor(() => expect(trainer.commands('start')).toHaveLength(2));
    expect(trainer.commands('start')[1]).toEqual({ name: 'start', config: { data: '/data/faces' }, backend: 'wasm' });

    // Another view and back: still wasm.
    cleanup();
    render(ExperimentView, { session });
    expect(within(picker()).getByRole('radio', { name: 'wasm' })).toBeChecked();
    await fireEvent.click(within(picker()).getByRole('radio', { name: 'Automatic (cpu)' }));
    expect(session.backendChoice).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Train' }));
    await waitFor(() => expect(trainer.commands('start')).toHaveLength(3));
    expect(trainer.commands('start')[2]).not.toHaveProperty('backend');
  });

  test('with a GPU backend picked, the input size and recipe shown are the ones the trainer gives a run there; its adapter is named', async () => {
    const { trainer } = await setup(start(WITH_GPU));
    expect(screen.getByLabelText('Input size')).toHaveValue(64);
    const webgpu = within(picker()).getByRole('radio', { name: 'webgpu' });
    expect(webgpu).toHaveAccessibleDescription(`WebGPU in Chromium; GPU: ${ADAPTER}`);
    await fireEvent.click(webgpu);
    expect(screen.getByLabelText('Input size')).toHaveValue(128);
    expect(screen.getByTestId('input-size-why')).toHaveTextContent('Input 128 px: the reference size.');
    expect(screen.getByTestId('recipe-why')).toHaveTextContent('Recipe for lightcnn9 at 128 px');
    expect(screen.getByLabelText('Epochs')).toHaveValue(recipeFor('lightcnn9', 128).settings.epochs);
    expect(screen.getByTestId('backend-defaults')).toHaveTextContent('the ones the trainer gives a run on webgpu when you set none');
    // The trainer decides them itself from the backend named: the config carries none of them.
    await fireEvent.click(screen.getByRole('button', { name: 'Train' }));
    await waitFor(() => expect(trainer.commands('start')).toHaveLength(1));
    expect(trainer.commands('start')[0]).toEqual({ name: 'start', config: { data: '/data/faces' }, backend: 'webgpu' });
  });

  test('an older trainer, which lists no backends, gets no picker and is named no backend', async () => {
    const { backends: _none, ...older } = TEST_LAB_INFO;
    const { trainer, session } = await setup({ labInfo: () => older as typeof TEST_LAB_INFO });
    expect(screen.queryByTestId('backend-picker')).toBeNull();
    expect(screen.queryByTestId('backend-defaults')).toBeNull();
    expect(screen.getByTestId('backend-info')).toHaveTextContent('Backend: cpu');
    session.chooseBackend('wasm');
    await fireEvent.click(screen.getByRole('button', { name: 'Train' }));
    await waitFor(() => expect(trainer.commands('start')).toHaveLength(1));
    expect(trainer.commands('start')[0]).not.toHaveProperty('backend');
  });
});
