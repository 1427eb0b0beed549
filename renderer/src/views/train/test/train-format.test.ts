import { describe, expect, it, test } from 'vitest';
import { deadMarks, effectiveScale, fmt, pct, resolveColours, scaleLegend, summary, windowText } from '../train-format';
import { LAYERS, layerStats } from './fixtures';

const [relu, leaky, mfm] = LAYERS as [(typeof LAYERS)[0], (typeof LAYERS)[0], (typeof LAYERS)[0]];

test('dead indices of an ordinary layer mark its filters, and the same pre-activation channels', () => {
  const s = layerStats(relu, [1, 4]);
  expect([...deadMarks(s, relu, 'activation').dead]).toEqual([1, 4]);
  expect([...deadMarks(s, relu, 'preactivation').dead]).toEqual([1, 4]);
  expect(deadMarks(null, relu, 'activation').dead.size).toBe(0);
});

test('maxout/MFM: piece i of filter c is channel i*C + c; a filter is dead only with every piece dead', () => {
  // C = 4 outputs, 2 pieces: channels 0..7. Dead: 1 and 5 (both pieces of filter 1), and 2 (one piece of filter 2).
  const s = layerStats(mfm, [1, 2, 5]);
  const outputs = deadMarks(s, mfm, 'activation');
  expect([...outputs.dead]).toEqual([1]);
  expect([...outputs.partial]).toEqual([[2, 1]]);
  expect([...deadMarks(s, mfm, 'preactivation').dead]).toEqual([1, 2, 5]);
});

test('cannot-die layers mark nothing dead, but negative-regime filters when the trainer lists them', () => {
  expect(deadMarks(layerStats(leaky, [0, 1]), leaky, 'activation').dead.size).toBe(0);
  const listed = { ...layerStats(leaky, [0, 1]), negativeRegimeFilterIndices: [0, 1] };
  expect([...deadMarks(listed, leaky, 'activation').negative]).toEqual([0, 1]);
});

test('numbers for the table', () => {
  expect(fmt(null)).toBe('—');
  expect(fmt(0)).toBe('0');
  expect(fmt(0.012345)).toBe('0.0123');
  expect(fmt(0.0001234)).toBe('1.23e-4');
  expect(fmt(123456)).toBe('1.23e+5');
  expect(pct(0.256)).toBe('25.6%');
  expect(summary([1, 2, 6])).toEqual({ min: 1, mean: 3, max: 6 });
  expect(summary([])).toBeNull();
  expect(windowText(1)).toBe('dead over the last 1 step');
  expect(windowText(null)).toMatch(/waiting/);
});

test("'auto' colours: diverging for pre-activations and signed maps, viridis otherwise", () => {
  expect(resolveColours('auto', 'preactivation', 0)).toBe('diverging');
  expect(resolveColours('auto', 'activation', -0.1)).toBe('diverging');
  expect(resolveColours('auto', 'activation', 0)).toBe('viridis');
  expect(resolveColours('inferno', 'preactivation', -1)).toBe('inferno');
});

describe('the colour legend says what the grid draws', () => {
  const range = { min: -2, max: 6 };
  it('per filter: min to max for a sequential map, ±max|x| around a white zero for the diverging one', () => {
    expect(scaleLegend('filter', 'viridis', range, 16)).toBe('each map from its own min (left) to its own max (right)');
    expect(scaleLegend('filter', 'diverging', range, 16)).toMatch(/^each map from −max\|x\| \(left\) through 0 \(white\) to \+max\|x\| \(right\)/);
  });

  it('per layer or global: the numbers at the ends, symmetric about 0 for the diverging map', () => {
    expect(scaleLegend('layer', 'inferno', range, 16)).toBe('-2 … 6 (this layer, this frame)');
    expect(scaleLegend('global', 'viridis', range, 16)).toBe('-2 … 6 (all maps seen in this run)');
    expect(scaleLegend('layer', 'diverging', range, 16)).toBe('-6 (left) … 0 (white) … 6 (right) (this layer, this frame; ±its largest |value|)');
  });

  it("1x1 maps have no range of their own: 'per filter' draws them on the layer's", () => {
    expect(effectiveScale('filter', 1)).toBe('layer');
    expect(effectiveScale('filter', 4)).toBe('filter');
    expect(effectiveScale('global', 1)).toBe('global');
    expect(scaleLegend('filter', 'viridis', range, 1)).toBe('1×1 maps have no range of their own: -2 … 6 (this layer, this frame)');
    expect(scaleLegend('filter', 'viridis', null, 16)).toBe('waiting for maps');
  });
});
