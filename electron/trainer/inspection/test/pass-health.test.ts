// The pass's numbers from its batches': dead counts from the last batch, health weighted by images.
import { describe, expect, test } from 'vitest';
import type { LayerStats } from '#protocol/messages';
import { passLayerStats } from '../pass-health';

function stats(overrides: Partial<LayerStats>): LayerStats {
  return {
    layer: 'conv1.act', activation: 'mfm', rule: 'pieces', filters: 4, filterSpace: 'pieces', units: 100,
    deadFilters: 1, deadUnits: 10, deadFilterIndices: [2], neverFiredFilters: 1, neverFiredUnits: 10, died: 3, revived: 1,
    mean: 0, std: 1, zeroFraction: 0, saturatedFraction: null, negativeFraction: 0.5,
    gradOutputMeanAbs: null, gradWeightMeanAbs: null, weightNorm: 2, updateRatio: null, pieceWinRates: [0.5, 0.5],
    ...overrides,
  };
}

describe('passLayerStats', () => {
  test('the samples of every batch pooled, weighted by its images; the dead counts are the last batch\'s', () => {
    // Batch 1: 3 images of values {0, 2} (mean 1, std 1); batch 2: 1 image of values {4, 4} (mean 4, std 0).
    const [layer] = passLayerStats([
      { count: 3, layers: [stats({ mean: 1, std: 1, zeroFraction: 0.5, negativeFraction: 0.25, pieceWinRates: [0.2, 0.8] })] },
      { count: 1, layers: [stats({ mean: 4, std: 0, zeroFraction: 0, negativeFraction: 0.75, pieceWinRates: [0.6, 0.4], deadFilters: 0, deadUnits: 4, deadFilterIndices: [] })] },
    ]);
    // All 8 values: 0,2 x3 and 4,4: mean 1.75, E[y^2] = (3*(0+4)/2*2 + 16*2)/8 = 5.5, var = 5.5 - 3.0625.
    expect(layer?.mean).toBe(1.75);
    expect(layer?.std).toBeCloseTo(Math.sqrt(5.5 - 1.75 ** 2), 3);
    expect(layer).toMatchObject({ zeroFraction: 0.375, negativeFraction: 0.375, pieceWinRates: [0.3, 0.7], deadFilters: 0, deadUnits: 4, deadFilterIndices: [], died: 0, revived: 0, weightNorm: 2 });
  });

  test('a number one batch lacks stays unknown, and no batch gives no layer', () => {
    const [layer] = passLayerStats([{ count: 2, layers: [stats({ saturatedFraction: 0.1 })] }, { count: 2, layers: [stats({ saturatedFraction: null })] }]);
    expect(layer?.saturatedFraction).toBeNull();
    expect(passLayerStats([])).toEqual([]);
  });
});
