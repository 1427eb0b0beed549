import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { expect, test, vi } from 'vitest';
import TrainView from '../TrainView.svelte';
import { scriptedSession, type Handlers } from '../../../test-support/scripted-trainer';
import type { Subscription } from '#protocol/messages';
import { recipeFor } from '#protocol/train-recipes';
import { LEARNING_GRACE_STEPS, LEARNING_WINDOW } from '../../../lib/chance';
import { frame, LAYERS, progress, progressWithLoss, startedRunReply, statsMessage } from './fixtures';

const status = { state: 'running' as const, runId: 'run-1', step: 0, totalSteps: 100 };

/** A session whose trainer accepts subscriptions and the run commands, with a run started and its layers and probes announced. */
async function started(handlers: Handlers = {}) {
  const { trainer, session } = await scriptedSession({
    subscribe: (c) => ({ layers: c.layers, preActivation: c.preActivation, fullMap: c.fullMap }) as Subscription,
    pause: () => ({ ...status, state: 'paused' }),
    resume: () => status,
    stop: () => ({ ...status, state: 'stopped' }),
    setProbeRate: (c) => ({ intervalMs: c.intervalMs }),
    setStatsWindow: (c) => ({ steps: c.steps }),
    probeNow: () => null,
    ...handlers,
  });
  trainer.event({ type: 'started', runId: 'run-1', step: 0, totalSteps: 100, backend: 'cpu', resumed: false });
  trainer.event({ type: 'layers', layers: LAYERS });
  trainer.event({ type: 'probes', images: [100, 101], labels: ['alice', 'bob'], intervalMs: 250 });
  render(TrainView, { session });
  await screen.findByTestId('activation-grid');
  return { trainer, session };
}

const lastSubscription = (trainer: Awaited<ReturnType<typeof started>>['trainer']) => trainer.commands('subscribe').at(-1);

test('with no run, points to the Experiment view', async () => {
  const { session } = await scriptedSession();
  render(TrainView, { session });
  expect(screen.getByTestId('view-train')).toHaveTextContent('No run yet');
  await fireEvent.click(screen.getByRole('button', { name: 'Go to Experiment' }));
  expect(session.view).toBe('experiment');
});

test('progress makes the loss, accuracy and lr charts grow', async () => {
  const { trainer } = await started();
  for (const id of ['chart-loss', 'chart-accuracy', 'chart-lr', 'chart-dead']) expect(screen.getByTestId(id)).toHaveAttribute('data-points', '0');
  trainer.push(progress(1, 5));
  await waitFor(() => expect(screen.getByTestId('chart-loss')).toHaveAttribute('data-points', '5'));
  trainer.push(progress(6, 9));
  await waitFor(() => expect(screen.getByTestId('chart-accuracy')).toHaveAttribute('data-points', '9'));
  expect(screen.getByTestId('chart-lr')).toHaveAttribute('data-points', '9');
  expect(screen.getByTestId('run-status')).toHaveTextContent('step 9 / 100');
  // An epoch's held-out numbers join the loss chart at their step.
  trainer.event({ type: 'epoch', step: 9, epoch: 0, trainLoss: 0.5, trainAccuracy: 0.2, valLoss: 0.7, valAccuracy: 0.1 });
  // (jsdom draws no chart: its accessible summary names the series.)
  await waitFor(() => expect(within(screen.getByTestId('chart-loss')).getByRole('img', { name: /held-out loss \(epoch end\) 0\.700/ })).toBeInTheDocument());
});

test('subscribes to the first layer by default, and again when the layer, the kind or the probe changes', async () => {
  const { trainer } = await started();
  await waitFor(() => expect(lastSubscription(trainer)).toMatchObject({ layers: ['conv1.act'], preActivation: [], fullMap: null }));
  await fireEvent.change(screen.getByLabelText('Layer'), { target: { value: 'conv2.act' } });
  await waitFor(() => expect(lastSubscription(trainer)).toMatchObject({ layers: ['conv2.act'], preActivation: [] }));
  await fireEvent.change(screen.getByLabelText('Maps'), { target: { value: 'preactivation' } });
  await waitFor(() => expect(lastSubscription(trainer)).toMatchObject({ layers: [], preActivation: ['conv2.act'] }));
});

