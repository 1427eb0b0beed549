import sharp from 'sharp';
import { expect, test } from 'vitest';
import { contactSheetPng } from '../contact-sheet';
import { importDataset } from '../import';
import { makeIdentityFolders, tempDir } from './fixtures';

test('a grey one-channel PNG, one row per identity, cells equal the resized faces', async () => {
  const root = await tempDir();
  await makeIdentityFolders(root, 3, 2);
  const dataset = await importDataset(root, { dataDir: await tempDir(), inputSize: 32 });
  const png = await contactSheetPng(dataset, { columns: 4, cell: 24, gap: 2 });
  expect((await sharp(png).metadata()).channels).toBe(1); // grey in the file, not RGB
  const { data, info } = await sharp(png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height]).toEqual([4 * 24 + 5 * 2, 3 * 24 + 4 * 2]);
  // Row 2, column 1 holds identity 2's second face.
  const face = await dataset.face(5);
  const expected = await sharp(face, { raw: { width: 36, height: 36, channels: 1 } }).resize(24, 24).toColourspace('b-w').raw().toBuffer();
  const x0 = 2 + 1 * 26;
  const y0 = 2 + 2 * 26;
  for (let y = 0; y < 24; y++) {
    expect(data.subarray((y0 + y) * info.width + x0, (y0 + y) * info.width + x0 + 24).equals(expected.subarray(y * 24, (y + 1) * 24))).toBe(true);
  }
  // Columns without a face (only 2 per identity) stay white.
  expect(data[(y0 + 10) * info.width + 2 + 3 * 26 + 10]).toBe(255);
});
