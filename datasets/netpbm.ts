// A reader for grey and colour Netpbm images (PGM P5/P2, PPM P6/P3). sharp does
// not read them, and ORL ships as binary PGM. Pixels come out as 8-bit samples
// that are then handed to sharp as raw input.

export interface RawImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly data: Uint8Array;
}

export class NetpbmError extends Error {
  override readonly name = 'NetpbmError';
}

/** The header is fine but the image is over the pixel limit (a decompression bomb?), not damaged. */
export class NetpbmTooLarge extends NetpbmError {
  constructor(
    readonly width: number,
    readonly height: number,
    readonly maxPixels: number,
  ) {
    super(`the image is ${width}x${height}, more than the limit of ${maxPixels} pixels`);
  }
}

/**
 * @param maxPixels refuse images larger than this before allocating anything
 *   (the same decompression-bomb guard sharp applies to other formats).
 */
export function readNetpbm(bytes: Uint8Array, maxPixels: number): RawImage {
  const magic = String.fromCharCode(bytes[0] ?? 0, bytes[1] ?? 0);
  const binary = magic === 'P5' || magic === 'P6';
  const channels = magic === 'P5' || magic === 'P2' ? 1 : magic === 'P6' || magic === 'P3' ? 3 : 0;
  if (channels === 0) throw new NetpbmError(`not a PGM/PPM file (starts with "${magic}")`);

  let pos = 2;
  const nextToken = (): string => {
    // Header tokens are separated by white space; '#' starts a comment to the end of the line.
    for (;;) {
      const byte = bytes[pos];
      if (byte === undefined) throw new NetpbmError('the header is truncated');
      if (byte === 0x23) {
        while (pos < bytes.length && bytes[pos] !== 0x0a && bytes[pos] !== 0x0d) pos++;
      } else if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) pos++;
      else break;
    }
    const start = pos;
    while (pos < bytes.length) {
      const byte = bytes[pos] as number;
      if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d || byte === 0x23) break;
      pos++;
      if (pos - start > 20) throw new NetpbmError('the header holds a token too long to be a number');
    }
    return String.fromCharCode(...bytes.subarray(start, pos));
  };
  const nextInt = (what: string, max: number): number => {
    const token = nextToken();
    if (!/^\d+$/.test(token)) throw new NetpbmError(`the ${what} "${token}" is not a number`);
    const value = Number(token);
    if (value < 1 || value > max) throw new NetpbmError(`the ${what} ${value} is out of range 1..${max}`);
    return value;
  };

  const width = nextInt('width', 1 << 20);
  const height = nextInt('height', 1 << 20);
  const maxval = nextInt('maximum value', 65535);
  if (width * height > maxPixels) throw new NetpbmTooLarge(width, height, maxPixels);
  const samples = width * height * channels;
  const data = new Uint8Array(samples);
  const scale = 255 / maxval;

  if (binary) {
    // A comment may follow maxval (`255# made by hand\n`): it runs to the end of
    // its line, and that line end is the single white-space byte before the raster.
    while (bytes[pos] === 0x23) {
      while (pos < bytes.length && bytes[pos] !== 0x0a && bytes[pos] !== 0x0d) pos++;
    }
    pos++; // exactly one white-space byte separates the header from the raster
    const bytesPerSample = maxval < 256 ? 1 : 2;
    const needed = samples * bytesPerSample;
    if (bytes.length - pos < needed) {
      throw new NetpbmError(`the pixel data is truncated (${bytes.length - pos} of ${needed} bytes)`);
    }
    if (bytesPerSample === 1 && maxval === 255) data.set(bytes.subarray(pos, pos + samples));
    else if (bytesPerSample === 1) for (let i = 0; i < samples; i++) data[i] = Math.round((bytes[pos + i] as number) * scale);
    else {
      for (let i = 0; i < samples; i++) {
        const value = ((bytes[pos + 2 * i] as number) << 8) | (bytes[pos + 2 * i + 1] as number); // big-endian
        data[i] = Math.round(value * scale);
      }
    }
  } else {
    for (let i = 0; i < samples; i++) {
      const token = nextToken();
      if (!/^\d+$/.test(token)) throw new NetpbmError(`pixel ${i} is "${token}", not a number (the data may be truncated)`);
      data[i] = Math.round(Math.min(Number(token), maxval) * scale);
    }
  }
  return { width, height, channels, data };
}
