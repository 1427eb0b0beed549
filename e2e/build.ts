// The UI the end-to-end test drives, built into a temporary folder of its own.
//
// Why not out/: electron/test/build.test.ts runs `electron-vite build` into out/ in its
// beforeAll, and vitest runs test files side by side, so a second build into out/ would race
// with it (each build empties its folders first; the server would serve half-written files).
// A fresh temporary --outDir per run cannot collide with it, nor with another e2e run, and
// `lab serve --renderer-dir` serves it. The build takes a few seconds.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const repoRoot = resolve(import.meta.dirname, '..');

export interface BuiltUi {
  /** The folder holding index.html and assets/. */
  rendererDir: string;
  remove(): Promise<void>;
}

export async function buildUi(): Promise<BuiltUi> {
  const outDir = await mkdtemp(join(tmpdir(), 'face-cnn-lab-e2e-build-'));
  const remove = () => rm(outDir, { recursive: true, force: true });
  try {
    await promisify(execFile)(process.execPath, [join(repoRoot, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', '--outDir', outDir, '--logLevel', 'warn'], {
      cwd: repoRoot,
      maxBuffer: 16 * 2 ** 20,
    });
  } catch (error) {
    await remove();
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`electron-vite build --outDir ${outDir} failed:\n${stderr || stdout || (error as Error).message}`);
  }
  const rendererDir = join(outDir, 'renderer');
  if (!existsSync(join(rendererDir, 'index.html'))) {
    await remove();
    throw new Error(`electron-vite build wrote no ${rendererDir}/index.html`);
  }
  return { rendererDir, remove };
}
