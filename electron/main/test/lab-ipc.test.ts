// What main does for each window.lab call (lab-ipc.ts), with fake windows, dialogs and trainer:
// only our page may call, arguments are checked, and a choice becomes a grant sent to the
// trainer that is running, never to a later one.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { OpenDialogOptions, SaveDialogOptions } from 'electron';
import { beforeEach, describe, expect, test } from 'vitest';
import type { GrantMessage } from '../grants';
import { createLabIpc, type IpcEventLike } from '../lab-ipc';

interface FakeContents {
  readonly id: number;
}
interface FakeWindow {
  readonly contents: FakeContents;
}

const rendererDir = resolve('/app/out/renderer');
const page = pathToFileURL(resolve(rendererDir, 'index.html')).href;
const dataset = resolve('/data/lfw');

function setup() {
  const ours: FakeWindow = { contents: { id: 1 } };
  const stranger: FakeContents = { id: 2 };
  const trainer = {
    running: true,
    grants: [] as GrantMessage[],
    connected: [] as FakeContents[],
    restarts: 0,
    connect(sender: FakeContents) {
      this.connected.push(sender);
    },
    grant(message: GrantMessage) {
      if (!this.running) return false;
      this.grants.push(message);
      return true;
    },
    restart() {
      this.restarts++;
      this.running = true;
    },
  };
  const dialogs: Array<OpenDialogOptions | SaveDialogOptions> = [];
  let answer: string | null = dataset;
  const refused: string[] = [];
  const handlers = createLabIpc<FakeContents, FakeWindow>({
    location: { rendererDir, devServerUrl: null },
    windowOf: (sender) => (sender === ours.contents ? ours : null),
    showOpenDialog: async (_win, options) => {
      dialogs.push(options);
      // A dialog takes a while: the page could call again meanwhile.
      await new Promise<void>((done) => setTimeout(done, 0));
      return answer === null ? { canceled: true, filePaths: [] } : { canceled: false, filePaths: [answer] };
    },
    showSaveDialog: async (_win, options) => {
      dialogs.push(options);
      return answer === null ? { canceled: true, filePath: '' } : { canceled: false, filePath: answer };
    },
    exportFolder: () => resolve('/home/me/Documents'),
    trainer,
    refused: (channel, reason) => refused.push(`${channel}: ${reason}`),
  });
  const fromPage: IpcEventLike<FakeContents> = { sender: ours.contents, senderFrame: { url: page, parent: null } };
  return {
    handlers,
    trainer,
    dialogs,
    refused,
    fromPage,
    fromStranger: { sender: stranger, senderFrame: { url: page, parent: null } } as IpcEventLike<FakeContents>,
    fromSubframe: { sender: ours.contents, senderFrame: { url: page, parent: {} } } as IpcEventLike<FakeContents>,
    fromForeignPage: { sender: ours.contents, senderFrame: { url: 'https://evil.example/', parent: null } } as IpcEventLike<FakeContents>,
    fromGoneFrame: { sender: ours.contents, senderFrame: null } as IpcEventLike<FakeContents>,
    answer: (path: string | null) => {
      answer = path;
    },
  };
}

let t: ReturnType<typeof setup>;
beforeEach(() => {
  t = setup();
});

describe('who may call', () => {
  test('only the main frame of our window showing our page; others are refused and logged', async () => {
    for (const event of [t.fromStranger, t.fromSubframe, t.fromForeignPage, t.fromGoneFrame]) {
      await expect(t.handlers.chooseDataset(event, 'folder')).rejects.toThrow(/refused/);
      await expect(t.handlers.restartTrainer(event)).rejects.toThrow(/refused/);
      t.handlers.connect(event);
    }
    expect(t.dialogs).toHaveLength(0);
    expect(t.trainer.connected).toHaveLength(0);
    expect(t.trainer.restarts).toBe(0);
    expect(t.refused.join('\n')).toMatch(/not sent by an app window/);
    expect(t.refused.join('\n')).toMatch(/a subframe/);
    expect(t.refused.join('\n')).toMatch(/evil\.example/);
  });

  test('our page gets its port', () => {
    t.handlers.connect(t.fromPage);
    expect(t.trainer.connected).toEqual([{ id: 1 }]);
    t.handlers.connect(t.fromPage, 'extra');
    expect(t.trainer.connected).toHaveLength(1);
  });
});

