import { describe, expect, test } from 'vitest';
import sharp from 'sharp';
import { decodeFace, DEFAULT_DECODE, UnusableImage, type DecodeOptions } from '../decode';
import { readNetpbm, NetpbmError } from '../netpbm';
import { sniffFormat } from '../sniff';
import { makeImage, type FixtureFormat } from './fixtures';

const options: DecodeOptions = { ...DEFAULT_DECODE, storedSize: 36 };

async function reason(bytes: Uint8Array, opts: DecodeOptions = options): Promise<string> {
  try {
    await decodeFace(bytes, opts);
  } catch (error) {
    expect(error).toBeInstanceOf(UnusableImage);
    return (error as Error).message;
  }
  throw new Error('expected the image to be refused');
}

describe('format sniffing (by content, not by name)', () => {
  test.each<FixtureFormat>(['jpeg', 'png', 'gif', 'webp', 'tiff', 'pgm'])('%s', async (format) => {
    expect(sniffFormat(await makeImage(format, 1))).toBe(format);
  });
  test('HEIC (HEVC) is recognised as unsupported; AVIF and the generic HEIF brands go to sharp', () => {
    const ftyp = (brand: string) => Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from(`ftyp${brand}\0\0\0\0mif1${brand}`, 'latin1')]);
    for (const brand of ['heic', 'heix', 'heim', 'heis']) expect(sniffFormat(ftyp(brand))).toBe('heic');
    expect(sniffFormat(ftyp('avif'))).toBe('avif');
    expect(sniffFormat(ftyp('mif1'))).toBe('heif');
    expect(sniffFormat(ftyp('msf1'))).toBe('heif');
  });
  test('text, empty and BMP are not supported images', () => {
    expect(sniffFormat(Buffer.from('hello, I am a text file named face.jpg'))).toBeNull();
    expect(sniffFormat(Buffer.alloc(0))).toBeNull();
    expect(sniffFormat(Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]))).toBe('bmp');
  });
});

describe('Netpbm reader', () => {
  test('binary P5 with a comment, exact pixels', () => {
    const pixels = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
    const file = Buffer.concat([Buffer.from('P5\n# made by hand\n4 3\n255\n'), pixels]);
    const image = readNetpbm(file, 1e6);
    expect([image.width, image.height, image.channels]).toEqual([4, 3, 1]);
    expect([...image.data]).toEqual([...pixels]);
  });
  test('a comment right after maxval ends at its line end, the one byte before the raster', () => {
    const pixels = Uint8Array.from({ length: 4 }, (_, i) => 60 + i);
    const image = readNetpbm(Buffer.concat([Buffer.from('P5 2 2 255# GIMP\n'), pixels]), 1e6);
    expect([...image.data]).toEqual([...pixels]);
  });
  test('ASCII P2 with maxval 15 scales to 8 bits', () => {
    const image = readNetpbm(Buffer.from('P2 2 2 15\n0 15\n5 10\n'), 1e6);
    expect([...image.data]).toEqual([0, 255, 85, 170]);
  });
  test('16-bit P5 is big-endian', () => {
    const file = Buffer.concat([Buffer.from('P5 2 1 65535\n'), Buffer.from([0xff, 0xff, 0x80, 0x00])]);
    expect([...readNetpbm(file, 1e6).data]).toEqual([255, 128]);
  });
  test('P6 colour has three channels', () => {
    const file = Buffer.concat([Buffer.from('P6 1 1 255\n'), Buffer.from([10, 20, 30])]);
    expect(readNetpbm(file, 1e6).channels).toBe(3);
  });
  test('truncated data and a header bomb are refused before allocating', () => {
    expect(() => readNetpbm(Buffer.from('P5 10 10 255\nabc'), 1e6)).toThrow(/truncated \(3 of 100 bytes\)/);
    expect(() => readNetpbm(Buffer.from('P5 100000 100000 255\n'), 1e6)).toThrow(/100000x100000, more than the limit/);
    expect(() => readNetpbm(Buffer.from('P5 4'), 1e6)).toThrow(NetpbmError);
    expect(() => readNetpbm(Buffer.from(`P5 ${'9'.repeat(5000)}`), 1e6)).toThrow(/too long/);
  });
});

