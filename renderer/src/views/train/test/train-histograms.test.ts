// issue 14, 4: the Train view's histograms of the chosen layer over the steps, and the first
// layer's filters, live from the trainer's 'histograms' stream.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, expect, test, vi } from 'vitest';
import TrainView from '../TrainView.svelte';
import { scriptedSession } from '../../../test-support/scripted-trainer';
import { firstFilters, histogram, histogramsMessage } from '../../../test-support/histograms';
import type { ServerMessage, Subscription } from '#protocol/messages';
import { LAYERS, startedRunReply } from './fixtures';

const NAMES = LAYERS.map((l) => l.layer);

async function started() {
  const { trainer, session } = await scriptedSession({
    subscribe: (c) => ({ layers: c.layers, preActivation: c.preActivation, fullMap: c.fullMap }) as Subscription,
    getRun: ({ runId }) => startedRunReply(runId),
  });
  trainer.event({ type: 'started', runId: 'run-1', step: 0, totalSteps: 100, backend: 'cpu', resumed: false });
  trainer.event({ type: 'layers', layers: LAYERS });
  render(TrainView, { session });
  const panel = await screen.findByTestId('histograms-panel');
  return { trainer, panel };
}

const saved: { name: string; blob: Blob }[] = [];
function captureDownloads() {
  saved.length = 0;
  const blobs = new Map<string, Blob>();
  vi.spyOn(URL, 'createObjectURL').mockImplementation((b) => {
    const url = `blob:test/${blobs.size}`;
    blobs.set(url, b as Blob);
    return url;
  });
  vi.spyOn(URL, 'revokeObjectURL').mockImplementation(() => {});
  vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
    saved.push({ name: this.download, blob: blobs.get(this.href) as Blob });
  });
}

afterEach(() => vi.restoreAllMocks());

test('before any histograms: empty charts and a word on the filters', async () => {
  const { panel } = await started();
  expect(within(panel).getByTestId('chart-hist-weights')).toHaveAttribute('data-points', '0');
  expect(within(panel).getByTestId('histograms-step')).toHaveTextContent('conv1.act · none yet');
  expect(within(panel).getAllByText('No histograms recorded yet.')).toHaveLength(2);
  expect(within(panel).getByTestId('no-filters')).toBeInTheDocument();
});

test("the chosen layer's histograms grow a ridge per streamed step, and the filters follow the newest", async () => {
  const { trainer, panel } = await started();
  trainer.push(histogramsMessage(10, NAMES, firstFilters({ count: 4 })));
  trainer.push(histogramsMessage(20, NAMES));
  await waitFor(() => expect(within(panel).getByTestId('chart-hist-weights')).toHaveAttribute('data-points', '2'));
  expect(within(panel).getByTestId('histograms-step')).toHaveTextContent('conv1.act · newest step 20');
  const weights = within(panel).getByTestId('chart-hist-weights');
  const ridges = [...weights.querySelectorAll('g[data-step]')];
  expect(ridges.map((g) => g.getAttribute('data-step'))).toEqual(['10', '20']);
  // The newest ridge at the front: its baseline is the axis, below the older one.
  const start = (g: Element) => Number(g.querySelector('path')!.getAttribute('d')!.match(/^M[-\d.]+,([-\d.]+)/)![1]);
  expect(start(ridges[1]!)).toBeGreaterThan(start(ridges[0]!));
  expect(within(panel).getByTestId('chart-hist-weights-newest')).toHaveTextContent('Newest: step 20: -0.12 to 0.12');
  // Filters of step 10, 4 of them, on one scale (largest |weight| 0.08).
  const grid = within(panel).getByTestId('first-filters');
  expect(grid).toHaveAttribute('data-step', '10');
  expect(grid).toHaveAttribute('data-count', '4');
  expect(within(panel).getByTestId('filters-legend')).toHaveTextContent('Mid-grey = 0, black −0.08, white +0.08');
  trainer.push(histogramsMessage(30, NAMES, firstFilters({ count: 6 })));
  await waitFor(() => expect(within(panel).getByTestId('first-filters')).toHaveAttribute('data-step', '30'));
  expect(within(panel).getByTestId('first-filters')).toHaveAttribute('data-count', '6');
});

test('the histograms follow the layer picked for the maps; a switch shows weights or activations alone', async () => {
  const { trainer, panel } = await started();
  trainer.push(histogramsMessage(10, NAMES));
  await waitFor(() => expect(within(panel).getByTestId('chart-hist-weights')).toHaveAttribute('data-points', '1'));
  await fireEvent.change(screen.getByLabelText('Layer'), { target: { value: 'conv3.act' } });
  expect(within(panel).getByRole('img', { name: /^conv3\.act weights: 1 step \(10\), values -0\.11 to 0\.11/ })).toBeInTheDocument();
  await fireEvent.change(within(panel).getByLabelText('Show'), { target: { value: 'activations' } });
  expect(within(panel).queryByTestId('chart-hist-weights')).not.toBeInTheDocument();
  expect(within(panel).getByTestId('chart-hist-activations')).toHaveAttribute('data-points', '1');
});

test('NaN or infinity and sampled counts are said under the chart', async () => {
  const { trainer, panel } = await started();
  const message = histogramsMessage(10, NAMES) as Extract<ServerMessage, { type: 'histograms' }>;
  const item = message.items[0]!;
  trainer.push({ ...message, items: [{ ...item, layers: [{ layer: 'conv1.act', weights: histogram([3, 1], -1, 1, { stride: 8 }), activations: null }] }] });
  trainer.push({ ...message, items: [{ ...item, step: 20, layers: [{ layer: 'conv1.act', weights: null, activations: null }] }] });
  await waitFor(() => expect(within(panel).getByTestId('chart-hist-weights')).toHaveAttribute('data-points', '2'));
  const frame = within(panel).getByTestId('chart-hist-weights-frame');
  expect(frame).toHaveTextContent('1 step held NaN or infinity, so no histogram (dashed; step 20).');
  expect(frame).toHaveTextContent('Counts from a sample: every 8th of 32 values');
  expect(within(panel).getByTestId('chart-hist-weights').querySelector('g[data-step="20"]')).toHaveAttribute('data-kind', 'null');
});

test('saves the histograms as SVG with their title and notes; the filters PNG says when the page cannot draw', async () => {
  captureDownloads();
  const { trainer, panel } = await started();
  trainer.push(histogramsMessage(10, NAMES, firstFilters()));
  await waitFor(() => expect(within(panel).getByTestId('chart-hist-weights')).toHaveAttribute('data-points', '1'));
  await fireEvent.click(within(panel).getByRole('button', { name: 'Save conv1.act weights as SVG' }));
  expect(saved[0]?.name).toBe('conv1.act-weights.svg');
  const text = await saved[0]!.blob.text();
  expect(text).toMatch(/^<svg /);
  expect(text).toContain('<title>conv1.act weights</title>');
  expect(text).toContain('data-step="10"');
  expect(text).toContain('Each ridge is scaled to its own tallest bin.');
  // jsdom has no 2D canvas: neither PNG can be drawn, and each says so.
  await fireEvent.click(within(panel).getByRole('button', { name: 'Save conv1.act weights as PNG' }));
  expect(await within(within(panel).getByTestId('chart-hist-weights-frame')).findByRole('alert')).toHaveTextContent('save it as SVG');
  await fireEvent.click(within(panel).getByRole('button', { name: 'Save First-layer filters as PNG' }));
  expect(await within(within(panel).getByTestId('first-filters')).findByRole('alert')).toHaveTextContent('cannot draw the filters');
});
