import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import RunsView from '../RunsView.svelte';
import { checkBackend, scriptedSession, TEST_LAB_INFO, type Handlers } from '../../../test-support/scripted-trainer';
import { BROKEN_ID, evaluation, getRunReply, listEntries, PRELU_ID, RELU_ID, snapshotReply } from './fixtures';

function handlers(extra: Handlers = {}): Handlers {
  return {
    listRuns: () => listEntries(),
    getRun: ({ runId }) => getRunReply(runId),
    getEvaluation: ({ runId }) => (runId === RELU_ID ? evaluation(RELU_ID) : null),
    listSnapshots: () => ({
      snapshots: [
        { step: 20, epoch: 0, layers: ['conv1.act', 'conv2.act'], probes: 2, bytes: 4096 },
        { step: 40, epoch: 1, layers: ['conv1.act', 'conv2.act'], probes: 2, bytes: 4096 },
      ],
    }),
    loadSnapshot: ({ step }) => snapshotReply(step),
    ...extra,
  };
}

async function view(extra: Handlers = {}) {
  const { trainer, session } = await scriptedSession(handlers(extra));
  render(RunsView, { session });
  await screen.findByTestId('runs-table');
  return { trainer, session };
}

async function open(id: string) {
  await fireEvent.click(await screen.findByRole('button', { name: `Open ${id}` }));
  return screen.findByTestId('run-detail');
}

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

describe('the list', () => {
  test('shows each run with its config and final numbers, flags an unreadable one, and refreshes', async () => {
    const { trainer } = await view();
    const table = screen.getByTestId('runs-table');
    const relu = table.querySelector(`tr[data-run="${RELU_ID}"]`) as HTMLElement;
    expect(relu).toBeTruthy();
    expect(relu).toHaveTextContent('stopped');
    expect(relu).toHaveTextContent('tiny');
    expect(relu).toHaveTextContent('relu +1 layer');
    expect(relu).toHaveTextContent('2.310'); // last epoch's train loss
    // Each number says what it is: the table's are the last epoch's means.
    const headers = within(table).getAllByRole('columnheader').map((th) => th.textContent?.trim());
    expect(headers).toContain('Loss (last epoch)');
    expect(headers).toContain('Acc. (last epoch)');
    expect(relu).toHaveTextContent('37.0%'); // val accuracy
    await waitFor(() => expect(relu).toHaveTextContent('86.3% ± 1.4%')); // from getEvaluation
    const prelu = table.querySelector(`tr[data-run="${PRELU_ID}"]`) as HTMLElement;
    expect(prelu).toHaveTextContent('prelu');
    expect(prelu).toHaveTextContent('finished');
    const broken = table.querySelector(`tr[data-run="${BROKEN_ID}"]`) as HTMLElement;
    expect(broken).toHaveTextContent('unreadable');
    expect(broken).toHaveTextContent('run.json is not valid JSON');
    expect(within(broken).queryByRole('checkbox')).toBeNull();
    expect(screen.getByRole('checkbox', { name: `Select ${RELU_ID}` })).not.toBeChecked();

    await fireEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    await waitFor(() => expect(trainer.commands('listRuns')).toHaveLength(2));
  });

  test('flags an interrupted run and shows why the list failed', async () => {
    let fail = false;
    const entries = listEntries();
    (entries[1] as { interrupted: boolean }).interrupted = true;
    await view({
      listRuns: () => {
        if (fail) throw new Error('the runs folder cannot be read (EACCES)');
        return entries;
      },
    });
    expect(screen.getByTestId('runs-table').querySelector(`tr[data-run="${RELU_ID}"]`)).toHaveTextContent('interrupted');
    fail = true;
    await fireEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('EACCES');
  });
});