describe('dialogs', () => {
  test('a chosen dataset folder becomes a read grant in the trainer; the page gets the id and the name', async () => {
    const choice = await t.handlers.chooseDataset(t.fromPage, 'folder');
    expect(choice).toEqual({ grant: expect.stringMatching(/^[a-f0-9]{32}$/), label: 'lfw' });
    expect(t.trainer.grants).toEqual([{ type: 'grant', grant: choice?.grant, path: dataset, purpose: 'read' }]);
    expect((t.dialogs[0] as OpenDialogOptions).properties).toContain('openDirectory');
  });

  test('each choice is a new grant', async () => {
    const a = await t.handlers.chooseDataset(t.fromPage, 'archive');
    const b = await t.handlers.chooseDataset(t.fromPage, 'archive');
    expect(a?.grant).not.toBe(b?.grant);
    expect((t.dialogs[0] as OpenDialogOptions).properties).toContain('openFile');
  });

  test('a cancelled dialog answers null and grants nothing', async () => {
    t.answer(null);
    expect(await t.handlers.chooseDataset(t.fromPage, 'folder')).toBeNull();
    expect(await t.handlers.choosePairsFile(t.fromPage)).toBeNull();
    expect(await t.handlers.chooseExportPath(t.fromPage, 'run-1')).toBeNull();
    expect(t.trainer.grants).toEqual([]);
  });

  test('a pairs file is a read grant, an export path a write grant from a save dialog', async () => {
    await t.handlers.choosePairsFile(t.fromPage);
    const out = resolve('/home/me/Documents/run-1.tar.gz');
    t.answer(out);
    const choice = await t.handlers.chooseExportPath(t.fromPage, 'run-1');
    expect(choice?.label).toBe('run-1.tar.gz');
    expect(t.trainer.grants.map((g) => g.purpose)).toEqual(['read', 'write']);
    expect(t.trainer.grants[1]?.path).toBe(out);
    expect((t.dialogs[1] as SaveDialogOptions).defaultPath).toBe(out);
  });

  test('a checkpoint is a read grant from an open dialog of checkpoint files', async () => {
    const file = resolve('/home/me/Downloads/LightCNN_9Layers_checkpoint.pth.tar');
    t.answer(file);
    const choice = await t.handlers.chooseCheckpoint(t.fromPage);
    expect(choice).toEqual({ grant: expect.stringMatching(/^[a-f0-9]{32}$/), label: 'LightCNN_9Layers_checkpoint.pth.tar' });
    expect(t.trainer.grants).toEqual([{ type: 'grant', grant: choice?.grant, path: file, purpose: 'read' }]);
    const options = t.dialogs[0] as OpenDialogOptions;
    expect(options.properties).toContain('openFile');
    expect(options.filters?.[0]?.extensions).toContain('pth');
  });

  test('an export folder is a write grant from a folder dialog that starts in the documents folder', async () => {
    const out = resolve('/home/me/Documents/lightcnn-experiment');
    t.answer(out);
    const choice = await t.handlers.chooseExportFolder(t.fromPage, 'torchrun');
    expect(choice).toEqual({ grant: expect.stringMatching(/^[a-f0-9]{32}$/), label: 'lightcnn-experiment' });
    expect(t.trainer.grants).toEqual([{ type: 'grant', grant: choice?.grant, path: out, purpose: 'write' }]);
    const options = t.dialogs[0] as OpenDialogOptions;
    expect(options.properties).toEqual(expect.arrayContaining(['openDirectory', 'createDirectory']));
    expect(options.defaultPath).toBe(resolve('/home/me/Documents'));
    expect(options.title).toMatch(/torchrun/);
  });

  test('a cancelled checkpoint or export-folder dialog answers null and grants nothing', async () => {
    t.answer(null);
    expect(await t.handlers.chooseCheckpoint(t.fromPage)).toBeNull();
    expect(await t.handlers.chooseExportFolder(t.fromPage, 'onnx')).toBeNull();
    expect(t.trainer.grants).toEqual([]);
    expect(t.dialogs).toHaveLength(2);
  });

  test('the checkpoint and export-folder dialogs: only our page, checked arguments, one dialog at a time, a running trainer', async () => {
    for (const event of [t.fromStranger, t.fromSubframe, t.fromForeignPage, t.fromGoneFrame]) {
      await expect(t.handlers.chooseCheckpoint(event)).rejects.toThrow(/refused/);
      await expect(t.handlers.chooseExportFolder(event, 'pytorch')).rejects.toThrow(/refused/);
    }
    await expect(t.handlers.chooseCheckpoint(t.fromPage, '/etc/passwd')).rejects.toThrow(/lab:choose-checkpoint takes 0 arguments/);
    await expect(t.handlers.chooseExportFolder(t.fromPage)).rejects.toThrow(/takes 1 argument/);
    await expect(t.handlers.chooseExportFolder(t.fromPage, 'tflite')).rejects.toThrow(/lab:choose-export-folder: the export format is/);
    await expect(t.handlers.chooseExportFolder(t.fromPage, '/home/me')).rejects.toThrow(/export format/);
    expect(t.dialogs).toHaveLength(0);

    const first = t.handlers.chooseCheckpoint(t.fromPage);
    await expect(t.handlers.chooseExportFolder(t.fromPage, 'onnx')).rejects.toThrow(/already open/);
    expect(await first).not.toBeNull();

    t.trainer.running = false;
    await expect(t.handlers.chooseCheckpoint(t.fromPage)).rejects.toThrow(/not running: restart it/);
    await expect(t.handlers.chooseExportFolder(t.fromPage, 'onnx')).rejects.toThrow(/not running: restart it/);
    expect(t.dialogs).toHaveLength(1);
    expect(t.trainer.grants).toHaveLength(1);
  });

  test('bad arguments are refused before any dialog opens', async () => {
    await expect(t.handlers.chooseDataset(t.fromPage, 'disk')).rejects.toThrow(/lab:choose-dataset/);
    await expect(t.handlers.chooseDataset(t.fromPage)).rejects.toThrow(/takes 1 argument/);
    await expect(t.handlers.choosePairsFile(t.fromPage, '/etc/passwd')).rejects.toThrow(/takes 0 arguments/);
    await expect(t.handlers.chooseExportPath(t.fromPage, '../../.bashrc')).rejects.toThrow(/suggested name/);
    await expect(t.handlers.chooseExportPath(t.fromPage, { name: 'x' })).rejects.toThrow();
    await expect(t.handlers.restartTrainer(t.fromPage, true)).rejects.toThrow(/takes 0 arguments/);
    expect(t.dialogs).toHaveLength(0);
  });

  test('one dialog at a time per window', async () => {
    const first = t.handlers.chooseDataset(t.fromPage, 'folder');
    await expect(t.handlers.choosePairsFile(t.fromPage)).rejects.toThrow(/already open/);
    expect(await first).not.toBeNull();
    expect(await t.handlers.choosePairsFile(t.fromPage)).not.toBeNull();
  });
});

describe('the trainer exited', () => {
  test('no dialog opens without a running trainer: a grant would lead nowhere', async () => {
    t.trainer.running = false;
    await expect(t.handlers.chooseDataset(t.fromPage, 'folder')).rejects.toThrow(/not running: restart it/);
    expect(t.dialogs).toHaveLength(0);
  });

  test('a trainer that stops while the dialog is open gets no grant, and the page is told', async () => {
    const pending = t.handlers.chooseDataset(t.fromPage, 'folder');
    t.trainer.running = false;
    await expect(pending).rejects.toThrow(/stopped while the dialog was open/);
    expect(t.trainer.grants).toEqual([]);
  });

  test('restartTrainer restarts it; earlier grants are not sent again', async () => {
    await t.handlers.chooseDataset(t.fromPage, 'folder');
    t.trainer.running = false;
    await t.handlers.restartTrainer(t.fromPage);
    expect(t.trainer.restarts).toBe(1);
    expect(t.trainer.grants).toHaveLength(1);
    await t.handlers.chooseDataset(t.fromPage, 'folder');
    expect(t.trainer.grants).toHaveLength(2);
  });
});
