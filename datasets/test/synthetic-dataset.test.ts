// The synthetic set as a dataset: how it is named on the command line, and how
// its report labels it.
import { describe, expect, test } from 'vitest';
import { DatasetError, openDataset, parseSyntheticSpec } from '../index';
import { tempDir } from './fixtures';

describe('synthetic[:IDxIMAGES]', () => {
  test('the accepted forms', () => {
    expect(parseSyntheticSpec('synthetic')).toEqual({});
    expect(parseSyntheticSpec('synthetic:')).toEqual({});
    expect(parseSyntheticSpec('synthetic:20x12')).toEqual({ identities: 20, imagesPerIdentity: 12 });
  });

  test.each([
    ['synthetic:1x5', /asks for 1 identity; it can have 2 to 100,000 \(telling faces apart needs at least 2 people\)/],
    ['synthetic:2x0', /asks for 0 images per identity; it can have 1 to 10,000/],
    ['synthetic:foo', /"synthetic:foo" does not name a synthetic set\. Write "synthetic" or "synthetic:IDxIMAGES"/],
    ['synthetic:20', /does not name a synthetic set/],
    ['synthetic:20x12x3', /does not name a synthetic set/],
    ['synthetic:999999999x5', /asks for 999999999 identities/],
    ['synthetic:20x99999999', /asks for 99999999 images per identity/],
    ['synthetic:99999999999999999999x5', /asks for 99999999999999999999 identities; it can have 2 to 100,000/],
  ])('%s is refused with a DatasetError', async (spec, message) => {
    const opening = openDataset(spec, { dataDir: await tempDir(), inputSize: 32 });
    await expect(opening).rejects.toBeInstanceOf(DatasetError);
    await expect(opening).rejects.toThrow(message);
  });
});

test('the report calls the faces generated, by a generated person, not by a folder rule', async () => {
  const dataset = await openDataset('synthetic:3x2', { dataDir: await tempDir(), inputSize: 32 });
  expect(dataset.report.identityRule).toBe('identity = a generated person (synthetic)');
  expect(dataset.report.synthetic).toBe(true);
});
