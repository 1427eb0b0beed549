// Small helpers shared across the datasets module: one place each for writing
// files safely, naming write errors, sizes and system error codes, shuffling.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { writeError, writeFileAtomic } from '../../files/atomic-file';
import { epochOrder } from '../batches';
import { DatasetError } from '../errors';
import { errorCode, FileError, formatBytes } from '../../files/file-error';
import { Rng } from '../random';
import { tempDir } from './fixtures';

describe('writeFileAtomic: ordinary mistakes get a FileError naming the path and the way out', () => {
  async function failure(path: string): Promise<FileError> {
    try {
      await writeFileAtomic(path, [Buffer.from('x')]);
    } catch (error) {
      expect(error).toBeInstanceOf(FileError);
      return error as FileError;
    }
    throw new Error('expected the write to fail');
  }

  test('into a folder that does not exist', async () => {
    const path = join(await tempDir(), 'no-such-folder', 'pairs.txt');
    const error = await failure(path);
    expect(error.path).toBe(path);
    expect(error.message).toMatch(/The folder to write this file into does not exist: .*no-such-folder\/pairs\.txt\. Create the folder .*no-such-folder first/);
  });

  test('onto a folder', async () => {
    const folder = await tempDir();
    await mkdir(join(folder, 'sheet.png'));
    const error = await failure(join(folder, 'sheet.png'));
    expect(error.message).toMatch(/This path is a folder, not a file: .*sheet\.png\. Give the name of a file/);
    expect(await readdir(folder)).toEqual(['sheet.png']); // no temp file left behind
  });

  test('below a file', async () => {
    const folder = await tempDir();
    await writeFile(join(folder, 'file'), 'x');
    expect((await failure(join(folder, 'file', 'out.txt'))).message).toMatch(/Part of this path is a file, not a folder/);
  });

  test('a full disk and a read-only place are named the same way for every writer, with the context it gives', () => {
    const full = writeError(Object.assign(new Error('no space'), { code: 'ENOSPC' }), '/d/x.part', { kept: 'the partial download is kept', again: 'download again to resume' });
    expect(full?.message).toBe('The disk is full; the partial download is kept: /d/x.part. Free some space (or choose another data folder with FACE_CNN_LAB_DATA) and download again to resume');
    expect(writeError(Object.assign(new Error('no'), { code: 'EROFS' }), '/d/x')?.reason).toMatch(/cannot write here/);
    expect(writeError(new Error('something else'), '/d/x')).toBeNull();
  });
});

test('formatBytes: one style, decimal units, small counts exact', () => {
  expect(formatBytes(1000)).toBe('1000 bytes');
  expect(formatBytes(15_552)).toBe('16 kB');
  expect(formatBytes(4_500_000)).toBe('4.5 MB');
  expect(formatBytes(2 ** 32)).toBe('4.3 GB');
});

test('errorCode reads a system error code and nothing else', () => {
  expect(errorCode(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe('ENOENT');
  expect(errorCode(new Error('x'))).toBeUndefined();
  expect(errorCode(null)).toBeUndefined();
  expect(errorCode({ code: 42 })).toBeUndefined();
});

test('Rng.shuffle shuffles typed arrays as it does arrays, and the epoch order is such a shuffle', () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const typed = new Rng(7).shuffle(Int32Array.from(items));
  expect([...typed]).toEqual(new Rng(7).shuffle([...items]));
  expect([...typed].sort((a, b) => a - b)).toEqual(items);
  const order = epochOrder(Int32Array.from(items), true, 3, 1);
  expect([...order].sort((a, b) => a - b)).toEqual(items);
  expect([...order]).not.toEqual(items);
  // Every position equally likely: over many seeds, item 0 lands in each half about as often.
  let firstHalf = 0;
  for (let seed = 0; seed < 2000; seed++) if (new Rng(seed).shuffle([0, 1, 2, 3]).indexOf(0) < 2) firstHalf++;
  expect(firstHalf).toBeGreaterThan(900);
  expect(firstHalf).toBeLessThan(1100);
});
