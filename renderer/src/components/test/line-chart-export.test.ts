import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, expect, test, vi } from 'vitest';
import LineChart from '../LineChart.svelte';

// issue 14, 4: charts saved as PNG (the drawn canvas) and SVG (a vector drawing of the data).
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

const props = { title: 'Loss', x: [1, 2, 3], series: [{ label: 'train loss', values: [3, 2, 1] }], references: [{ label: 'chance (ln 40 = 3.69)', value: Math.log(40) }], yLabel: 'loss' };

test('SVG: a vector drawing of the series and the chance line', async () => {
  captureDownloads();
  render(LineChart, { ...props, smoothing: 0.5 });
  await fireEvent.click(screen.getByRole('button', { name: 'Save Loss as SVG' }));
  expect(saved).toHaveLength(1);
  expect(saved[0]?.name).toBe('Loss.svg');
  expect(saved[0]?.blob.type).toBe('image/svg+xml');
  const text = await saved[0]!.blob.text();
  expect(text).toMatch(/^<svg /);
  expect(text).toContain('data-series="train loss"');
  expect(text).toContain('data-series="train loss (raw)"');
  expect(text).toContain('data-series="chance (ln 40 = 3.69)"');
  expect(text).not.toContain('data:image');
});

test('PNG: the canvas uPlot drew, encoded', async () => {
  captureDownloads();
  const png = new Blob(['png'], { type: 'image/png' });
  vi.spyOn(HTMLCanvasElement.prototype, 'toBlob').mockImplementation((cb) => cb(png));
  render(LineChart, props);
  // jsdom draws nothing: put the canvas uPlot would have drawn into the plot.
  screen.getByRole('img').append(document.createElement('canvas'));
  await fireEvent.click(screen.getByRole('button', { name: 'Save Loss as PNG' }));
  await vi.waitFor(() => expect(saved).toHaveLength(1));
  expect(saved[0]).toEqual({ name: 'Loss.png', blob: png });
});

test('PNG where nothing was drawn says so, and no empty chart offers a save', async () => {
  render(LineChart, props);
  await fireEvent.click(screen.getByRole('button', { name: 'Save Loss as PNG' }));
  expect(await screen.findByRole('alert')).toHaveTextContent('save it as SVG');
  render(LineChart, { ...props, title: 'Empty', x: [], series: [{ label: 'a', values: [] }] });
  expect(screen.queryByRole('button', { name: 'Save Empty as SVG' })).not.toBeInTheDocument();
});