describe('decodeFace', () => {
  test.each<FixtureFormat>(['jpeg', 'png', 'gif', 'webp', 'tiff', 'pgm'])('%s becomes a 36x36 grey face', async (format) => {
    const face = await decodeFace(await makeImage(format, 3, 48, 56), options);
    expect(face.format).toBe(format);
    expect([face.width, face.height]).toEqual([48, 56]);
    expect(face.pixels.length).toBe(36 * 36);
  });

  test('PGM pixels equal what sharp makes of the same raw pixels (independent path)', async () => {
    const file = await makeImage('pgm', 5, 48, 56);
    const raw = file.subarray(file.length - 48 * 56);
    // sharp writes grey raw input back as RGB unless told otherwise: take one channel.
    const rgb = await sharp(raw, { raw: { width: 48, height: 56, channels: 1 } }).resize(36, 36, { fit: 'cover' }).raw().toBuffer();
    const expected = rgb.filter((_, i) => i % 3 === 0);
    const face = await decodeFace(file, options);
    expect(Buffer.from(face.pixels).equals(expected)).toBe(true);
  });

  test('a palette colour GIF comes out single-channel grey', async () => {
    const colour = await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 255, g: 0, b: 0 } } }).gif().toBuffer();
    const face = await decodeFace(colour, options);
    expect(face.pixels.length).toBe(36 * 36);
    const value = face.pixels[0] as number;
    expect(value).toBeGreaterThan(40); // red's luminance, not the red channel's 255 nor the others' 0
    expect(value).toBeLessThan(160);
  });

  test('transparent pixels become white, not black', async () => {
    const clear = await sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const face = await decodeFace(clear, options);
    expect(Math.min(...face.pixels)).toBe(255);
  });

  test('EXIF orientation is honoured', async () => {
    // A 40x20 image, top half black and bottom half white, stored with "rotate 90 clockwise".
    const raw = Buffer.alloc(40 * 20 * 3, 0);
    raw.fill(255, 40 * 10 * 3);
    const jpeg = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const face = await decodeFace(jpeg, { ...options, fit: 'fill' });
    // Upright, the black half is on the right.
    expect(face.pixels[18 * 36 + 2]).toBeGreaterThan(200);
    expect(face.pixels[18 * 36 + 33]).toBeLessThan(50);
  });

  test('cover fit crops the long side; contain letterboxes', async () => {
    const wide = await sharp({ create: { width: 80, height: 40, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const cover = await decodeFace(wide, { ...options, fit: 'cover' });
    expect(Math.min(...cover.pixels)).toBeGreaterThan(250);
    const contain = await decodeFace(wide, { ...options, fit: 'contain' });
    expect(contain.pixels[0]).toBe(0); // black bar
  });

  describe('bad files are refused with a reason', () => {
    test('zero-byte file', async () => expect(await reason(Buffer.alloc(0))).toMatch(/empty file/));
    test('text file named .jpg', async () => expect(await reason(Buffer.from('not really a jpeg'))).toMatch(/not an image the lab can read/));
    test('truncated JPEG', async () => {
      const jpeg = await makeImage('jpeg', 1, 200, 200);
      expect(await reason(jpeg.subarray(0, jpeg.length >> 1))).toMatch(/JPEG data is truncated or damaged/);
    });
    test('1x1 pixel image', async () => {
      const dot = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toBuffer();
      expect(await reason(dot)).toMatch(/too small to be a face \(1x1 px/);
    });
    test('decompression bomb: more pixels than the limit', async () => {
      const big = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#000' } }).png().toBuffer();
      expect(big.length).toBeLessThan(100_000); // tiny file, huge image
      expect(await reason(big, { ...options, maxInputPixels: 1_000_000 })).toMatch(/image too large/);
    });
    test('a PGM over the pixel limit is a decompression bomb, not a damaged file', async () => {
      expect(await reason(Buffer.from('P5 3000 3000 255\n'), { ...options, maxInputPixels: 1_000_000 })).toBe(
        'image too large (3000x3000, over the 1000000-pixel limit; a decompression bomb?)',
      );
    });
    test('HEIC says this build cannot read it and what to do', async () => {
      const heic = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'), Buffer.alloc(64)]);
      expect(await reason(heic)).toBe('HEIC (HEVC) images are not supported by this build: convert them to JPEG');
    });
    test('BMP says how to convert it', async () => expect(await reason(Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]))).toMatch(/convert it to PNG/));
    test('damaged PGM', async () => expect(await reason(Buffer.from('P5 40 40 255\n12'))).toMatch(/PGM file is damaged: the pixel data is truncated/));
  });
});
