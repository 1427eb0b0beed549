import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, expect, test, vi } from 'vitest';
import DataView from '../DataView.svelte';
import { ScriptedTrainer, scriptedSession, TEST_LAB_INFO, type Handlers } from '../../../test-support/scripted-trainer';
import { LabSession } from '../../../lib/session.svelte';
import type { CatalogInfo, DatasetFaces, DatasetSummary } from '#protocol/workbench';
import type { CommandOf } from '#protocol/messages';

const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==';

function summary(over: Partial<DatasetSummary> = {}): DatasetSummary {
  return {
    data: '/data/faces',
    label: 'faces',
    synthetic: false,
    layout: 'folders',
    identityRule: 'one folder per identity',
    identities: 30,
    images: 300,
    imagesPerIdentity: { min: 4, median: 10, max: 20 },
    storedSize: 144,
    decoded: 290,
    reused: 10,
    removed: 0,
    skipped: [
      { path: 'alice/broken.jpg', reason: 'not a readable image' },
      { path: 'notes.txt', reason: 'not an image' },
    ],
    seconds: 4.2,
    ...over,
  };
}

function faces(command: CommandOf<'datasetFaces'>, total = 30): DatasetFaces {
  const identities = [];
  for (let i = command.identityOffset; i < Math.min(total, command.identityOffset + command.identityLimit); i++) {
    identities.push({ index: i, name: `person${i}`, count: 10, faces: [0, 1].map((k) => ({ image: i * 10 + k, png: PNG })) });
  }
  return { totalIdentities: total, identities };
}

