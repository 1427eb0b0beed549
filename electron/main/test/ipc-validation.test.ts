// Who may call main, and what a call may carry (ipc-validation.ts).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { datasetKindSchema, MAX_SUGGESTED_NAME, parseArgs, senderAllowed, suggestedNameSchema } from '../ipc-validation';

const rendererDir = resolve('/app/out/renderer');
const location = { rendererDir, devServerUrl: null };
const page = pathToFileURL(resolve(rendererDir, 'index.html')).href;

describe('senderAllowed', () => {
  test("our window's main frame showing our page may call", () => {
    expect(senderAllowed({ isOurWindow: true, frameUrl: page, isMainFrame: true }, location)).toBe(true);
  });

  test('another web contents, a subframe, a foreign page or a vanished frame may not', () => {
    expect(senderAllowed({ isOurWindow: false, frameUrl: page, isMainFrame: true }, location)).toBe(false);
    expect(senderAllowed({ isOurWindow: true, frameUrl: page, isMainFrame: false }, location)).toBe(false);
    expect(senderAllowed({ isOurWindow: true, frameUrl: 'https://evil.example/', isMainFrame: true }, location)).toBe(false);
    expect(senderAllowed({ isOurWindow: true, frameUrl: null, isMainFrame: true }, location)).toBe(false);
  });
});

describe('arguments', () => {
  test('a dataset is a folder or an archive, nothing else', () => {
    expect(datasetKindSchema.parse('folder')).toBe('folder');
    expect(datasetKindSchema.parse('archive')).toBe('archive');
    for (const bad of ['file', 'FOLDER', '', null, undefined, 1, { kind: 'folder' }]) expect(datasetKindSchema.safeParse(bad).success, String(bad)).toBe(false);
  });

  test('a suggested export name is a short plain file name', () => {
    // Every run id (protocol/messages.ts runIdSchema) with .tar.gz is a good one.
    for (const good of ['run-2025-01-02_lightcnn9.tar.gz', 'lightcnn29 (mfm)', 'a', 'run+prelu.tgz', '.x.tar.gz', 'a..b.tar.gz', `${'r'.repeat(200)}.tar.gz`]) expect(suggestedNameSchema.safeParse(good).success, good).toBe(true);
    const bad = ['', '.', '..', '../etc/passwd', 'a/b', 'a\\b', ' lead', 'trail ', 'dots.', 'C:evil', 'a\0b', 'new\nline', '~/x', '$(rm -rf)', 'é', 'x'.repeat(MAX_SUGGESTED_NAME + 1), 42, null];
    for (const name of bad) expect(suggestedNameSchema.safeParse(name).success, JSON.stringify(name)).toBe(false);
  });

  test('parseArgs checks the count and each argument, with a message the page can show', () => {
    expect(parseArgs('lab:choose-dataset', ['folder'], [datasetKindSchema])).toEqual(['folder']);
    expect(parseArgs('lab:restart-trainer', [], [])).toEqual([]);
    expect(() => parseArgs('lab:restart-trainer', [1], [])).toThrow('lab:restart-trainer takes 0 arguments, got 1');
    expect(() => parseArgs('lab:choose-dataset', [], [datasetKindSchema])).toThrow('takes 1 argument, got 0');
    expect(() => parseArgs('lab:choose-dataset', ['folder', 'extra'], [datasetKindSchema])).toThrow('got 2');
    expect(() => parseArgs('lab:choose-dataset', ['disk'], [datasetKindSchema])).toThrow(/^lab:choose-dataset: /);
  });
});
