// Test fixtures made on the fly: small real images in every format, and the
// real face databases in ../shared when this machine has them.
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import sharp from 'sharp';

const sharedRoot = process.env['FACE_CNN_LAB_SHARED'] ?? resolve(import.meta.dirname, '../../../shared/datasets');
export const ORL = join(sharedRoot, 'orl_faces');
export const YALE = join(sharedRoot, 'yalefaces');

/** Real-data tests run where ../shared/datasets exists (developers' machines, CI) and say why they skip elsewhere. */
export function sharedDataset(path: string): boolean {
  const present = existsSync(path);
  if (!present) console.warn(`skipping tests on ${path}: the shared face databases are not on this machine (they live beside the repository on developers' machines and CI)`);
  return present;
}

export async function tempDir(prefix = 'fcl-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export type FixtureFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'pgm';

/** A face-sized grey test pattern whose content depends on `seed`, so files differ. */
export async function makeImage(format: FixtureFormat, seed: number, width = 48, height = 56): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels[y * width + x] = (x * 5 + y * 3 + seed * 37 + ((x * y * (seed + 1)) % 23)) & 255;
  }
  if (format === 'pgm') return Buffer.concat([Buffer.from(`P5\n# test\n${width} ${height}\n255\n`, 'latin1'), pixels]);
  const image = sharp(pixels, { raw: { width, height, channels: 1 } });
  switch (format) {
    case 'jpeg':
      return image.jpeg({ quality: 90 }).toBuffer();
    case 'png':
      return image.toColourspace('b-w').png().toBuffer();
    case 'gif':
      return image.gif().toBuffer();
    case 'webp':
      return image.webp({ lossless: true }).toBuffer();
    case 'tiff':
      return image.tiff().toBuffer();
  }
}

export async function writeFiles(root: string, files: Record<string, Buffer | string>): Promise<void> {
  for (const [relPath, content] of Object.entries(files)) {
    const path = join(root, relPath);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
}

/** `identities` folders of `perIdentity` images each, cycling through the formats. */
export async function makeIdentityFolders(root: string, identities: number, perIdentity: number, formats: FixtureFormat[] = ['jpeg', 'png', 'pgm']): Promise<void> {
  const files: Record<string, Buffer> = {};
  let n = 0;
  for (let id = 1; id <= identities; id++) {
    for (let k = 1; k <= perIdentity; k++) {
      const format = formats[n % formats.length] as FixtureFormat;
      files[`person${id}/${k}.${format === 'jpeg' ? 'jpg' : format}`] = await makeImage(format, n++);
    }
  }
  await writeFiles(root, files);
}
