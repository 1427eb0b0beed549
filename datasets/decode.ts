// One image file's bytes -> one preprocessed face: grey, resized so it fills a
// square of `storedSize` (the Light CNN reference stores 144 px and crops 128).
import { imageSize } from 'image-size';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { NetpbmError, NetpbmTooLarge, readNetpbm } from './netpbm';
import { isSupported, sniffFormat, type ImageFormat } from './sniff';

export type FitMode = 'cover' | 'contain' | 'fill';

// libvips caches operations for re-use; every face is decoded once, so the cache
// only costs time and memory (about a fifth of the import's speed).
sharp.cache(false);

export interface DecodeOptions {
  /** Side of the stored square, in pixels. */
  readonly storedSize: number;
  /** cover: scale to fill the square and crop the overflow, centred (default); contain: letterbox; fill: stretch. */
  readonly fit: FitMode;
  /** Decompression-bomb guard: larger images are refused before decoding. */
  readonly maxInputPixels: number;
  /** Images with a side shorter than this are refused as not a usable face. */
  readonly minSide: number;
}

export const DEFAULT_DECODE: Omit<DecodeOptions, 'storedSize'> = {
  fit: 'cover',
  maxInputPixels: 40_000_000,
  minSide: 16,
};

export interface DecodedFace {
  readonly format: ImageFormat;
  /** Size of the original image. */
  readonly width: number;
  readonly height: number;
  /** storedSize x storedSize grey pixels, row-major. */
  readonly pixels: Uint8Array;
}

/** A file that cannot be used; the reason is written for the user. The import goes on. */
export class UnusableImage extends Error {
  override readonly name = 'UnusableImage';
}

const SUPPORTED = 'JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF or PGM/PPM';

export function describeUnsupported(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'empty file (0 bytes)';
  const format = sniffFormat(bytes);
  if (format === 'bmp') return 'BMP images are not supported: convert it to PNG';
  if (format === 'pbm') return 'black-and-white PBM images are not supported: convert it to PGM or PNG';
  if (format === 'heic') return 'HEIC (HEVC) images are not supported by this build: convert them to JPEG';
  return `not an image the lab can read (its content is not ${SUPPORTED}, whatever its name says)`;
}

// sharp's messages are libvips', written for programmers; say what they mean. A
// file whose first bytes say it is this format but that will not decode is
// damaged or cut short. (Under concurrent decodes libvips sometimes loses its
// message and sharp says only "Unknown error": then there is no detail to add.)
function explainSharpError(error: unknown, format: ImageFormat): string {
  const message = (error instanceof Error ? error.message : String(error)).trim();
  if (/pixel limit/i.test(message)) return 'image too large (over the pixel limit; a decompression bomb?)';
  const detail = message === '' || /^unknown error$/i.test(message) ? '' : ` (${message})`;
  return `the ${format.toUpperCase()} data is truncated or damaged${detail}`;
}

export async function decodeFace(bytes: Uint8Array, options: DecodeOptions): Promise<DecodedFace> {
  const format = sniffFormat(bytes);
  if (!isSupported(format)) throw new UnusableImage(describeUnsupported(bytes));

  let input: Sharp;
  let width: number;
  let height: number;
  if (format === 'pgm' || format === 'ppm') {
    let raw;
    try {
      raw = readNetpbm(bytes, options.maxInputPixels);
    } catch (error) {
      if (error instanceof NetpbmTooLarge) throw new UnusableImage(tooLarge(error.width, error.height, error.maxPixels));
      if (error instanceof NetpbmError) throw new UnusableImage(`the ${format.toUpperCase()} file is damaged: ${error.message}`);
      throw error;
    }
    ({ width, height } = raw);
    const problem = sizeProblem(width, height, options);
    if (problem !== null) throw new UnusableImage(problem);
    input = sharp(raw.data, { raw: { width, height, channels: raw.channels } });
  } else {
    const sharpOptions = { limitInputPixels: options.maxInputPixels, failOn: 'truncated', pages: 1 } as const;
    // Size, alpha and orientation from the header, before any decoding: the
    // pixel-limit and minimum-size checks must not cost a decode.
    let orientation = 1;
    try {
      const header = imageSize(bytes);
      width = header.width;
      height = header.height;
      orientation = header.orientation ?? 1;
    } catch {
      // An unusual but valid header image-size does not know: ask libvips.
      try {
        const meta = await sharp(bytes, sharpOptions).metadata();
        width = meta.width ?? 0;
        height = meta.height ?? 0;
        orientation = meta.orientation ?? 1;
      } catch (error) {
        throw new UnusableImage(explainSharpError(error, format));
      }
    }
    const problem = sizeProblem(width, height, options);
    if (problem !== null) throw new UnusableImage(problem);
    input = sharp(bytes, sharpOptions);
    if (orientation > 1) input = input.rotate(); // honour EXIF orientation
  }

  try {
    const { data, info } = await input
      .flatten({ background: '#ffffff' }) // transparent pixels become white; a no-op without alpha
      .toColourspace('b-w')
      .resize(options.storedSize, options.storedSize, { fit: options.fit, position: 'centre', background: '#000000' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 || data.length !== options.storedSize * options.storedSize) {
      throw new Error(`expected ${options.storedSize}x${options.storedSize}x1, got ${info.width}x${info.height}x${info.channels}`);
    }
    return { format, width, height, pixels: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (error) {
    throw new UnusableImage(explainSharpError(error, format));
  }
}

/**
 * Why an image of this size is refused under these limits, or null when it is
 * accepted. Decided from the header alone, so it also re-judges a face decoded
 * earlier under other limits without decoding it again.
 */
export function sizeProblem(width: number, height: number, limits: Pick<DecodeOptions, 'maxInputPixels' | 'minSide'>): string | null {
  if (width * height > limits.maxInputPixels) return tooLarge(width, height, limits.maxInputPixels);
  if (Math.min(width, height) < limits.minSide) {
    return `image too small to be a face (${width}x${height} px; at least ${limits.minSide}x${limits.minSide} needed)`;
  }
  return null;
}

function tooLarge(width: number, height: number, maxPixels: number): string {
  return `image too large (${width}x${height}, over the ${maxPixels}-pixel limit; a decompression bomb?)`;
}
