// The app the end-to-end tests drive, built into a temporary folder of its own.
//
// Why not out/: electron/test/build.test.ts runs `electron-vite build` into out/ in its
// beforeAll, and vitest runs test files side by side, so a second build into out/ would race
// with it (each build empties its folders first; the server would serve half-written files,
// Electron would load them). A fresh temporary --outDir per run cannot collide with it, nor
// with the other end-to-end test. The build takes a few seconds.
//
// Where: the Chromium test only serves the renderer (`lab serve --renderer-dir`), so any
// folder will do (the system's temporary folder). The Electron test runs main and the
// trainer from the build, and those bundles import their dependencies (electron, zod,
// @tensorflow/tfjs, sharp, ...) by bare name and are ES modules only by the repository's
// package.json ("type": "module"): they must sit inside the repository, outside
// node_modules, to find both. main finds the preload, the renderer and the trainer beside
// itself (electron/main/index.ts, trainer-process.ts), so any such folder works.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const repoRoot = resolve(import.meta.dirname, '..');

export interface BuiltApp {
  /** The build's --outDir: main/, preload/ and renderer/. */
  outDir: string;
  /** The folder holding index.html and assets/. */
  rendererDir: string;
  /** main's bundle, what Electron is started with (package.json's "main" is out/main/index.js). */
  mainScript: string;
  remove(): Promise<void>;
}

export interface BuildOptions {
  /** The folder the temporary build folder is made in (default: the system's temporary folder). */
  parent?: string;
  /** Also check that main, the trainer and the preload were written (the desktop app runs them). */
  desktop?: boolean;
}

export async function buildApp(options: BuildOptions = {}): Promise<BuiltApp> {
  const parent = options.parent ?? tmpdir();
  await mkdir(parent, { recursive: true });
  const outDir = await mkdtemp(join(parent, 'face-cnn-lab-e2e-build-'));
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
  const mainScript = join(outDir, 'main', 'index.js');
  const expected = [join(rendererDir, 'index.html')];
  if (options.desktop) expected.push(mainScript, join(outDir, 'main', 'trainer.js'), join(outDir, 'preload', 'index.cjs'));
  const missing = expected.filter((path) => !existsSync(path));
  if (missing.length > 0) {
    await remove();
    throw new Error(`electron-vite build wrote no ${missing.join(', ')}`);
  }
  return { outDir, rendererDir, mainScript, remove };
}
