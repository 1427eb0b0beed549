// Follow-up of issue 14, 5.8: the Data view's import reply passes on the images worth a look
// (misnamed files, images of another size than usual) by name, capped like the skipped files,
// and the usual size.
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { makeImage, tempDir, writeFiles } from '../../../../../datasets/test/fixtures';
import { parseClientMessage } from '#protocol/messages';
import { Grants } from '../../grants';
import type { WorkbenchContext } from '../context';
import { importDatasetCommand, MAX_NOTICES_LISTED } from '../data';
import type { WorkbenchCommand } from '../types';

function context(dataDir: string): WorkbenchContext {
  const grants = new Grants();
  return {
    dataDir,
    backend: 'cpu',
    pathInput: 'typed',
    requestId: 1,
    training: false,
    emit: () => {},
    resolvePath: (ref, purpose) => grants.resolve(ref, purpose, 'typed'),
    rememberDataset: () => {},
    mayUseDataset: () => true,
  };
}

function importCommand(path: string): Extract<WorkbenchCommand, { name: 'importDataset' }> {
  const parsed = parseClientMessage({ type: 'command', id: 1, command: { name: 'importDataset', source: { kind: 'path', path: { kind: 'typed', path } }, inputSize: 16 } });
  if (!parsed.ok || parsed.message.type !== 'command') throw new Error('not a command');
  return parsed.message.command as Extract<WorkbenchCommand, { name: 'importDataset' }>;
}

test('importDataset passes on the notices by name and the usual size', async () => {
  const dataDir = await tempDir();
  const root = join(dataDir, 'people');
  await writeFiles(root, {
    'ann/1.pgm': await makeImage('pgm', 1),
    'ann/2.pgm': await makeImage('pgm', 2),
    'bob/1.pgm': await makeImage('pgm', 3),
    'bob/face.png': await makeImage('jpeg', 4),
    'bob/big.pgm': await makeImage('pgm', 5, 96, 96),
  });
  const summary = await importDatasetCommand(importCommand(root), context(dataDir));
  expect(summary.usualSize).toEqual({ width: 48, height: 56, images: 4 });
  expect(summary.notices).toEqual([
    { path: 'bob/face.png', kind: 'name', note: 'named .png but holds a JPEG image' },
    { path: 'bob/big.pgm', kind: 'size', note: '96x96, not the usual 48x56' },
  ]);
  expect(summary.noticesLeftOut).toBe(0);
});

test('a folder of thousands of odd-sized images: the first notices are listed and the rest counted', async () => {
  const dataDir = await tempDir();
  const root = join(dataDir, 'people');
  const files: Record<string, Buffer> = {};
  const usual = MAX_NOTICES_LISTED + 10;
  const odd = MAX_NOTICES_LISTED + 3;
  const small = await makeImage('pgm', 1, 20, 20);
  const big = await makeImage('pgm', 2, 24, 20);
  for (let k = 0; k < usual; k++) files[`${k % 2 === 0 ? 'ann' : 'bob'}/u${k}.pgm`] = small;
  for (let k = 0; k < odd; k++) files[`${k % 2 === 0 ? 'ann' : 'bob'}/o${k}.pgm`] = big;
  await writeFiles(root, files);
  const summary = await importDatasetCommand(importCommand(root), context(dataDir));
  expect(summary.usualSize).toMatchObject({ width: 20, height: 20, images: usual });
  expect(summary.notices).toHaveLength(MAX_NOTICES_LISTED);
  expect(summary.noticesLeftOut).toBe(3);
}, 120_000);
