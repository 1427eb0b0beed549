import { describe, expect, test } from 'vitest';
import { evenIndices, niceIncrement, ridgeline, ridgelineDescription, ridgelineSvg, wrap, type HistogramEntry } from '../ridgeline';
import { histogram } from '../../test-support/histograms';

/** The y of each bin top in a drawn ridge's path (the points between its two baseline ends). */
function tops(path: string): { x: number; y: number }[] {
  const points = [...path.matchAll(/[ML]([-\d.]+),([-\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
  return points.slice(1, -1);
}

describe('ridgeline histograms', () => {
  test('a ridge rises from its baseline in proportion to the counts, the tallest bin ridgeHeight high', () => {
    const chart = ridgeline([{ step: 10, histogram: histogram([1, 4, 2, 0], -1, 1) }]);
    const ridge = chart.ridges[0]!;
    expect(ridge.kind).toBe('drawn');
    expect(ridge.heights).toEqual([chart.ridgeHeight / 4, chart.ridgeHeight, chart.ridgeHeight / 2, 0]);
    const points = tops(ridge.path);
    expect(points.map((p) => Math.round((ridge.baseline - p.y) * 100) / 100)).toEqual(ridge.heights.map((h) => Math.round(h * 100) / 100));
    // Bin centres on the value axis: [-1, 1] over the plot's width, bins 0.5 wide.
    const xOf = (v: number) => chart.left + ((v + 1) / 2) * (chart.right - chart.left);
    expect(points.map((p) => p.x)).toEqual([-0.75, -0.25, 0.25, 0.75].map((v) => Math.round(xOf(v) * 100) / 100));
    // Starts at the min and ends at the max, on the baseline.
    expect(ridge.path.startsWith(`M${chart.left},${ridge.baseline}`)).toBe(true);
    expect(ridge.path.endsWith(`L${chart.right},${ridge.baseline}Z`)).toBe(true);
  });

  test('older steps further back (higher), the newest at the front on the axis; one shared value range', () => {
    const entries: HistogramEntry[] = [
      { step: 1, histogram: histogram([1, 1], -0.1, 0.1) },
      { step: 2, histogram: histogram([1, 1], -0.5, 0.2) },
      { step: 3, histogram: histogram([1, 1], -0.2, 0.8) },
    ];
    const chart = ridgeline(entries);
    expect(chart.ridges.map((r) => r.step)).toEqual([1, 2, 3]);
    expect(chart.ridges[0]!.baseline).toBeLessThan(chart.ridges[1]!.baseline);
    expect(chart.ridges[2]!.baseline).toBe(chart.bottom);
    expect(chart.range).toEqual({ min: -0.5, max: 0.8 });
    // Step 1's ridge spans only its own [-0.1, 0.1] of the shared axis.
    const xOf = (v: number) => chart.left + ((v + 0.5) / 1.3) * (chart.right - chart.left);
    expect(Number(chart.ridges[0]!.path.match(/^M([-\d.]+),/)![1])).toBeCloseTo(xOf(-0.1), 1);
    // Ticks on the 1-2-5 ladder inside the range, placed on the same axis.
    expect(chart.ticks.map((t) => t.label)).toEqual(['-0.4', '-0.2', '0.0', '0.2', '0.4', '0.6', '0.8']);
    expect(chart.ticks[2]!.x).toBeCloseTo(xOf(0), 6);
    expect(chart.notes).toEqual(['Each ridge is scaled to its own tallest bin.']);
  });

  test('NaN or infinity: no outline, a dashed line, and a note saying so', () => {
    const chart = ridgeline([
      { step: 5, histogram: histogram([2, 2], 0, 1) },
      { step: 6, histogram: null },
    ]);
    expect(chart.ridges[1]).toMatchObject({ kind: 'null', path: '' });
    expect(chart.ridges[1]!.title).toMatch(/NaN or infinity/);
    expect(chart.notes).toContain('1 step held NaN or infinity, so no histogram (dashed; step 6).');
    const svg = ridgelineSvg(chart);
    expect(svg).toContain('data-step="6" data-kind="null"');
    expect(svg).toContain('NaN/inf');
    expect(chart.range).toEqual({ min: 0, max: 1 });
  });

  test('every value equal: a spike at the value in a range around it, and the note names the value', () => {
    const chart = ridgeline([{ step: 3, histogram: histogram([0, 0, 9], 0.25, 0.25) }]);
    expect(chart.range).toEqual({ min: 0.225, max: 0.275 });
    const ridge = chart.ridges[0]!;
    expect(ridge.kind).toBe('constant');
    const middle = (chart.left + chart.right) / 2;
    expect(ridge.path).toBe(`M${middle - 2},${chart.bottom}L${middle},${chart.bottom - chart.ridgeHeight}L${middle + 2},${chart.bottom}Z`);
    expect(ridge.title).toBe('step 3: all 9 values 0.25');
    expect(chart.notes).toContain('1 step with every value equal, drawn as a spike (newest: all 0.25).');
    // All zeros: a range of ±0.5.
    expect(ridgeline([{ step: 1, histogram: histogram([4], 0, 0) }]).range).toEqual({ min: -0.5, max: 0.5 });
  });

  test('counts from a strided sample say "every Nth of M values"', () => {
    const chart = ridgeline([{ step: 9, histogram: histogram([1, 3], -1, 1, { stride: 4 }) }]);
    expect(chart.ridges[0]!.title).toBe('step 9: -1 to 1, counted every 4th of 16 values');
    expect(chart.notes).toContain('Counts from a sample: every 4th of 16 values (min and max are over all of them).');
  });

  test('no history: no ridges, no ticks, and the description says so', () => {
    const chart = ridgeline([]);
    expect(chart).toMatchObject({ ridges: [], ticks: [], range: null, notes: [], shown: 0 });
    expect(ridgelineDescription(chart, 'conv1.act weights')).toBe('conv1.act weights: no histograms recorded yet');
    const one = ridgeline([{ step: 4, histogram: histogram([1, 1], -2, 2) }]);
    expect(ridgelineDescription(one, 'w')).toBe('w: 1 step (4), values -2 to 2; newest, step 4: -2 to 2, 2 values');
  });

  test('a long history is thinned evenly to maxRidges, first and newest kept, and step labels keep apart', () => {
    const entries = Array.from({ length: 100 }, (_, i) => ({ step: (i + 1) * 10, histogram: histogram([1, 2, 1], -1, 1) }));
    const chart = ridgeline(entries, { maxRidges: 25 });
    expect(chart.shown).toBe(25);
    expect(chart.ridges[0]!.step).toBe(10);
    expect(chart.ridges.at(-1)!.step).toBe(1000);
    expect(chart.notes).toContain('25 of 100 recorded steps shown, evenly spaced (the newest always).');
    const labelled = chart.ridges.filter((r) => r.labelled);
    expect(labelled[0]!.step).toBe(10);
    expect(labelled.at(-1)!.step).toBe(1000);
    for (let i = 1; i < labelled.length; i++) expect(labelled[i]!.baseline - labelled[i - 1]!.baseline).toBeGreaterThanOrEqual(11);
    expect(labelled.length).toBeLessThan(25);
  });

  test('the SVG file: the title and notes in it, each ridge with its tooltip, labels escaped', () => {
    const chart = ridgeline([{ step: 2, histogram: histogram([1, 2], -1, 1, { stride: 2 }) }]);
    const svg = ridgelineSvg(chart, { title: 'a<b> weights' });
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('<title>a&lt;b&gt; weights</title>');
    expect(svg).toContain('<title>step 2: -1 to 1, counted every 2nd of 6 values</title>');
    expect(svg).toContain(`<path d="${chart.ridges[0]!.path}"`);
    expect(svg).toContain('Counts from a sample: every 2nd of 6 values');
    expect(svg).toContain('Newest: step 2: -1 to 1, counted every 2nd of 6 values.');
    // A long note wraps to the drawing's width: no line of text longer than about 75 characters at 440 px.
    const wide = ridgelineSvg(ridgeline([{ step: 1, histogram: histogram([1, 2], -1, 1, { stride: 4 }) }, { step: 2, histogram: null }]), { title: 't' });
    const lines = [...wide.matchAll(/<text x="14"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
    expect(lines.length).toBeGreaterThan(4);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(75);
    expect(wrap('aa bb cc', 5)).toEqual(['aa bb', 'cc']);
    // In the app (no title) the page gives the title and notes.
    expect(ridgelineSvg(chart)).not.toContain('Counts from a sample');
  });

  test('helpers: 1-2-5 increments, even indices', () => {
    expect([1.3, 0.7, 10, 0.011].map((span) => niceIncrement(span))).toEqual([0.2, 0.2, 2, 0.002]);
    expect(evenIndices(10, 4)).toEqual([0, 3, 6, 9]);
    expect(evenIndices(3, 5)).toEqual([0, 1, 2]);
  });
});
