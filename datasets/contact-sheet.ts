// A contact sheet: one row per identity, its first faces side by side, so a user
// can see at a glance that the import found faces and grouped them right.
import sharp from 'sharp';
import type { FaceDataset } from './face-dataset';

export interface ContactSheetOptions {
  readonly rows?: number;
  readonly columns?: number;
  /** Side of one face on the sheet. */
  readonly cell?: number;
  readonly gap?: number;
}

/** A grey PNG (one channel, not RGB). */
export async function contactSheetPng(dataset: FaceDataset, options: ContactSheetOptions = {}): Promise<Buffer> {
  const rows = Math.min(options.rows ?? 8, dataset.identities.length);
  const columns = options.columns ?? 8;
  const cell = options.cell ?? 64;
  const gap = options.gap ?? 2;
  const width = columns * cell + (columns + 1) * gap;
  const height = rows * cell + (rows + 1) * gap;
  const sheet = Buffer.alloc(width * height, 255);
  const firstOf = new Map<number, number[]>();
  dataset.images.forEach((image, i) => {
    const list = firstOf.get(image.identity) ?? [];
    if (list.length < columns) list.push(i);
    firstOf.set(image.identity, list);
  });
  for (let row = 0; row < rows; row++) {
    const indices = firstOf.get(row) ?? [];
    for (let column = 0; column < indices.length; column++) {
      const face = await dataset.face(indices[column] as number);
      const small = await sharp(face, { raw: { width: dataset.storedSize, height: dataset.storedSize, channels: 1 } })
        .resize(cell, cell)
        .toColourspace('b-w') // without it sharp writes grey input back as RGB
        .raw()
        .toBuffer();
      const x0 = gap + column * (cell + gap);
      const y0 = gap + row * (cell + gap);
      for (let y = 0; y < cell; y++) small.copy(sheet, (y0 + y) * width + x0, y * cell, (y + 1) * cell);
    }
  }
  return sharp(sheet, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}
