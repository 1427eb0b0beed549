// A stored face as a small grey PNG data: URL, for the UI (the Data view's face grid, an
// evaluation's hardest pairs): the centre crop the network sees at evaluation (the stored
// face's margin is only there for training's random crops), scaled to `size`.
import sharp from 'sharp';
import type { FaceDataset } from './face-dataset';
import { centreOffset } from './preprocess';

/** Image `index` of `dataset`, its centre `crop` x `crop` (the model's input size), as a `size` x `size` grey PNG data: URL. */
export async function facePng(dataset: FaceDataset, index: number, crop: number, size: number): Promise<string> {
  const stored = dataset.storedSize;
  const side = Math.min(stored, Math.max(1, Math.round(crop)));
  const offset = centreOffset(stored, side);
  const png = await sharp(await dataset.face(index), { raw: { width: stored, height: stored, channels: 1 } })
    .extract({ left: offset, top: offset, width: side, height: side })
    .resize(size, size)
    .toColourspace('b-w') // without it sharp writes a resized grey face as RGB
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}