test('the grid shows one canvas per filter with the dead ones marked', async () => {
  const { trainer } = await started();
  trainer.push(statsMessage(3, { 'conv1.act': [2, 5] }, 3));
  trainer.push(frame('conv1.act', { step: 3, channels: 8, zero: [2, 5] }));
  const grid = screen.getByTestId('activation-grid');
  await waitFor(() => expect(within(grid).getAllByTestId('filter-map').filter((c) => c.dataset.dead === 'true')).toHaveLength(2));
  const maps = within(grid).getAllByTestId('filter-map');
  expect(maps).toHaveLength(8);
  expect(maps.map((m) => m.dataset.filter)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
  expect(maps[2]).toHaveAttribute('data-dead', 'true');
  expect(maps[0]).toHaveAttribute('data-dead', 'false');
  // Dead is a red outline; a map with the same value everywhere for this face is "flat" (a grey hatch and a mark).
  expect(screen.getByRole('button', { name: 'Filter 5, dead, flat (0 everywhere for this face)' })).toBeInTheDocument();
  expect(maps.map((m) => m.dataset.flat)).toEqual(['false', 'false', 'flat', 'false', 'false', 'flat', 'false', 'false']);
  expect(within(grid).getAllByText('flat')).toHaveLength(2);
  expect(screen.getByRole('button', { name: 'Filter 0' })).not.toHaveClass('flat');
  expect(screen.getByRole('button', { name: /^Filter 2,/ })).toHaveClass('dead');
  expect(screen.getByRole('button', { name: /^Filter 2,/ })).toHaveClass('flat');
  expect(screen.getByTestId('view-train')).toHaveTextContent('flat: the same value everywhere for this face');
  expect(screen.getByTestId('frame-step')).toHaveTextContent('step 3 · alice · 4×4 (averaged from 8×8)');
  // Dead counts summary and the layer health rows.
  const counts = screen.getByTestId('dead-counts');
  expect(within(counts).getByText('2', { selector: '[data-layer="conv1.act"]' })).toBeInTheDocument();
  expect(screen.getByTestId('dead-window')).toHaveTextContent('dead over the last 3 steps');
  // issue 14, 2.4: the count and its % of the layer, as the other views give it.
  expect(within(counts).getByText('2', { selector: '[data-layer="conv1.act"]' }).closest('li')).toHaveTextContent('2/8 filters dead (25.0%)');
  const table = screen.getByTestId('layer-health');
  expect(table.querySelectorAll('tbody tr[data-layer]')).toHaveLength(3);
  expect(table.querySelector('tr[data-layer="conv1.act"]')).toHaveTextContent('2/8');
  await waitFor(() => expect(screen.getByTestId('chart-dead')).toHaveAttribute('data-points', '1'));
});

test("cannot-die layers are labelled as such, and MFM's pieces are explained", async () => {
  const { trainer } = await started();
  trainer.push(statsMessage(3, { 'conv2.act': [0, 1], 'conv3.act': [1, 5] }, 3));
  const counts = screen.getByTestId('dead-counts');
  await waitFor(() => expect(counts.querySelector('[data-layer="conv2.act"]')).toHaveTextContent('2'));
  expect(counts.querySelector('[data-layer="conv2.act"]')!.closest('li')).toHaveTextContent('cannot die');
  expect(counts.querySelector('[data-layer="conv2.act"]')!.closest('li')).toHaveTextContent('in the negative regime');
  expect(screen.getByTestId('layer-health').querySelector('tr[data-layer="conv2.act"]')).toHaveTextContent('cannot die');
  expect(within(screen.getByTestId('chart-dead')).getByRole('img', { name: /conv2\.act \(cannot die: negative regime\) 50\.0/ })).toBeInTheDocument();

  // MFM: pieces 1 and 5 of 8 are dead, i.e. piece 0 of filter 1 and piece 1 of filter 1: filter 1 has every piece dead.
  await fireEvent.change(screen.getByLabelText('Layer'), { target: { value: 'conv3.act' } });
  trainer.push(frame('conv3.act', { channels: 4 }));
  const grid = screen.getByTestId('activation-grid');
  await waitFor(() => expect(within(grid).getAllByTestId('filter-map')).toHaveLength(4));
  expect(within(grid).getAllByTestId('filter-map').map((c) => c.dataset.dead)).toEqual(['false', 'true', 'false', 'false']);
  expect(screen.getByTestId('view-train')).toHaveTextContent('its dead counts are pieces');
  await fireEvent.change(screen.getByLabelText('Maps'), { target: { value: 'preactivation' } });
  trainer.push(frame('conv3.act', { channels: 8, kind: 'preactivation' }));
  await waitFor(() => expect(within(grid).getAllByTestId('filter-map')).toHaveLength(8));
  expect(within(grid).getAllByTestId('filter-map').filter((c) => c.dataset.dead === 'true').map((c) => c.dataset.filter)).toEqual(['1', '5']);
});

test('clicking a filter asks for its full-size map and shows it, its strength per face and its history', async () => {
  const { trainer } = await started();
  trainer.push(frame('conv1.act', { step: 1, channels: 8 }));
  trainer.push(frame('conv1.act', { step: 2, channels: 8 }));
  const grid = screen.getByTestId('activation-grid');
  await waitFor(() => expect(within(grid).getAllByTestId('filter-map')).toHaveLength(8));
  await fireEvent.click(within(grid).getAllByTestId('filter-map')[3]!);
  await waitFor(() => expect(lastSubscription(trainer)).toMatchObject({ layers: ['conv1.act'], fullMap: { layer: 'conv1.act', filter: 3, probe: 0, kind: 'activation' } }));
  const full = screen.getByTestId('full-map');
  expect(full).toHaveAttribute('data-full', 'false'); // the grid's map stands in
  trainer.push(frame('conv1.act', { step: 2, channels: 1, probes: 1, side: 8, full: { filter: 3, probe: 0 } }));
  await waitFor(() => expect(screen.getByTestId('full-map')).toHaveAttribute('data-full', 'true'));
  expect(screen.getByTestId('full-map')).toHaveAttribute('width', '8');
  const strength = screen.getByTestId('filter-strength');
  expect(within(strength).getByRole('button', { name: 'alice' })).toBeInTheDocument();
  expect(strength).toHaveTextContent('bob');
  expect(screen.getByTestId('chart-filter-history')).toHaveAttribute('data-points', '2');

  // Another probe face: a new full-size request.
  await fireEvent.change(screen.getByLabelText('Probe face'), { target: { value: '1' } });
  await waitFor(() => expect(lastSubscription(trainer)?.fullMap).toMatchObject({ filter: 3, probe: 1 }));
  // Escape closes the detail and drops the full-size request.
  await fireEvent.keyDown(screen.getByRole('button', { name: 'Close the filter detail' }), { key: 'Escape' });
  await waitFor(() => expect(lastSubscription(trainer)?.fullMap).toBeNull());
  expect(screen.queryByTestId('full-map')).toBeNull();
});

test("a grid map that is already full size is the full-size map: the detail does not wait for another", async () => {
  const { trainer } = await started();
  trainer.push(frame('conv1.act', { step: 4, channels: 8, averaged: false }));
  const grid = screen.getByTestId('activation-grid');
  await waitFor(() => expect(within(grid).getAllByTestId('filter-map')).toHaveLength(8));
  await fireEvent.click(within(grid).getAllByTestId('filter-map')[2]!);
  const full = await screen.findByTestId('full-map');
  expect(full).toHaveAttribute('data-full', 'true');
  expect(screen.getByTestId('filter-detail')).toHaveTextContent('full size 4×4, step 4');
  expect(screen.getByTestId('filter-detail')).not.toHaveTextContent('waiting');
});

test('issue 14, 2.1: after the run ends the trainer still makes its maps (final weights); only once the trainer is gone does the detail say the full-size map cannot come', async () => {
  const { trainer } = await started();
  trainer.push(frame('conv1.act', { step: 9, channels: 8 }));
  const grid = screen.getByTestId('activation-grid');
  await waitFor(() => expect(within(grid).getAllByTestId('filter-map')).toHaveLength(8));
  await fireEvent.click(within(grid).getAllByTestId('filter-map')[1]!);
  const detail = await screen.findByTestId('filter-detail');
  expect(detail).toHaveTextContent("waiting for the full-size map; showing the grid's 4×4"); // running: it will come
  trainer.event({ type: 'state', state: 'finished', runId: 'run-1' });
  // Ended: the trainer answers from the final weights, so the full-size map is still on its way.
  await waitFor(() => expect(screen.getByTestId('run-status')).toHaveTextContent(/finished/i));
  expect(detail).toHaveTextContent("waiting for the full-size map; showing the grid's 4×4");
  expect(detail).not.toHaveTextContent('needs');
  // Another layer chosen after the end is asked for, and the grid says its maps are being made, not to use Probe now.
  await fireEvent.change(screen.getByLabelText('Layer'), { target: { value: 'conv2.act' } });
  await waitFor(() => expect(lastSubscription(trainer)).toMatchObject({ layers: ['conv2.act'] }));
  expect(screen.getByTestId('maps-waiting')).toHaveTextContent("Making this layer's maps from the run's final weights");
  expect(screen.getByTestId('maps-waiting')).not.toHaveTextContent('Probe now');
  // Probe now stays offered on the ended run: the trainer answers it from the final weights.
  expect(screen.getByRole('button', { name: 'Probe now' })).toBeEnabled();
  await fireEvent.change(screen.getByLabelText('Layer'), { target: { value: 'conv1.act' } });
  await fireEvent.click((await screen.findAllByTestId('filter-map'))[1]!);
  trainer.close('the trainer went away');
  const gone = await screen.findByTestId('filter-detail');
  await waitFor(() => expect(gone).toHaveTextContent("the grid's 4×4 (averaged from 8×8), step 9: the full-size map needs the trainer that ran this run"));
  expect(gone).not.toHaveTextContent('waiting');
  expect(screen.getByTestId('full-map')).toHaveAttribute('data-full', 'false');
});

test('Escape closes the filter detail wherever the focus is in it, and from the tile that opened it', async () => {
  const { trainer } = await started();
  trainer.push(frame('conv1.act', { channels: 8, zero: [6] }));
  const grid = screen.getByTestId('activation-grid');
  await waitFor(() => expect(within(grid).getAllByTestId('filter-map')).toHaveLength(8));
  const open = async (filter: number) => {
    await fireEvent.click(within(grid).getAllByTestId('filter-map')[filter]!);
    return screen.findByTestId('filter-detail');
  };
  // A control inside the panel.
  let detail = await open(3);
  await fireEvent.keyDown(within(detail).getByLabelText('Measure'), { key: 'Escape' });
  await waitFor(() => expect(screen.queryByTestId('filter-detail')).toBeNull());
  // The panel itself: it takes the focus when its text is clicked (tabindex -1).
  detail = await open(3);
  expect(detail).toHaveAttribute('tabindex', '-1');
  detail.focus();
  expect(detail).toHaveFocus();
  await fireEvent.keyDown(detail, { key: 'Escape' });
  await waitFor(() => expect(screen.queryByTestId('filter-detail')).toBeNull());
  // The tile it was opened from (a click leaves the focus there).
  await open(6);
  const tile = screen.getByRole('button', { name: /^Filter 6/ });
  expect(tile).toHaveAttribute('aria-pressed', 'true');
  // A flat map is the grid's hatch in the detail too, with its value said.
  expect(screen.getByTestId('full-map')).toHaveAttribute('data-flat', 'flat');
  expect(screen.getByTestId('filter-detail')).toHaveTextContent('flat: 0 everywhere for this face');
  tile.focus();
  await fireEvent.keyDown(tile, { key: 'Escape' });
  await waitFor(() => expect(screen.queryByTestId('filter-detail')).toBeNull());
  await waitFor(() => expect(lastSubscription(trainer)?.fullMap).toBeNull());
});

test('the layer health table scrolls sideways in a region the keyboard can reach', async () => {
  await started();
  const table = screen.getByTestId('layer-health');
  const region = table.closest('[role="region"]') as HTMLElement;
  expect(region).toHaveAttribute('tabindex', '0');
  expect(region).toHaveAccessibleName('Layer health table (scrolls sideways)');
});

test('the keyboard reaches the filters: arrows move, Enter opens', async () => {
  const { trainer } = await started();
  trainer.push(frame('conv1.act', { channels: 8 }));
  const tiles = () => within(screen.getByTestId('activation-grid')).getAllByRole('button');
  await waitFor(() => expect(tiles()).toHaveLength(8));
  expect(tiles().filter((t) => t.tabIndex === 0)).toHaveLength(1); // one tab stop for the grid
  tiles()[0]!.focus();
  await fireEvent.keyDown(tiles()[0]!, { key: 'ArrowRight' });
  expect(tiles()[1]).toHaveFocus();
  await fireEvent.keyDown(tiles()[1]!, { key: 'End' });
  expect(tiles()[7]).toHaveFocus();
  await fireEvent.click(tiles()[7]!); // Enter on a button is a click
  await waitFor(() => expect(lastSubscription(trainer)?.fullMap).toMatchObject({ filter: 7 }));
});

test('Pause, Resume and Stop send their commands and follow the run state', async () => {
  const { trainer } = await started();
  const pause = screen.getByRole('button', { name: 'Pause' });
  expect(screen.getByRole('button', { name: 'Resume' })).toBeDisabled();
  await fireEvent.click(pause);
  await waitFor(() => expect(trainer.commands('pause')).toHaveLength(1));
  await waitFor(() => expect(screen.getByTestId('run-status')).toHaveTextContent('pausing after this step'));
  trainer.event({ type: 'state', state: 'paused', runId: 'run-1' });
  await waitFor(() => expect(screen.getByRole('button', { name: 'Resume' })).toBeEnabled());
  expect(screen.getByRole('button', { name: 'Pause' })).toBeDisabled();
  expect(screen.getByTestId('run-status')).not.toHaveTextContent('pausing');
  await fireEvent.click(screen.getByRole('button', { name: 'Resume' }));
  await waitFor(() => expect(trainer.commands('resume')).toHaveLength(1));
  trainer.event({ type: 'state', state: 'running', runId: 'run-1' });
  // Running again: it can be paused again, and nothing says it is pausing.
  await waitFor(() => expect(screen.getByRole('button', { name: 'Pause' })).toBeEnabled());
  expect(screen.getByTestId('run-status')).not.toHaveTextContent('pausing');
  expect(screen.getByRole('button', { name: 'Stop' })).toBeEnabled();
  await fireEvent.click(screen.getByRole('button', { name: 'Stop' }));
  // Stop asks first (run-controls.test.ts).
  await fireEvent.click(within(await screen.findByRole('alertdialog')).getByRole('button', { name: 'Stop the run' }));
  await waitFor(() => expect(trainer.commands('stop')).toHaveLength(1));
});

test('a failed command is reported, not swallowed', async () => {
  const { session } = await started({
    pause: () => {
      throw Object.assign(new Error('no run to pause'), { code: 'no-run' });
    },
  });
  await fireEvent.click(screen.getByRole('button', { name: 'Pause' }));
  await waitFor(() => expect(session.notices.at(-1)?.text).toMatch(/Pause failed: no run to pause/));
});

test('probe rate, probe now and the stats window go to the trainer', async () => {
  const { trainer } = await started();
  const rate = screen.getByLabelText('Probe rate (ms)') as HTMLInputElement;
  expect(rate.value).toBe('250');
  await fireEvent.change(rate, { target: { value: '1000' } });
  await waitFor(() => expect(trainer.commands('setProbeRate')).toEqual([{ name: 'setProbeRate', intervalMs: 1000 }]));
  await waitFor(() => expect((screen.getByLabelText('Probe rate (ms)') as HTMLInputElement).value).toBe('1000'));
  await fireEvent.change(rate, { target: { value: '10' } });
  expect(await screen.findByRole('alert')).toHaveTextContent('between 50 and 60000 ms');
  expect(trainer.commands('setProbeRate')).toHaveLength(1);
  await fireEvent.click(screen.getByRole('button', { name: 'Probe now' }));
  await waitFor(() => expect(trainer.commands('probeNow')).toHaveLength(1));
  await fireEvent.change(screen.getByLabelText('Stats window (steps)'), { target: { value: '100' } });
  await waitFor(() => expect(trainer.commands('setStatsWindow')).toEqual([{ name: 'setStatsWindow', steps: 100 }]));
});

test('colour scale and colours can be chosen; the global scale can be reset; the legend says what is drawn', async () => {
  const { trainer } = await started();
  trainer.push(frame('conv1.act', { channels: 8 }));
  await waitFor(() => expect(screen.getByTestId('frame-step')).toBeInTheDocument());
  const legend = () => screen.getByTestId('scale-legend');
  expect(legend()).toHaveTextContent('each map from its own min (left) to its own max (right)');
  const scale = screen.getByLabelText('Colour scale') as HTMLSelectElement;
  expect([...scale.options].map((o) => o.value)).toEqual(['filter', 'layer', 'global']);
  await fireEvent.change(scale, { target: { value: 'layer' } });
  expect(legend()).toHaveTextContent('0 … 9 (this layer, this frame)');
  await fireEvent.change(scale, { target: { value: 'global' } });
  expect(legend()).toHaveTextContent('all maps seen in this run');
  await fireEvent.click(screen.getByRole('button', { name: 'Reset global scale' }));
  await fireEvent.change(screen.getByLabelText('Colours'), { target: { value: 'diverging' } });
  // Diverging: centred on zero (white), ±the largest |value|, not min..max.
  await waitFor(() => expect(legend()).toHaveTextContent('-9 (left) … 0 (white) … 9 (right) (all maps seen in this run'));
  await fireEvent.change(scale, { target: { value: 'filter' } });
  expect(legend()).toHaveTextContent('each map from −max|x| (left) through 0 (white) to +max|x| (right)');
  expect(legend()).not.toHaveTextContent('its own min');
});

test('1x1 maps (a fully connected layer) are drawn on the layer range, and a unit at exactly 0 is marked', async () => {
  const { trainer } = await started();
  trainer.event({ type: 'layers', layers: [...LAYERS, { layer: 'fc1.act', unit: 'fc1', activation: 'relu', rule: 'zero', channels: 4, preActivationChannels: 4, height: 1, width: 1 }] });
  await fireEvent.change(await screen.findByLabelText('Layer'), { target: { value: 'fc1.act' } });
  trainer.push(frame('fc1.act', { channels: 4, probes: 1, side: 1, zero: [1] }));
  const grid = screen.getByTestId('activation-grid');
  await waitFor(() => expect(within(grid).getAllByTestId('filter-map').map((m) => m.dataset.flat)).toEqual(['false', 'zero', 'false', 'false']));
  expect(screen.getByTestId('scale-legend')).toHaveTextContent("1×1 maps have no range of their own: 0 … 4 (this layer, this frame)");
  expect(screen.getByRole('button', { name: 'Filter 1, exactly 0 for this face' })).toBeInTheDocument();
  expect(screen.getByTestId('view-train')).toHaveTextContent('0: this unit is exactly 0 for this face');
});

test('leaving the view drops the subscription; the numbers survive a tab switch', async () => {
  const { trainer, session } = await started();
  trainer.push(progress(1, 4));
  await waitFor(() => expect(screen.getByTestId('chart-loss')).toHaveAttribute('data-points', '4'));
  // Another TrainView on the same session stands for the tab coming back: the run's numbers are still there.
  const second = render(TrainView, { session });
  await waitFor(() => expect(within(second.container).getByTestId('chart-loss')).toHaveAttribute('data-points', '4'));
  second.unmount();
  await waitFor(() => expect(lastSubscription(trainer)).toMatchObject({ layers: [], preActivation: [], fullMap: null }));
});

const chart = (testid: string) => within(screen.getByTestId(testid)).getByRole('img');

test("chance level is drawn on the loss and accuracy charts once the run's record names its identities", async () => {
  const { trainer } = await started({ getRun: (c) => startedRunReply(c.runId, { identities: 40 }) });
  await waitFor(() => expect(trainer.commands('getRun')).toEqual([{ name: 'getRun', runId: 'run-1' }]));
  trainer.push(progress(1, 3));
  await waitFor(() => expect(chart('chart-loss')).toHaveAccessibleName(expect.stringContaining('reference: chance (ln 40 = 3.69)')));
  expect(chart('chart-accuracy')).toHaveAccessibleName(expect.stringContaining('reference: chance (1/40 = 0.025)'));
  expect(chart('chart-lr')).not.toHaveAccessibleName(expect.stringContaining('chance'));
});

test('without a record (a trainer that cannot say) the charts go without chance level', async () => {
  const { trainer } = await started();
  trainer.push(progress(1, 3));
  await waitFor(() => expect(screen.getByTestId('chart-loss')).toHaveAttribute('data-points', '3'));
  expect(chart('chart-loss')).not.toHaveAccessibleName(expect.stringContaining('chance'));
});

test('a run whose loss stays at chance past its warm-up is said not to have started learning, until the loss drops', async () => {
  const { trainer } = await started({ getRun: (c) => startedRunReply(c.runId, { identities: 40, config: { warmupSteps: 10 } }) });
  const chance = Math.log(40);
  // The trainer says it at the end of the warm-up (10 steps) and the grace after it.
  const said = 10 + LEARNING_GRACE_STEPS;
  // Flat at chance, a little noise (balanced over the window).
  trainer.push(progressWithLoss(1, said - 1, (step) => chance + (step % 2 === 0 ? 0.01 : -0.01)));
  await waitFor(() => expect(screen.getByTestId('chart-loss')).toHaveAttribute('data-points', String(said - 1)));
  expect(screen.queryByTestId('not-learning')).not.toBeInTheDocument();
  trainer.push(progressWithLoss(said, said, () => chance + (said % 2 === 0 ? 0.01 : -0.01)));
  const note = await screen.findByTestId('not-learning');
  expect(note).toHaveTextContent('This run has not started learning yet.');
  expect(note).toHaveTextContent(`${said} steps in (10 of warm-up), the mean loss of the last ${LEARNING_WINDOW} steps is 3.689: still chance level (ln 40 = 3.689)`);
  expect(note).toHaveTextContent(`Adam, as the lightcnn9 recipe does (lr ${recipeFor('lightcnn9', 64).settings.lr})`);
  expect(note).toHaveTextContent('a higher learning rate (now 0.01)');
  expect(note).toHaveTextContent('a longer warm-up (now 10 steps)');
  expect(note).toHaveTextContent('a smaller model (tiny) or input size (now 64 px)');
  // It stays while the loss does.
  trainer.push(progressWithLoss(said + 1, said + 20, () => chance));
  await waitFor(() => expect(screen.getByTestId('chart-loss')).toHaveAttribute('data-points', String(said + 20)));
  expect(screen.getByTestId('not-learning')).toBeInTheDocument();
  // The loss leaves chance: the note goes.
  trainer.push(progressWithLoss(said + 21, said + 20 + LEARNING_WINDOW, () => 0.8 * chance));
  await waitFor(() => expect(screen.queryByTestId('not-learning')).not.toBeInTheDocument());
});

test('a run whose loss falls from chance gets no such note', async () => {
  const { trainer } = await started({ getRun: (c) => startedRunReply(c.runId, { identities: 40 }) });
  const chance = Math.log(40);
  trainer.push(progressWithLoss(1, 100, (step) => chance * Math.exp(-step / 40)));
  await waitFor(() => expect(screen.getByTestId('chart-loss')).toHaveAttribute('data-points', '100'));
  await waitFor(() => expect(chart('chart-loss')).toHaveAccessibleName(expect.stringContaining('chance (ln 40')));
  expect(screen.queryByTestId('not-learning')).not.toBeInTheDocument();
});

test('the run controls name the backend that trains and, on webgpu, its GPU; the trainer\'s whole line stays one click away', async () => {
  const { trainer } = await started();
  // An older trainer names the backend only in its summary: the name is read from it.
  trainer.event({ type: 'started', runId: 'run-1', step: 0, totalSteps: 100, backend: 'training on wasm (WebAssembly): webgpu: no adapter', resumed: false });
  await waitFor(() => expect(screen.getByTestId('run-backend')).toHaveTextContent('on wasm'));
  expect(screen.queryByTestId('run-adapter')).toBeNull();
  const adapter = 'NVIDIA ampere (NVIDIA GeForce RTX 3060), in Chromium';
  const summary = 'training on webgpu (WebGPU in Chromium on NVIDIA ampere (NVIDIA GeForce RTX 3060)): tensorflow-gpu: not installed';
  trainer.event({ type: 'started', runId: 'run-2', step: 0, totalSteps: 100, backend: summary, backendName: 'webgpu', adapter, resumed: false });
  await waitFor(() => expect(screen.getByTestId('run-backend')).toHaveTextContent('on webgpu'));
  expect(screen.getByTestId('run-adapter')).toHaveTextContent(`GPU: ${adapter}`);
  const details = screen.getByTestId('run-backend-summary').closest('details') as HTMLDetailsElement;
  expect(within(details).getByText('Backend details')).toBeInTheDocument();
  expect(screen.getByTestId('run-backend-summary')).toHaveTextContent(summary);
});

test('issue 14, 2.3: dead-count points before the window has filled are left out, and said to be so; a window longer than the run is warned about', async () => {
  const { trainer, session } = await started();
  trainer.push(statsMessage(1, { 'conv1.act': [0, 1, 2] }, 5));
  await waitFor(() => expect(screen.getByTestId('chart-dead')).toHaveAttribute('data-points', '1'));
  // Step 1 of a 5-step window: "dead since step 1", not "over the last 5 steps", and no point drawn.
  expect(screen.getByTestId('dead-window')).toHaveTextContent('dead since step 1: the 5-step window has not filled yet (it does at step 5)');
  expect(within(screen.getByTestId('chart-dead')).getByRole('img', { name: /conv1\.act: no data/ })).toBeInTheDocument();
  expect(screen.getByTestId('dead-window-note')).toHaveTextContent('Points start at step 5');
  for (let step = 2; step <= 6; step++) trainer.push(statsMessage(step, { 'conv1.act': [0] }, 5));
  await waitFor(() => expect(screen.getByTestId('dead-window')).toHaveTextContent('dead over the last 5 steps'));
  // From step 5 the points are there: % of the layer, the count with it.
  await waitFor(() => expect(within(screen.getByTestId('chart-dead')).getByRole('img', { name: /conv1\.act 12\.500 \(1 of 8 filters\)/ })).toBeInTheDocument());
  expect(screen.queryByTestId('dead-window-warning')).toBeNull();
  // A run shorter than the window: warned, and its points kept (the window never fills).
  trainer.push(statsMessage(7, { 'conv1.act': [0] }, 500));
  await waitFor(() => expect(screen.getByTestId('dead-window-warning')).toHaveTextContent('The statistics window (500 steps) is longer than this run (100 steps)'));
  expect(session.run.totalSteps).toBe(100);
});

test("issue 14, 2.6: the layer-health column of negative values says it measures the pre-activation (for ReLU it equals Zero), not the outputs", async () => {
  await started();
  const header = screen.getByTestId('negative-input-header');
  expect(header).toHaveTextContent('Neg. input');
  const title = header.querySelector('abbr')!.getAttribute('title')!;
  expect(title).toMatch(/pre-activations\) at or below 0/);
  expect(title).toMatch(/for ReLU it equals Zero/);
  expect(title).not.toMatch(/^Fraction of activations below 0$/);
});

