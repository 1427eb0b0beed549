// The threaded wasm backend's worker is code that runs inside the trainer: it must never come
// from a file another local user could have put in the shared temp folder. The lab used to
// write it to a predictable name there and run whatever it found under that name; a file
// planted there must now be ignored, and the worker written to a private folder (mode 0700).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, test } from 'vitest';
import { threadedMainScript, wasmBinaryFolder, wasmWorkerSource, workerFile } from '../backend-wasm';

const root = resolve(import.meta.dirname, '../..');

/** A child that loads the wasm backend with 2 threads, convolves, and reports its worker file as it found it. */
const CHILD = `
import * as tf from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('@tensorflow/tfjs')).href)};
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadWasm, wasmThreads, workerFile } from ${JSON.stringify(pathToFileURL(join(root, 'models/backend-wasm.ts')).href)};
const load = await loadWasm(undefined);
const sum = tf.conv2d(tf.ones([1, 8, 8, 1]), tf.ones([3, 3, 1, 2]), 1, 'valid').sum().dataSync()[0];
const file = workerFile();
console.log(JSON.stringify({ ok: load.ok, threads: wasmThreads(), sum, file, fileMode: statSync(file).mode & 0o777, dirMode: statSync(dirname(file)).mode & 0o777 }));
`;

test("a worker planted under the old predictable temp name is never run; the lab's own goes to a private folder; dead processes' folders are cleared", async () => {
  const source = wasmWorkerSource();
  expect(source).not.toBeNull();
  // The child's temp folder is a scratch one (TMPDIR): the shared one is not touched.
  const scratch = await mkdtemp(join(tmpdir(), 'planted-'));
  const planted = join(scratch, `face-cnn-lab-wasm-worker-${createHash('sha256').update(source as string).digest('hex').slice(0, 16)}.cjs`);
  // A folder left by a process that died without exiting (no such pid), and one of a live process (this one).
  const stale = join(scratch, 'face-cnn-lab-wasm-999999999-dead');
  const live = join(scratch, `face-cnn-lab-wasm-${process.pid}-live`);
  await mkdir(stale);
  await mkdir(live);
  const marker = join(scratch, 'the planted worker ran');
  await writeFile(planted, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'pwned');\n${source}`);
  const child = join(scratch, 'child.mts');
  await writeFile(child, CHILD);
  try {
    const out = await new Promise<string>((done, fail) =>
      execFile(process.execPath, ['--import', 'tsx', child], { cwd: root, env: { ...process.env, FACE_CNN_LAB_WASM_THREADS: '2', TMPDIR: scratch }, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) =>
        error ? fail(new Error(`the child failed (${error.code ?? error.signal}): ${stderr.slice(-2000)}`)) : done(stdout),
      ),
    );
    const report = JSON.parse(out.trim().split('\n').at(-1) as string) as { ok: boolean; threads: number; sum: number; file: string; fileMode: number; dirMode: number };
    expect(report).toMatchObject({ ok: true, threads: 2, sum: 2 * 36 * 9, fileMode: 0o600, dirMode: 0o700 });
    expect(report.file).not.toBe(planted);
    expect(existsSync(marker)).toBe(false);
    expect(report.file.startsWith(join(scratch, 'face-cnn-lab-wasm-'))).toBe(true);
    expect(existsSync(report.file)).toBe(false); // the private folder went with the process
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}, 90_000);

test('the worker file is written once per process, exclusively, with the package worker told where its main script is', async () => {
  const file = workerFile() as string;
  expect(workerFile()).toBe(file);
  expect(await readFile(file, 'utf8')).toBe(wasmWorkerSource());
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(file.startsWith(tmpdir())).toBe(true);
  expect(file).toMatch(new RegExp(`face-cnn-lab-wasm-${process.pid}-[^/\\\\]+[/\\\\]wasm-worker\\.cjs$`));
});

test('in the packaged app the binaries and the main script the workers read by path are the unpacked copies', async () => {
  // resources/app.asar is a file (an archive); electron-builder.yml's asarUnpack writes real copies beside it.
  const resources = await mkdtemp(join(tmpdir(), 'face-cnn-lab-resources-'));
  try {
    const inAsar = join(resources, 'app.asar', 'node_modules', '@tensorflow', 'tfjs-backend-wasm');
    const unpacked = join(resources, 'app.asar.unpacked', 'node_modules', '@tensorflow', 'tfjs-backend-wasm');
    await writeFile(join(resources, 'app.asar'), 'an archive');
    await mkdir(join(unpacked, 'dist'), { recursive: true });
    await mkdir(join(unpacked, 'wasm-out'), { recursive: true });
    await writeFile(join(unpacked, 'dist', 'tfjs-backend-wasm-simd.wasm'), '');
    await writeFile(join(unpacked, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js'), '');
    expect(wasmBinaryFolder(join(inAsar, 'dist', 'index.js'))).toBe(`${join(unpacked, 'dist')}/`);
    expect(threadedMainScript(inAsar)).toBe(join(unpacked, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js'));
    // Plain Node (the command line, tests): paths as they are.
    expect(threadedMainScript(join(root, 'node_modules/@tensorflow/tfjs-backend-wasm'))).toBe(join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js'));
  } finally {
    await rm(resources, { recursive: true, force: true });
  }
});