describe('one run', () => {
  test('opens with its recorded curves, dead filters per layer and snapshots', async () => {
    const { trainer } = await view();
    const detail = await open(RELU_ID);
    await within(detail).findByTestId('chart-loss');
    expect(trainer.commands('getRun')).toEqual([{ name: 'getRun', runId: RELU_ID }]);
    expect(within(detail).getByTestId('chart-loss')).toHaveAttribute('data-points', '40');
    expect(within(detail).getByTestId('chart-accuracy')).toHaveAttribute('data-points', '40');
    expect(within(detail).getByTestId('chart-lr')).toHaveAttribute('data-points', '40');
    // Chance level for the run's 20 identities: ln 20 on the loss, 1/20 on the accuracy.
    expect(within(within(detail).getByTestId('chart-loss')).getByRole('img')).toHaveAccessibleName(expect.stringContaining('reference: chance (ln 20 = 3.00)'));
    expect(within(within(detail).getByTestId('chart-accuracy')).getByRole('img')).toHaveAccessibleName(expect.stringContaining('reference: chance (1/20 = 0.05)'));
    const dead = within(detail).getByTestId('chart-dead');
    expect(dead).toHaveAttribute('data-points', '5');
    // issue 14, 2.4: % of the layer, the count with it (as in the Train view).
    expect(within(dead).getByRole('img')).toHaveAccessibleName(/conv1\.act \(relu, of 16\) 25\.000 \(4 of 16 filters\).*fc1\.act \(relu, of 64\) 18\.750 \(12 of 64 filters\)/);
    expect(within(detail).queryByTestId('chart-negative')).toBeNull();
    expect(detail).toHaveTextContent('Verification (step 40)');
    // issue 14, 2.5: the final numbers are the Runs table's, named as there: the last epoch's means.
    const final = detail.querySelector('dl[aria-label="Final numbers"]') as HTMLElement;
    expect(final).toHaveTextContent(/Loss \(last epoch\)\s*2\.31/);
    expect(final).toHaveTextContent(/Accuracy \(last epoch\)\s*42\.0%/);
    expect(final).not.toHaveTextContent('mean of last');
    expect(detail).toHaveTextContent('86.33% ± 1.42%');

    // Snapshots: the newest is loaded first; the slider goes back to the first epoch.
    const snapshots = within(detail).getByTestId('snapshots');
    await waitFor(() => expect(snapshots.querySelectorAll('figure[data-layer]')).toHaveLength(2));
    expect(trainer.commands('loadSnapshot').at(-1)).toEqual({ name: 'loadSnapshot', runId: RELU_ID, step: 40 });
    expect(snapshots.querySelector('figure[data-layer="conv1.act"]')).toHaveAttribute('data-constant', '1');
    expect(snapshots).toHaveTextContent('step 40 · epoch 2');
    await fireEvent.input(within(snapshots).getByRole('slider', { name: 'Snapshot' }), { target: { value: '0' } });
    await waitFor(() => expect(trainer.commands('loadSnapshot').at(-1)).toEqual({ name: 'loadSnapshot', runId: RELU_ID, step: 20 }));
    await waitFor(() => expect(snapshots).toHaveTextContent('step 20 · epoch 1'));
    const probe = within(snapshots).getByRole('combobox', { name: 'Probe face' });
    expect(within(probe).getAllByRole('option').map((o) => o.textContent)).toEqual(['1: id-0000 (image 3)', '2: id-0005 (image 57)']);
  });

  test("an inspection pass's snapshot is said to be one, not training's", async () => {
    await view({
      listSnapshots: () => ({
        snapshots: [
          { step: 20, epoch: 0, layers: ['conv1.act', 'conv2.act'], probes: 2, bytes: 4096 },
          { step: 40, epoch: 1, layers: ['conv1.act', 'conv2.act'], probes: 2, bytes: 4096, inspection: { data: 'LFW', at: '2026-12-07T20:00:00.000Z' } },
        ],
      }),
    });
    const detail = await open(RELU_ID);
    const snapshots = await within(detail).findByTestId('snapshots');
    await waitFor(() => expect(snapshots).toHaveTextContent('a pass over LFW (not training’s faces) · step 40 · 2 of 2'));
    expect(snapshots).not.toHaveTextContent('epoch 2');
  });

  test('a run that cannot die shows negative-regime filters, and a run without snapshots says so', async () => {
    await view({ listSnapshots: () => ({ snapshots: [] }) });
    const detail = await open(PRELU_ID);
    const negative = await within(detail).findByTestId('chart-negative');
    expect(negative).toHaveAttribute('data-points', '5');
    expect(within(detail).queryByTestId('chart-dead')).toBeNull();
    expect(detail).toHaveTextContent('cannot die');
    expect(await within(detail).findByText('No snapshots recorded for this run.')).toBeInTheDocument();
  });

  test('a run whose metrics cannot be read shows the reason', async () => {
    await view({
      getRun: () => {
        throw Object.assign(new Error('This run cannot be opened: run.json is missing'), { code: 'not-found' });
      },
    });
    const detail = await open(RELU_ID);
    expect(await within(detail).findByRole('alert')).toHaveTextContent('run.json is missing');
    await fireEvent.click(within(detail).getByRole('button', { name: '← All runs' }));
    expect(await screen.findByTestId('runs-table')).toBeInTheDocument();
    // Back where the user was: on the run's Open button.
    await waitFor(() => expect(screen.getByRole('button', { name: `Open ${RELU_ID}` })).toHaveFocus());
  });

  test('resume sends resumeRun and switches to Train', async () => {
    const { trainer, session } = await view({ resumeRun: ({ runId }) => ({ runId }) });
    const detail = await open(RELU_ID);
    await fireEvent.click(await within(detail).findByRole('button', { name: 'Resume' }));
    await waitFor(() => expect(session.view).toBe('train'));
    expect(trainer.commands('resumeRun')).toEqual([{ name: 'resumeRun', runId: RELU_ID }]);
  });

  test('resume names the backend picked in Experiment, which can be changed beside it; a run whose GPU is gone says so', async () => {
    const info = { ...TEST_LAB_INFO, backends: TEST_LAB_INFO.backends.map((b) => (b.name === 'webgpu' ? { ...b, reason: 'the GPU host was lost' } : b)) };
    const { trainer, session } = await view({
      labInfo: () => info,
      // The run trained on webgpu and failed when its GPU host went away.
      getRun: ({ runId }) => {
        const reply = getRunReply(runId);
        return runId === RELU_ID ? { ...reply, record: { ...reply.record, state: 'failed', backend: 'webgpu' } } : reply;
      },
      resumeRun: (command) => (checkBackend(command, info), { runId: command.runId }),
    });
    session.chooseBackend('wasm');
    const detail = await open(RELU_ID);
    const on = within(detail).getByRole('combobox', { name: 'Resume on' });
    expect(on).toHaveValue('wasm');
    const option = (name: string) => within(on).getByRole('option', { name: new RegExp(`^${name}`) }) as HTMLOptionElement;
    expect(option('tensorflow-gpu').disabled).toBe(true);
    expect(option('tensorflow-gpu')).toHaveTextContent('tensorflow-gpu (cannot train: not installed: npm install @tensorflow/tfjs-node-gpu)');
    expect(option('webgpu').disabled).toBe(true);
    expect(option('automatic \\(cpu\\)').disabled).toBe(false);
    expect(within(detail).getByTestId('resume-own-backend')).toHaveTextContent('it trained on webgpu, which cannot train here now: the GPU host was lost');
    await fireEvent.click(within(detail).getByRole('button', { name: 'Resume' }));
    await waitFor(() => expect(session.view).toBe('train'));
    expect(trainer.commands('resumeRun')).toEqual([{ name: 'resumeRun', runId: RELU_ID, backend: 'wasm' }]);

    // The choice here is the Experiment view's: automatic again names none.
    session.go('runs');
    await fireEvent.change(on, { target: { value: '' } });
    expect(session.backendChoice).toBeNull();
    await fireEvent.click(within(detail).getByRole('button', { name: 'Resume' }));
    await waitFor(() => expect(trainer.commands('resumeRun')).toHaveLength(2));
    expect(trainer.commands('resumeRun')[1]).toEqual({ name: 'resumeRun', runId: RELU_ID });
  });

  test('a finished run cannot be resumed; a refused resume is shown', async () => {
    await view({
      resumeRun: () => {
        throw Object.assign(new Error('a run is already training'), { code: 'busy' });
      },
    });
    let detail = await open(PRELU_ID);
    expect(await within(detail).findByRole('button', { name: 'Resume' })).toBeDisabled();
    expect(detail).toHaveTextContent('cannot resume: it finished');
    await fireEvent.click(within(detail).getByRole('button', { name: '← All runs' }));
    detail = await open(RELU_ID);
    await fireEvent.click(await within(detail).findByRole('button', { name: 'Resume' }));
    expect(await within(detail).findByRole('alert')).toHaveTextContent('a run is already training');
  });

  test('Evaluate opens the Evaluate view on this run', async () => {
    const { session } = await view();
    const detail = await open(RELU_ID);
    await fireEvent.click(await within(detail).findByRole('button', { name: 'Evaluate' }));
    expect(session.evaluateRunId).toBe(RELU_ID);
    expect(session.view).toBe('evaluate');
  });

  test('export sends exportRun with a typed path in serve mode', async () => {
    const { trainer } = await view({ exportRun: ({ destination }) => ({ file: destination.kind === 'typed' ? destination.path : '?', bytes: 2_345_678 }) });
    const detail = await open(RELU_ID);
    await fireEvent.click(await within(detail).findByRole('button', { name: 'Export…' }));
    const input = within(detail).getByRole('textbox', { name: "Export to (a path on the trainer's machine)" });
    await fireEvent.input(input, { target: { value: ' /tmp/exports/relu.tar.gz ' } });
    await fireEvent.click(within(detail).getByRole('button', { name: 'Export' }));
    await waitFor(() => expect(trainer.commands('exportRun')).toHaveLength(1));
    expect(trainer.commands('exportRun')[0]).toEqual({ name: 'exportRun', runId: RELU_ID, destination: { kind: 'typed', path: '/tmp/exports/relu.tar.gz' } });
    expect(await within(detail).findByText('Exported to /tmp/exports/relu.tar.gz (2.3 MB)')).toBeInTheDocument();
  });

  test('export uses the native save dialog in the app', async () => {
    const grant = 'ab'.repeat(16);
    const asked: string[] = [];
    (window as { lab?: unknown }).lab = {
      chooseExportPath: async (name: string) => {
        asked.push(name);
        return { grant, label: name };
      },
    };
    const { trainer } = await view({ exportRun: () => ({ file: '/home/me/relu.tar.gz', bytes: 1000 }) });
    const detail = await open(RELU_ID);
    await fireEvent.click(await within(detail).findByRole('button', { name: 'Export…' }));
    await waitFor(() => expect(trainer.commands('exportRun')).toHaveLength(1));
    expect(asked).toEqual([`${RELU_ID}.tar.gz`]);
    expect(trainer.commands('exportRun')[0]).toEqual({ name: 'exportRun', runId: RELU_ID, destination: { kind: 'grant', grant } });
    // No typed path in the app (the notes box is the only text box).
    expect(within(detail).queryByRole('textbox', { name: /export to/i })).toBeNull();
    expect(within(detail).getAllByRole('textbox')).toEqual([within(detail).getByRole('textbox', { name: 'Notes' })]);
  });
});

