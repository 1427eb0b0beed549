// Grants for dialog answers (grants.ts) and the dialogs' options and answers (dialogs.ts).
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { grantMessageSchema, isGrantId } from '#protocol/grants';
import { checkpointDialogOptions, datasetDialogOptions, exportDialogOptions, exportFileName, exportFolderDialogOptions, openedPath, pairsDialogOptions, savedPath } from '../dialogs';
import { grantFor, newGrantId } from '../grants';

describe('grants', () => {
  test('a grant id is 32 hex digits from 16 random bytes, never the same twice', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newGrantId()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[a-f0-9]{32}$/);
    expect(newGrantId((n) => Buffer.alloc(n, 0xab))).toBe('ab'.repeat(16));
    expect(() => newGrantId(() => Buffer.alloc(8))).toThrow();
  });

  test('the trainer gets the path; the page gets the id and the base name', () => {
    const path = resolve('/data/faces/casia-webface');
    const { message, choice } = grantFor(path, 'read', (n) => Buffer.alloc(n, 1));
    expect(message).toEqual({ type: 'grant', grant: '01'.repeat(16), path, purpose: 'read' });
    expect(choice).toEqual({ grant: '01'.repeat(16), label: 'casia-webface' });
    expect(JSON.stringify(choice)).not.toContain(resolve('/data'));
    expect(grantFor(resolve('/'), 'read').choice.label).toBe(resolve('/'));
    expect(() => grantFor('relative/path', 'write')).toThrow(/relative/);
  });

  test("main's ids and messages are the protocol's (protocol/grants.ts); a source of the wrong size is refused", () => {
    for (const purpose of ['read', 'write'] as const) {
      const { message } = grantFor(resolve('/data/faces'), purpose);
      expect(isGrantId(message.grant)).toBe(true);
      expect(grantMessageSchema.parse(message)).toEqual(message);
    }
    // 17 bytes would make 34 digits: not an id, whatever the random source says.
    expect(() => newGrantId((n) => Buffer.alloc(n + 1, 1))).toThrow(/16 bytes/);
  });
});

describe('dialogs', () => {
  test('a folder dataset opens a directory; an archive a file among the archive types', () => {
    expect(datasetDialogOptions('folder').properties).toContain('openDirectory');
    expect(datasetDialogOptions('folder').properties).not.toContain('openFile');
    const archive = datasetDialogOptions('archive');
    expect(archive.properties).toContain('openFile');
    expect(archive.filters?.[0]?.extensions).toEqual(['zip', 'tar', 'gz', 'tgz']);
    expect(pairsDialogOptions().filters?.[0]?.extensions).toEqual(['txt']);
  });

  test('a checkpoint opens one file among the PyTorch checkpoint types, or any file', () => {
    const options = checkpointDialogOptions();
    expect(options.properties).toContain('openFile');
    expect(options.properties).not.toContain('openDirectory');
    expect(options.properties).not.toContain('multiSelections');
    // .pth.tar is offered by its last extension, as the dialogs match it.
    expect(options.filters).toEqual([
      { name: expect.stringMatching(/PyTorch checkpoints .*\.pth\.tar/), extensions: ['pth', 'pt', 'tar', 'bin', 'ckpt'] },
      { name: 'All files', extensions: ['*'] },
    ]);
  });

  test('an export folder is a directory, which the dialog may create, starting in the given folder; its title names the format', () => {
    const documents = resolve('/home/me/Documents');
    for (const format of ['pytorch', 'onnx', 'torchrun'] as const) {
      const options = exportFolderDialogOptions(format, documents);
      expect(options.defaultPath).toBe(documents);
      expect(options.properties).toEqual(expect.arrayContaining(['openDirectory', 'createDirectory']));
      expect(options.properties).not.toContain('openFile');
      expect(options.filters).toBeUndefined();
    }
    expect(exportFolderDialogOptions('pytorch', documents).title).toMatch(/PyTorch/);
    expect(exportFolderDialogOptions('onnx', documents).title).toMatch(/ONNX/);
    expect(exportFolderDialogOptions('torchrun', documents).title).toMatch(/torchrun/);
  });

  test('the export dialog starts in the given folder with a .tar.gz name', () => {
    expect(exportFileName('run-1')).toBe('run-1.tar.gz');
    expect(exportFileName('run-1.tar.gz')).toBe('run-1.tar.gz');
    expect(exportFileName('run-1.TGZ')).toBe('run-1.TGZ');
    const options = exportDialogOptions('run-1', resolve('/home/me/Documents'));
    expect(options.defaultPath).toBe(resolve('/home/me/Documents/run-1.tar.gz'));
    expect(options.properties).toContain('showOverwriteConfirmation');
  });

  test('a cancelled or empty answer is null; a path is taken as the user chose it', () => {
    const file = resolve('/data/pairs.txt');
    expect(openedPath({ canceled: false, filePaths: [file] })).toBe(file);
    expect(openedPath({ canceled: true, filePaths: [file] })).toBeNull();
    expect(openedPath({ canceled: false, filePaths: [] })).toBeNull();
    expect(openedPath({ canceled: false, filePaths: ['relative.txt'] })).toBeNull();
    const out = resolve('/home/me/run-1');
    expect(savedPath({ canceled: false, filePath: out })).toBe(out);
    expect(savedPath({ canceled: true, filePath: out })).toBeNull();
    expect(savedPath({ canceled: false, filePath: '' })).toBeNull();
  });
});