/** A reply the test releases when it wants. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function setup(handlers: Handlers = {}) {
  const { trainer, session } = await scriptedSession({ datasetFaces: (command) => faces(command), ...handlers });
  render(DataView, { session });
  return { trainer, session };
}

function importId(trainer: Awaited<ReturnType<typeof scriptedSession>>['trainer']): number {
  const message = trainer.received.find((m) => m.type === 'command' && m.command.name === 'importDataset');
  if (!message || message.type !== 'command') throw new Error('no importDataset sent');
  return message.id;
}

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

test('a typed path is imported with progress, then the summary, the report and the faces are shown', async () => {
  const reply = deferred<DatasetSummary>();
  const { trainer, session } = await setup({ importDataset: () => reply.promise });

  expect(screen.getByTestId('view-data')).toBeInTheDocument();
  const importButton = screen.getByRole('button', { name: 'Import' });
  expect(importButton).toBeDisabled();
  await fireEvent.input(screen.getByLabelText('Folder or archive path'), { target: { value: '/data/faces' } });
  expect(importButton).toBeEnabled();
  await fireEvent.click(importButton);

  await waitFor(() => expect(trainer.commands('importDataset')).toHaveLength(1));
  expect(trainer.commands('importDataset')[0]).toEqual({
    name: 'importDataset',
    source: { kind: 'path', path: { kind: 'typed', path: '/data/faces' }, layout: 'auto' },
    inputSize: 64, // the trainer's default for its (cpu) backend: the Experiment's input size until one is set
  });
  expect(await screen.findByTestId('import-progress')).toHaveTextContent('Starting the import');
  expect(importButton).toBeDisabled();

  const requestId = importId(trainer);
  trainer.event({ type: 'importProgress', requestId, phase: 'scanning', done: 40, total: null, detail: '/data/faces/bob' });
  await waitFor(() => expect(screen.getByTestId('import-progress')).toHaveTextContent('Scanning: 40'));
  expect(screen.getByTestId('import-progress').querySelector('progress')).not.toHaveAttribute('value');
  // Another request's progress is not ours.
  trainer.event({ type: 'importProgress', requestId: requestId + 100, phase: 'writing', done: 1, total: 2 });
  trainer.event({ type: 'importProgress', requestId, phase: 'decoding', done: 3, total: 10 });
  await waitFor(() => expect(screen.getByTestId('import-progress')).toHaveTextContent('Decoding faces: 3 / 10'));
  expect(screen.getByTestId('import-progress').querySelector('progress')).toHaveAttribute('max', '10');

  reply.resolve(summary());
  const shown = await screen.findByTestId('dataset-summary');
  expect(screen.queryByTestId('import-progress')).not.toBeInTheDocument();
  expect(shown).toHaveTextContent('faces');
  expect(shown).toHaveTextContent('30');
  expect(shown).toHaveTextContent('min 4 · median 10 · max 20');
  expect(shown).toHaveTextContent('one folder per identity');
  expect(shown).toHaveTextContent('144×144 px grey (5.9 MB), cropped to 64×64 for the network');
  expect(shown).toHaveTextContent('290 / 10');
  expect(shown).toHaveTextContent('4.2 s');
  expect(within(shown).getByTestId('dataset-source')).toHaveTextContent('/data/faces'); // where it came from

  const report = screen.getByTestId('import-report');
  expect(report).toHaveTextContent('2 files were skipped');
  expect(within(report).getByText('alice/broken.jpg')).toBeInTheDocument();
  expect(within(report).getByText('not a readable image')).toBeInTheDocument();

  const grid = screen.getByTestId('face-grid');
  await waitFor(() => expect(grid.querySelectorAll('img')).toHaveLength(24));
  expect(within(grid).getByAltText('person0, image 0')).toHaveAttribute('src', PNG);
  expect(grid).toHaveTextContent('Identities 1–12 of 30');
  expect(trainer.commands('datasetFaces')[0]).toMatchObject({ data: '/data/faces', identityOffset: 0, identityLimit: 12 });

  expect(session.dataset?.data).toBe('/data/faces');
  expect(session.config).toMatchObject({ data: '/data/faces', layout: 'auto' });
});

test('the face grid pages through the identities', async () => {
  const { trainer } = await setup({ importDataset: () => summary() });
  await fireEvent.input(screen.getByLabelText('Folder or archive path'), { target: { value: '/data/faces' } });
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  const grid = await screen.findByTestId('face-grid');
  await within(grid).findByAltText('person0, image 0');
  const previous = within(grid).getByRole('button', { name: 'Previous' });
  expect(previous).toBeDisabled();
  await fireEvent.click(within(grid).getByRole('button', { name: 'Next' }));
  await within(grid).findByAltText('person12, image 120');
  expect(trainer.commands('datasetFaces').at(-1)).toMatchObject({ identityOffset: 12 });
  await fireEvent.click(within(grid).getByRole('button', { name: 'Next' }));
  await within(grid).findByAltText('person24, image 240');
  expect(grid).toHaveTextContent('Identities 25–30 of 30');
  expect(within(grid).getByRole('button', { name: 'Next' })).toBeDisabled();
  await fireEvent.click(within(grid).getByRole('button', { name: 'Previous' }));
  await within(grid).findByAltText('person12, image 120');
});

test('a long import report folds away behind its count, with the reasons counted', async () => {
  const skipped = Array.from({ length: 25 }, (_, i) => ({ path: `x/${i}.jpg`, reason: i < 20 ? 'too small' : 'not an image' }));
  await setup({ importDataset: () => summary({ skipped }) });
  await fireEvent.input(screen.getByLabelText('Folder or archive path'), { target: { value: '/data/faces' } });
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  const report = await screen.findByTestId('import-report');
  expect(report).toHaveTextContent('25 files were skipped: 20 too small; 5 not an image');
  const details = report.querySelector('details');
  expect(details).not.toBeNull();
  expect(details).not.toHaveAttribute('open');
  expect(within(report).getByText('Show the 25 skipped files')).toBeInTheDocument();
});

test("a list the trainer cut short counts the files it left out, in good grammar", async () => {
  const listed = Array.from({ length: 12 }, (_, i) => ({ path: `x/${i}.jpg`, reason: i < 10 ? 'too small' : 'not an image' }));
  const { trainer } = await setup({ importDataset: () => summary({ skipped: [...listed, { path: '…', reason: 'and 1 more files left out' }] }) });
  await fireEvent.input(screen.getByLabelText('Folder or archive path'), { target: { value: '/data/faces' } });
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  const report = await screen.findByTestId('import-report');
  expect(report).toHaveTextContent('13 files were skipped: 10 too small; 2 not an image (among the 12 listed)');
  expect(report).toHaveTextContent('The first 12 are listed; 1 more file is left out of the list.');
  expect(report).not.toHaveTextContent('1 more files');
  expect(within(report).getByText('Show the 12 listed files')).toBeInTheDocument();
  expect(within(report).queryByText('…')).toBeNull();
  expect(trainer.commands('importDataset')).toHaveLength(1);
});

test('after a failed import the dataset still selected is labelled as in use', async () => {
  let fail = false;
  await setup({
    importDataset: () => {
      if (fail) throw new Error('No face images in /data/empty');
      return summary();
    },
  });
  const path = screen.getByLabelText('Folder or archive path');
  await fireEvent.input(path, { target: { value: '/data/faces' } });
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  await screen.findByTestId('dataset-summary');
  expect(screen.queryByTestId('dataset-in-use')).toBeNull();
  fail = true;
  await fireEvent.input(path, { target: { value: '/data/empty' } });
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  expect(await screen.findByTestId('import-error')).toHaveTextContent('No face images in /data/empty');
  expect(screen.getByTestId('dataset-in-use')).toHaveTextContent('In use: faces (the last import failed; this one is still selected)');
  expect(screen.getByTestId('dataset-source')).toHaveTextContent('/data/faces');
});

test('the synthetic set is imported with the numbers typed', async () => {
  const { trainer, session } = await setup({ importDataset: () => summary({ data: 'synthetic:5x4', label: 'synthetic', synthetic: true, identities: 5 }) });
  await fireEvent.click(screen.getByRole('radio', { name: 'Synthetic' }));
  await fireEvent.change(screen.getByLabelText('Identities'), { target: { value: '5' } });
  await fireEvent.change(screen.getByLabelText('Images per identity'), { target: { value: '4' } });
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  await screen.findByTestId('dataset-summary');
  expect(trainer.commands('importDataset')[0]?.source).toEqual({ kind: 'synthetic', identities: 5, imagesPerIdentity: 4 });
  expect(session.config).toMatchObject({ data: 'synthetic:5x4', layout: 'auto' });
});

test('a bad number is said under its field and blocks the import', async () => {
  await setup();
  await fireEvent.click(screen.getByRole('radio', { name: 'Synthetic' }));
  await fireEvent.change(screen.getByLabelText('Identities'), { target: { value: '1' } });
  expect(screen.getByText('must be from 2 to 1000')).toBeInTheDocument();
  expect(screen.getByLabelText('Identities')).toHaveAttribute('aria-invalid', 'true');
});

test('the import uses the experiment’s input size', async () => {
  const { trainer, session } = await setup({ importDataset: () => summary() });
  session.updateConfig({ inputSize: 64 });
  await fireEvent.input(screen.getByLabelText('Folder or archive path'), { target: { value: '/data/faces' } });
  // Stored larger than the input (input × 144/128), for random crops.
  expect(screen.getByText(/Faces are imported for a 64×64 input/)).toHaveTextContent('Faces are imported for a 64×64 input (the Experiment’s; stored at 72×72 for random crops).');
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  await screen.findByTestId('dataset-summary');
  expect(trainer.commands('importDataset')[0]?.inputSize).toBe(64);
});

test('a flat folder takes an identity regex, which must have exactly one group (the trainer\'s rule)', async () => {
  const { trainer, session } = await setup({ importDataset: () => summary() });
  await fireEvent.input(screen.getByLabelText('Folder or archive path'), { target: { value: '/data/flat' } });
  await fireEvent.change(screen.getByLabelText('Layout'), { target: { value: 'flat' } });
  const regex = screen.getByLabelText('Identity regex (flat folders)');
  await fireEvent.input(regex, { target: { value: '^s\\d+_' } });
  expect(screen.getByRole('button', { name: 'Import' })).toBeDisabled();
  expect(screen.getAllByText(/needs a group/).length).toBeGreaterThan(0);
  await fireEvent.input(regex, { target: { value: '^(s)(\\d+)_' } });
  expect(screen.getByRole('button', { name: 'Import' })).toBeDisabled();
  expect(screen.getAllByText(/exactly one group/).length).toBeGreaterThan(0);
  await fireEvent.input(regex, { target: { value: '^(s\\d+)_' } });
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  await screen.findByTestId('dataset-summary');
  expect(trainer.commands('importDataset')[0]?.source).toEqual({ kind: 'path', path: { kind: 'typed', path: '/data/flat' }, layout: 'flat', identityRegex: '^(s\\d+)_' });
  expect(session.config).toMatchObject({ layout: 'flat', identityRegex: '^(s\\d+)_' });
});

test('an import error is shown in the view, and the next import can go on', async () => {
  let fail = true;
  await setup({
    importDataset: () => {
      if (fail) throw new Error('No face images in /data/empty: point at a folder of identity folders, or choose layout "flat"');
      return summary();
    },
  });
  await fireEvent.input(screen.getByLabelText('Folder or archive path'), { target: { value: '/data/empty' } });
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  const error = await screen.findByTestId('import-error');
  expect(error).toHaveTextContent('No face images in /data/empty');
  expect(error).toHaveAttribute('role', 'alert');
  expect(screen.queryByTestId('dataset-summary')).not.toBeInTheDocument();
  fail = false;
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  await screen.findByTestId('dataset-summary');
  expect(screen.queryByTestId('import-error')).not.toBeInTheDocument();
});

const CATALOG: CatalogInfo[] = [
  {
    id: 'orl',
    name: 'ORL (AT&T)',
    description: '40 people, 10 grey images each',
    homePage: 'https://example.org/orl',
    identities: 40,
    images: 400,
    downloadBytes: 4_000_000,
    terms: 'Use for research only.\nCite the paper in any publication.',
    citation: 'Samaria and Harter 1994',
    downloaded: false,
  },
  {
    id: 'yale',
    name: 'Yale faces',
    description: '15 people under 11 conditions',
    homePage: 'https://example.org/yale',
    identities: 15,
    images: 165,
    downloadBytes: null,
    terms: 'Yale terms, word for word.',
    citation: '',
    downloaded: true,
  },
];

test('a catalog dataset needs its terms accepted before it is downloaded', async () => {
  const { trainer, session } = await setup({
    labInfo: () => ({ ...TEST_LAB_INFO, catalog: CATALOG }),
    importDataset: () => summary({ data: 'catalog:orl', label: 'ORL', citation: 'Samaria and Harter 1994' }),
  });
  await fireEvent.click(screen.getByRole('radio', { name: 'Catalog' }));
  expect(screen.getByRole('radio', { name: /ORL/ })).toBeChecked();
  expect(screen.getByText(/40 identities · 400 images · 3\.8 MB download/)).toBeInTheDocument();
  expect(screen.getByTestId('catalog-terms').textContent).toBe('Use for research only.\nCite the paper in any publication.');
  const button = screen.getByRole('button', { name: 'Download & import' });
  expect(button).toBeDisabled();
  expect(screen.getByText(/accept them to download it/)).toBeInTheDocument();

  const accept = screen.getByRole('checkbox', { name: 'I accept these terms' });
  await fireEvent.click(accept);
  expect(button).toBeEnabled();
  // Another dataset: its own terms, not yet accepted.
  await fireEvent.click(screen.getByRole('radio', { name: /Yale/ }));
  expect(screen.getByTestId('catalog-terms')).toHaveTextContent('Yale terms, word for word.');
  expect(screen.getByRole('checkbox', { name: 'I accept these terms' })).not.toBeChecked();
  expect(screen.getByRole('button', { name: 'Import' })).toBeDisabled(); // downloaded already: no download
  await fireEvent.click(screen.getByRole('radio', { name: /ORL/ }));
  await fireEvent.click(screen.getByRole('checkbox', { name: 'I accept these terms' }));
  await fireEvent.click(screen.getByRole('button', { name: 'Download & import' }));
  await screen.findByTestId('dataset-summary');
  expect(trainer.commands('importDataset')[0]?.source).toEqual({ kind: 'catalog', id: 'orl', acceptTerms: true });
  expect(screen.getByTestId('dataset-summary')).toHaveTextContent('Samaria and Harter 1994');
  // A run opens it as the import did: with the catalog's layout.
  expect(session.config).toMatchObject({ data: 'catalog:orl', layout: 'folders' });
  expect(screen.getByRole('button', { name: 'Import' })).toBeInTheDocument(); // downloaded now
});

test('in the desktop app folders and archives come from the native dialog, as grants', async () => {
  const grant = 'ab'.repeat(16);
  const chooseDataset = vi.fn(async (kind: 'folder' | 'archive') => (kind === 'folder' ? { grant, label: 'my-faces' } : null));
  (window as { lab?: unknown }).lab = { chooseDataset };
  const { trainer } = await setup({ importDataset: () => summary() });
  expect(screen.queryByLabelText('Folder or archive path')).not.toBeInTheDocument();
  const importButton = screen.getByRole('button', { name: 'Import' });
  expect(importButton).toBeDisabled();
  expect(screen.getByText('Choose a folder first.')).toBeInTheDocument();

  await fireEvent.click(screen.getByRole('radio', { name: 'Archive' }));
  await fireEvent.click(screen.getByRole('button', { name: 'Choose archive…' }));
  expect(chooseDataset).toHaveBeenLastCalledWith('archive');
  expect(importButton).toBeDisabled(); // cancelled

  await fireEvent.click(screen.getByRole('radio', { name: 'Folder' }));
  await fireEvent.click(screen.getByRole('button', { name: 'Choose folder…' }));
  expect(await screen.findByText('my-faces')).toBeInTheDocument();
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  await screen.findByTestId('dataset-summary');
  expect(trainer.commands('importDataset')[0]?.source).toEqual({ kind: 'path', path: { kind: 'grant', grant }, layout: 'auto' });
});

test('split settings go into the config, and Next goes to the Experiment', async () => {
  const { session } = await setup();
  const holdOut = screen.getByLabelText('Held out for validation');
  expect(holdOut).toHaveValue(0.2);
  await fireEvent.change(holdOut, { target: { value: '0.25' } });
  expect(session.config.holdOut).toBe(0.25);
  await fireEvent.change(holdOut, { target: { value: '1' } });
  expect(screen.getByText('must be between 0 and 1')).toBeInTheDocument();
  expect(session.config.holdOut).toBe(0.25);
  await fireEvent.change(screen.getByLabelText('Seed'), { target: { value: '7' } });
  expect(session.config.seed).toBe(7);
  expect(screen.getByText(/identity-disjoint folds/)).toBeInTheDocument();
  await fireEvent.click(screen.getByRole('button', { name: 'Next: Experiment' }));
  expect(session.view).toBe('experiment');
});

test('an import still running when the view opens shows its progress', async () => {
  const { trainer } = await setup();
  trainer.event({ type: 'importProgress', requestId: 99, phase: 'downloading', done: 1024 * 1024, total: 4 * 1024 * 1024, detail: 'orl.zip' });
  expect(await screen.findByTestId('import-progress')).toHaveTextContent('Downloading: 1.0 MB / 4.0 MB');
  trainer.event({ type: 'importProgress', requestId: 99, phase: 'done', done: 1, total: 1 });
  await waitFor(() => expect(screen.queryByTestId('import-progress')).not.toBeInTheDocument());
});

test('a view opened before the trainer answered works once it has', async () => {
  const trainer = new ScriptedTrainer({
    labInfo: () => TEST_LAB_INFO,
    status: () => ({ state: null, runId: null, step: null, totalSteps: null }),
    importDataset: () => summary({ data: 'synthetic:20x10' }),
    datasetFaces: (command) => faces(command),
  });
  const session = new LabSession();
  render(DataView, { session });
  expect(screen.getByText('Waiting for the trainer…')).toBeInTheDocument();
  await session.attach(trainer.client);
  // A path can be typed here (serve mode): that is the first choice.
  expect(await screen.findByRole('radio', { name: 'Folder or archive' })).toBeChecked();
  await fireEvent.click(screen.getByRole('radio', { name: 'Synthetic' }));
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
  await screen.findByTestId('dataset-summary');
  expect(trainer.commands('importDataset')[0]?.source).toEqual({ kind: 'synthetic', identities: 20, imagesPerIdentity: 10 });
  await waitFor(() => expect(screen.getByTestId('face-grid').querySelectorAll('img').length).toBeGreaterThan(0));
});

test('issue 14, 4: a download says about how long is left, only after a few updates, from the pace so far', async () => {
  let now = 1_000_000;
  const clock = vi.spyOn(Date, 'now').mockImplementation(() => now);
  try {
    const { trainer } = await setup();
    const MB = 1024 * 1024;
    const send = async (done: number) => {
      trainer.event({ type: 'importProgress', requestId: 99, phase: 'downloading', done, total: 100 * MB, detail: 'orl.zip' });
      await waitFor(() => expect(screen.getByTestId('import-progress').querySelector('progress')).toHaveAttribute('value', String(done)));
    };
    await send(0);
    for (const mb of [1, 2]) {
      now += 6_000;
      await send(mb * MB);
      expect(screen.queryByTestId('import-time-left')).not.toBeInTheDocument();
    }
    now += 6_000;
    await send(3 * MB); // 3 MB in 18 s: 97 MB left at 6 s each ≈ 10 min
    expect(screen.getByTestId('import-time-left')).toHaveTextContent('about 10 min left');
    // A new phase starts the estimate over.
    trainer.event({ type: 'importProgress', requestId: 99, phase: 'decoding', done: 1, total: 400 });
    await waitFor(() => expect(screen.getByTestId('import-progress')).toHaveTextContent('Decoding faces: 1 / 400'));
    expect(screen.queryByTestId('import-time-left')).not.toBeInTheDocument();
  } finally {
    clock.mockRestore();
  }
});