describe('compare', () => {
  test('dead counts name the step of the row they come from, and TAR @ FAR is "—" when too few mismatched pairs resolve it', async () => {
    const few = { ...evaluation(RELU_ID), mismatchedPairs: 60 };
    const rows = (id: string) => {
      const reply = getRunReply(id);
      // The relu run's last 'layers' row is at step 30 while its steps go to 40.
      return id === RELU_ID ? { ...reply, metrics: reply.metrics.filter((r) => !(r['kind'] === 'layers' && r['step'] === 40)) } : reply;
    };
    await view({ getRun: ({ runId }) => rows(runId), getEvaluation: ({ runId }) => (runId === RELU_ID ? few : null) });
    await fireEvent.click(screen.getByRole('checkbox', { name: `Select ${RELU_ID}` }));
    await fireEvent.click(screen.getByRole('checkbox', { name: `Select ${PRELU_ID}` }));
    await fireEvent.click(screen.getByRole('button', { name: 'Compare' }));
    const table = await screen.findByTestId('compare-table');
    const row = (name: string) => within(table).getByRole('row', { name: new RegExp(`^${name.replace(/[()]/g, '\\$&')}`) });
    expect(row('Dead filters, % of the layer (last stats row): conv1.act')).toHaveTextContent('18.8% at step 30');
    expect(row('Dead filters, % of the layer (last stats row): conv1.act')).toHaveTextContent('at step 40');
    const tar = within(row('TAR @ FAR 1%')).getAllByRole('cell')[1];
    expect(tar).toHaveTextContent(/^—$/);
    expect(tar).toHaveAttribute('title', expect.stringContaining('needs at least 100 mismatched pairs'));
  });

  test('says which dataset each verification score is on, and flags one that overlaps its training data', async () => {
    await view({
      getEvaluation: ({ runId }) =>
        runId === RELU_ID
          ? { ...evaluation(RELU_ID), data: { name: 'LFW', source: '/data/lfw', hash: 'h', identities: 5749, images: 13233 }, overlap: { checked: true, identities: 2, identityNames: ['a', 'b'], images: 0 } }
          : { ...evaluation(PRELU_ID), data: { name: 'lfw-other', source: '/data/x', hash: 'g', identities: 10, images: 40 }, overlap: { checked: true, identities: 0, identityNames: [], images: 0 } },
    });
    await fireEvent.click(screen.getByRole('checkbox', { name: `Select ${RELU_ID}` }));
    await fireEvent.click(screen.getByRole('checkbox', { name: `Select ${PRELU_ID}` }));
    await fireEvent.click(screen.getByRole('button', { name: 'Compare' }));
    const table = await within(await screen.findByTestId('compare-view')).findByTestId('compare-table');
    const cells = await within(table).findAllByTestId('compare-evaluated-on');
    await waitFor(() => expect(cells.map((c) => c.textContent?.replace(/\s+/g, ' ').trim())).toEqual(['lfw-other', 'LFW (overlaps its training data)']));
    expect(within(cells[1]!).getByText('(overlaps its training data)')).toHaveAttribute('title', expect.stringMatching(/not comparable with published ones/));
  });

  test('needs two runs, then overlays their curves and fills the table', async () => {
    const { trainer } = await view();
    const compare = screen.getByRole('button', { name: 'Compare' });
    expect(compare).toBeDisabled();
    await fireEvent.click(screen.getByRole('checkbox', { name: `Select ${RELU_ID}` }));
    expect(compare).toBeDisabled();
    await fireEvent.click(screen.getByRole('checkbox', { name: `Select ${PRELU_ID}` }));
    expect(compare).toBeEnabled();
    await fireEvent.click(compare);

    const view2 = await screen.findByTestId('compare-view');
    const table = await within(view2).findByTestId('compare-table');
    expect(trainer.commands('getRun').map((c) => c.runId).sort()).toEqual([PRELU_ID, RELU_ID].sort());

    const loss = within(view2).getByTestId('chart-compare-loss');
    expect(loss).toHaveAttribute('data-points', '40');
    // The legend's names are short; screen readers get the full ids.
    const lossName = within(loss).getByRole('img').getAttribute('aria-label') ?? '';
    expect(lossName).toContain(`${RELU_ID} · relu +1`);
    expect(lossName).toContain(`${PRELU_ID} · prelu`);
    expect(lossName).toContain('reference: chance (ln 20 = 3.00)');
    expect(within(view2).getByTestId('chart-compare-accuracy')).toHaveAttribute('data-points', '40');
    const dead = within(view2).getByTestId('chart-compare-dead');
    expect(dead).toHaveAttribute('data-points', '5');
    const deadName = within(dead).getByRole('img').getAttribute('aria-label') ?? '';
    // issue 14, 2.4: % of the run's filters, not a sum of counts over models of different sizes.
    expect(deadName).toContain(`${RELU_ID} · relu +1: dead 21.429 (24 of 112 filters)`);
    expect(deadName).toContain(`${PRELU_ID} · prelu: negative regime 5.357 (6 of 112 filters)`);
    expect(within(view2).getByTestId('chart-compare-dead-conv2.act')).toHaveAttribute('data-points', '5');

    // Each column: the short name the legends use, and the full id.
    const headers = within(table).getAllByRole('columnheader').map((th) => th.textContent?.replace(/\s+/g, ' ').trim());
    expect(headers).toEqual(['Run', `prelu · c3d4 ${PRELU_ID}`, `relu +1 · a1b2 ${RELU_ID}`]);
    const row = (name: string) => within(table).getByRole('row', { name: new RegExp(`^${name.replace(/[()]/g, '\\$&')}`) });
    // issue 14, 3: a dataset row, as the Runs table's column (a synthetic run among ORL runs is named so).
    expect(row('Dataset')).toHaveTextContent('synthetic (synthetic)');
    expect(within(row('Dataset')).getAllByRole('cell')[0]).toHaveAttribute('title', expect.stringContaining('20 identities, 200 images'));
    expect(row('Activation')).toHaveTextContent('prelu');
    expect(row('Activation')).toHaveTextContent('conv1.act: mfm:2/1');
    // issue 14, 2.5: the same definition and name as the Runs table (the last epoch's means, from run.json).
    expect(row('Loss (last epoch)')).toHaveTextContent('2.31');
    expect(row('Accuracy (last epoch)')).toHaveTextContent('42.0%');
    expect(within(table).getByRole('rowheader', { name: 'Accuracy (last epoch)' })).toHaveAttribute('title', 'Mean training accuracy over the last completed epoch');
    expect(row('Val accuracy')).toHaveTextContent('40.0%');
    // Dead counts are the last stored 'layers' row's, and say its step.
    const deadRow = row('Dead filters, % of the layer (last stats row): conv2.act');
    expect(deadRow).toHaveTextContent('25.0% at step 40');
    expect(deadRow).toHaveTextContent('cannot die (6.3% negative) at step 40');
    // The counts are on hover.
    expect(within(deadRow).getAllByRole('cell').map((c) => c.getAttribute('title'))).toEqual(['2 of 32 filters in the negative regime', '8 of 32 filters dead']);
    expect(row('Verification accuracy')).toHaveTextContent('86.33% ± 1.42%');
    expect(row('Verification accuracy')).toHaveTextContent('not evaluated');
    // Which dataset each score is on: an evaluation saved before other datasets is on the run's own.
    expect(within(row('Evaluated on')).getAllByRole('cell').map((c) => c.textContent?.trim())).toEqual(['—', 'its own dataset']);
    expect(row('EER')).toHaveTextContent('14.20%');
    expect(row('AUC')).toHaveTextContent('0.921');
    // 300 mismatched pairs allow 3 false accepts at FAR 1%: shown, flagged rough.
    expect(row('TAR @ FAR 1%')).toHaveTextContent('41.0% (rough)');

    await fireEvent.click(within(view2).getByRole('button', { name: '← All runs' }));
    expect(await screen.findByTestId('runs-table')).toBeInTheDocument();
    expect(screen.getByRole('checkbox', { name: `Select ${RELU_ID}` })).toBeChecked();
  });
});
