// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { canvasPng, chartSvg, fileName, metricsCsv, svgPng, svgSize } from '../export-files';

describe('exports (issue 14, 4)', () => {
  it("writes a run's metrics rows as CSV, steps and epoch ends in step order", () => {
    const csv = metricsCsv({
      steps: [
        { step: 2, epoch: 0, loss: 1.5, accuracy: 0.25, lr: 0.1 },
        { step: 1, epoch: 0, loss: 2, accuracy: null, lr: 0.1 },
      ],
      epochs: [{ step: 2, epoch: 0, trainLoss: 1.75, trainAccuracy: 0.2, valLoss: 1.9, valAccuracy: Number.NaN }],
    });
    expect(csv.split('\n')).toEqual([
      'kind,step,epoch,loss,accuracy,lr,train_loss,train_accuracy,val_loss,val_accuracy',
      'step,1,0,2,,0.1,,,,',
      'step,2,0,1.5,0.25,0.1,,,,',
      'epoch,2,0,,,,1.75,0.2,1.9,',
      '',
    ]);
  });

  it('makes safe file names', () => {
    expect(fileName('Loss / run:1', 'png')).toBe('Loss-run-1.png');
    expect(fileName('***', 'svg')).toBe('export.svg');
  });

  it('draws a chart as real SVG: a polyline per series, broken at gaps, with the labels escaped', () => {
    const svg = chartSvg({
      title: 'Loss <train>',
      x: [1, 2, 3, 4],
      series: [
        { label: 'train loss', values: [4, 3, null, 1], colour: '#0072B2' },
        { label: 'chance', values: [2, 2, 2, 2], colour: '#888', dash: [3, 5], faint: true },
      ],
      xLabel: 'step',
      yLabel: 'loss',
    });
    const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
    expect(doc.querySelector('parsererror')).toBeNull();
    expect(doc.documentElement.tagName).toBe('svg');
    expect(doc.querySelector('title')?.textContent).toBe('Loss <train>');
    // [4, 3] is a line, [1] after the gap a point.
    expect(doc.querySelectorAll('g[data-series="train loss"] polyline')).toHaveLength(1);
    expect(doc.querySelectorAll('g[data-series="train loss"] circle')).toHaveLength(1);
    expect(doc.querySelector('g[data-series="chance"] polyline')?.getAttribute('stroke-dasharray')).toBe('3 5');
    expect(svg).not.toContain('data:image');
  });

  it('leaves non-positive values out on a log axis', () => {
    const svg = chartSvg({ title: 'Loss', x: [1, 2, 3], series: [{ label: 'l', values: [1, 0, 0.1], colour: '#000' }], xLabel: 'step', yLabel: 'loss', logY: true });
    expect(svg).toContain('loss (log)');
    expect(svg.match(/<circle/g)).toHaveLength(2);
  });

  it('encodes a canvas as PNG, and says null where it cannot', async () => {
    const png = new Blob(['x'], { type: 'image/png' });
    const good = { toBlob: (cb: (b: Blob | null) => void, type: string) => cb(type === 'image/png' ? png : null) } as unknown as HTMLCanvasElement;
    expect(await canvasPng(good)).toBe(png);
    const bad = { toBlob: () => { throw new Error('not implemented'); } } as unknown as HTMLCanvasElement;
    expect(await canvasPng(bad)).toBeNull();
  });
});

describe('activation grid as one image (issue 14, 4)', () => {
  it('lays the tiles out in rows, scaled up without smoothing', async () => {
    const { composeGrid } = await import('../export-files');
    const calls: number[][] = [];
    const ctx = { imageSmoothingEnabled: true, fillStyle: '', fillRect: () => {}, drawImage: (_t: unknown, ...r: number[]) => calls.push(r) };
    const out = { width: 0, height: 0, getContext: () => ctx } as unknown as HTMLCanvasElement;
    const tile = () => ({ width: 8, height: 8 }) as HTMLCanvasElement;
    const grid = composeGrid([tile(), tile(), tile()], 2, 32, () => out);
    expect(grid).toBe(out);
    expect(ctx.imageSmoothingEnabled).toBe(false);
    // 8 px tiles ×4 = 32 px, 2 px apart: 2 columns, 2 rows.
    expect([out.width, out.height]).toEqual([2 + 2 * 34, 2 + 2 * 34]);
    expect(calls).toEqual([
      [2, 2, 32, 32],
      [36, 2, 32, 32],
      [2, 36, 32, 32],
    ]);
  });

  it('is null with no 2D canvas or no tiles', async () => {
    const { composeGrid } = await import('../export-files');
    const out = { width: 0, height: 0, getContext: () => null } as unknown as HTMLCanvasElement;
    expect(composeGrid([{ width: 4, height: 4 } as HTMLCanvasElement], 1, 8, () => out)).toBeNull();
    expect(composeGrid([], 4)).toBeNull();
  });
});

describe('SVG size for its PNG', () => {
  it("reads the root element's width and height, not a child's", () => {
    expect(svgSize('<svg xmlns="http://www.w3.org/2000/svg" width="440" height="302.5" viewBox="0 0 440 302.5"><rect width="9" height="9"/></svg>')).toEqual({ width: 440, height: 302.5 });
    expect(svgSize('<svg><rect width="9" height="9"/></svg>')).toBeNull();
    expect(svgSize('not svg')).toBeNull();
  });

  it('gives no PNG where the page has no 2D canvas (jsdom), instead of hanging', async () => {
    expect(await svgPng('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>')).toBeNull();
  });
});