test('issue 14, 3: a filter tile has a tooltip (index, mean, dead or not); the filter history chart has a legend naming each face', async () => {
  const { trainer } = await started();
  trainer.push(statsMessage(3, { 'conv1.act': [2] }, 3));
  trainer.push(frame('conv1.act', { step: 3, channels: 8, zero: [2] }));
  const grid = screen.getByTestId('activation-grid');
  await waitFor(() => expect(within(grid).getAllByTestId('filter-map').filter((c) => c.dataset.dead === 'true')).toHaveLength(1));
  const tile = (i: number) => within(grid).getAllByTestId('filter-map')[i]!.parentElement as HTMLElement;
  expect(tile(2).title).toMatch(/^Filter 2 · mean 0, max \|x\| 0 for alice \(step 3\) · dead \(no gradient over the stats window\)/);
  expect(tile(4).title).toMatch(/^Filter 4 · mean [\d.]+, max \|x\| [\d.]+ for alice \(step 3\) · alive$/);
  await fireEvent.click(within(grid).getAllByTestId('filter-map')[4]!);
  trainer.push(frame('conv1.act', { step: 4, channels: 8 }));
  const legend = await screen.findByTestId('filter-history-legend');
  await waitFor(() => expect(within(legend).getAllByRole('listitem')).toHaveLength(2));
  expect(within(legend).getAllByRole('listitem')[0]).toHaveTextContent(/^alice \d/);
  expect(within(legend).getAllByRole('listitem')[1]).toHaveTextContent(/^bob \d/);
});

test('issue 14, 4: smoothing and a log scale for loss on the live charts; chance stays on the log scale', async () => {
  const { trainer } = await started({ getRun: (c) => startedRunReply(c.runId, { identities: 40 }) });
  trainer.push(progress(1, 3));
  await waitFor(() => expect(chart('chart-loss')).toHaveAccessibleName(expect.stringContaining('reference: chance (ln 40 = 3.69)')));
  await fireEvent.input(screen.getByRole('slider', { name: 'Smoothing' }), { target: { value: '0.6' } });
  expect(chart('chart-loss')).toHaveAccessibleName(expect.stringContaining('smoothed (weight 0.60)'));
  expect(chart('chart-accuracy')).toHaveAccessibleName(expect.stringContaining('smoothed (weight 0.60)'));
  await fireEvent.click(screen.getByRole('checkbox', { name: 'Log scale (loss)' }));
  expect(chart('chart-loss')).toHaveAccessibleName(expect.stringContaining('log scale'));
  expect(chart('chart-loss')).toHaveAccessibleName(expect.stringContaining('reference: chance (ln 40 = 3.69)'));
});

test('issue 14, 4: the training progress bar says about how long is left, only after a few updates', async () => {
  let now = 9_000_000;
  const clock = vi.spyOn(Date, 'now').mockImplementation(() => now);
  try {
    const { trainer } = await started();
    // The run started at step 0 (now); steps 1 and 2 are too few to say.
    for (const step of [1, 2]) {
      trainer.push(progress(step, step));
      await waitFor(() => expect(screen.getByTestId('chart-loss')).toHaveAttribute('data-points', String(step)));
      expect(screen.queryByTestId('run-time-left')).not.toBeInTheDocument();
      now += 6_000;
    }
    // 3 steps in 12 s: 4 s a step, 97 steps left ≈ 6 min.
    trainer.push(progress(3, 3));
    await waitFor(() => expect(screen.getByTestId('run-time-left')).toHaveTextContent('about 6 min left'));
  } finally {
    clock.mockRestore();
  }
});

test('issue 14, 4: the activation-map grid is saved as one PNG of its tiles', async () => {
  const { trainer } = await started();
  trainer.push(frame('conv1.act', { step: 3, channels: 8, zero: [2, 5] }));
  await waitFor(() => expect(screen.getByTestId('frame-step')).toHaveTextContent('step 3'));
  const save = screen.getByRole('button', { name: 'Save the conv1.act maps as PNG' });
  // jsdom has no 2D canvas: the view says it cannot, and saves nothing.
  await fireEvent.click(save);
  expect(await screen.findByRole('alert')).toHaveTextContent('cannot draw the maps');

  // With a canvas that draws: one PNG, named by layer, kind and step, with every tile drawn onto it.
  const drawn: unknown[] = [];
  const ctx = new Proxy({} as Record<string, unknown>, {
    get: (t, p) => (p === 'drawImage' ? (...a: unknown[]) => drawn.push(a[0]) : p in t ? t[p as string] : () => undefined),
    set: (t, p, v) => ((t[p as string] = v), true),
  });
  const png = new Blob(['png'], { type: 'image/png' });
  const saved: { name: string; href: string }[] = [];
  const spies = [
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(() => ctx as never),
    vi.spyOn(HTMLCanvasElement.prototype, 'toBlob').mockImplementation((cb) => cb(png)),
    vi.spyOn(URL, 'createObjectURL').mockImplementation(() => 'blob:test/grid'),
    vi.spyOn(URL, 'revokeObjectURL').mockImplementation(() => {}),
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      saved.push({ name: this.download, href: this.href });
    }),
  ];
  try {
    await fireEvent.click(save);
    await waitFor(() => expect(saved).toEqual([{ name: 'conv1.act-activation-step3.png', href: 'blob:test/grid' }]));
    expect(drawn).toHaveLength(8);
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
});

test('an inspection pass is labelled as one: dead on every image so far, batches, no stats window to fill, no update in the histograms', async () => {
  const { trainer, session } = await scriptedSession({
    subscribe: (c) => ({ layers: c.layers, preActivation: c.preActivation, fullMap: c.fullMap }) as Subscription,
    probeNow: () => null,
  });
  trainer.event({ type: 'started', runId: 'run-1', step: 0, totalSteps: 3, backend: 'cpu', resumed: false, inspection: { data: 'LFW', source: '/data/lfw', images: 48, batches: 3, checkpointStep: 0 } });
  trainer.event({ type: 'layers', layers: LAYERS });
  trainer.event({ type: 'probes', images: [100, 101], labels: ['alice', 'bob'], intervalMs: 250 });
  render(TrainView, { session });
  await screen.findByTestId('activation-grid');
  trainer.push(statsMessage(1, { 'conv1.act': [0, 2] }, 3));
  await waitFor(() => expect(screen.getByTestId('dead-window')).toHaveTextContent('dead on every image of the pass so far (x: batch)'));
  expect(screen.queryByTestId('dead-window-note')).toBeNull();
  expect(await screen.findByText('(batch 1 of the pass, over its images so far)')).toBeInTheDocument();
  expect(screen.getByTestId('histograms-note')).toHaveTextContent("a pass changes no weight");
  // The first batch is drawn at once: a pass has no window to fill.
  await waitFor(() => expect(screen.getByTestId('chart-dead')).toHaveAttribute('data-points', '1'));
});
