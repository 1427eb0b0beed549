// What the packaged app ships and where, from electron-builder.yml as electron-builder reads it
// (packaging itself needs Electron's binary): files loaded by path at run time sit outside
// app.asar (asarUnpack), the command line's packages stay out, and the path helper that finds
// the unpacked copies. The build's own output (out/) is checked in build.test.ts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { unpackedPath, unpackedUrl } from '../../datasets/asar-unpacked';
import { loadPackaging, packageClosure, packageFiles, productionRoots, type Packaging } from './packaging';

/**
 * Packages only the command line (`npm run lab`, `lab serve`) loads; the app never imports them
 * (build.test.ts checks the bundles). webgpu (Dawn's Node bindings) cannot run inside Electron.
 */
const CLI_ONLY = ['tsx', 'commander', 'cli-progress', 'ws', 'webgpu'];

/** Files a native addon or the dynamic linker opens: they must be real files. */
const NATIVE = /\.(node|dll|dylib|so)$|\.so\.\d/;

let packaging: Packaging;
beforeAll(async () => {
  packaging = await loadPackaging();
});

describe('asarUnpack: what is loaded by path at run time is outside app.asar', () => {
  test('every shipped native binary is unpacked, and so is every other file of its package (libraries load their neighbours)', () => {
    const natives: string[] = [];
    for (const key of packageClosure(productionRoots)) {
      const files = packageFiles(key).filter((file) => packaging.shipsModuleFile(file));
      if (!files.some((file) => NATIVE.test(file))) continue;
      natives.push(key);
      expect(files.filter((file) => !packaging.unpacked(file)), `${key} ships a native binary`).toEqual([]);
    }
    // sharp's addon and its libvips are installed here; a check of nothing proves nothing.
    expect(natives).toEqual(expect.arrayContaining(['node_modules/@img/sharp-linux-x64', 'node_modules/@img/sharp-libvips-linux-x64']));
  });

  test("tfjs-backend-wasm's binaries and the Emscripten scripts its threaded worker reads by path are unpacked", () => {
    const files = packageFiles('node_modules/@tensorflow/tfjs-backend-wasm').filter((file) => packaging.shipsModuleFile(file));
    const readByPath = files.filter((file) => file.endsWith('.wasm') || /\/wasm-out\/[^/]+\.js$/.test(file));
    expect(readByPath).toEqual(
      expect.arrayContaining([
        'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm',
        'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js',
        'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js',
      ]),
    );
    expect(readByPath.filter((file) => !packaging.unpacked(file))).toEqual([]);
    // The package's JavaScript stays in the archive.
    expect(packaging.unpacked('node_modules/@tensorflow/tfjs-backend-wasm/dist/index.js')).toBe(false);
  });
});

describe("files: the app's packages ship, the command line's do not", () => {
  test('the command-line-only packages and what only they depend on are left out', () => {
    const runtime = packageClosure(productionRoots.filter((name) => !CLI_ONLY.includes(name)));
    const cliOnly = [...packageClosure(CLI_ONLY)].filter((key) => !runtime.has(key));
    // esbuild's native binary comes with tsx.
    expect(cliOnly).toEqual(expect.arrayContaining(['node_modules/tsx', 'node_modules/esbuild', 'node_modules/ws', 'node_modules/commander', 'node_modules/cli-progress']));
    const shipped = cliOnly.flatMap((key) => packageFiles(key)).filter((file) => packaging.shipsModuleFile(file));
    expect(shipped).toEqual([]);
  });

  test("every package the app's production dependencies need ships whole (source maps aside)", () => {
    const runtime = packageClosure(productionRoots.filter((name) => !CLI_ONLY.includes(name)));
    // Shared with cli-progress, but needed at run time by others: the excludes must not catch them.
    expect(runtime.has('node_modules/string-width')).toBe(true);
    const missing = [...runtime].flatMap((key) => packageFiles(key)).filter((file) => !file.endsWith('.map') && !packaging.shipsModuleFile(file));
    expect(missing).toEqual([]);
  });
});

describe('unpackedPath: a file inside app.asar mapped to its app.asar.unpacked twin', () => {
  let resources: string;
  beforeAll(() => {
    resources = mkdtempSync(join(tmpdir(), 'face-cnn-lab-asar-'));
    // As in a packaged app: the archive is one file, its unpacked files a folder beside it.
    writeFileSync(join(resources, 'app.asar'), 'not a folder');
    mkdirSync(join(resources, 'app.asar.unpacked/out/main'), { recursive: true });
    writeFileSync(join(resources, 'app.asar.unpacked/out/main/worker.js'), '');
  });
  afterAll(() => rmSync(resources, { recursive: true, force: true }));

  test('maps an unpacked file, and leaves a file that was not unpacked, or is not in an archive, as it is', () => {
    expect(unpackedPath(join(resources, 'app.asar/out/main/worker.js'))).toBe(join(resources, 'app.asar.unpacked/out/main/worker.js'));
    expect(unpackedPath(join(resources, 'app.asar/out/main/index.js'))).toBe(join(resources, 'app.asar/out/main/index.js'));
    expect(unpackedPath(join(resources, 'app.asar.unpacked/out/main/worker.js'))).toBe(join(resources, 'app.asar.unpacked/out/main/worker.js'));
    expect(unpackedPath(join(resources, 'elsewhere/worker.js'))).toBe(join(resources, 'elsewhere/worker.js'));
  });

  test('the URL form maps file: URLs (a worker started from new URL(…, import.meta.url)) and no others', () => {
    const inArchive = pathToFileURL(join(resources, 'app.asar/out/main/worker.js'));
    expect(unpackedUrl(inArchive).href).toBe(pathToFileURL(join(resources, 'app.asar.unpacked/out/main/worker.js')).href);
    const other = new URL('https://example.org/app.asar/out/main/worker.js');
    expect(unpackedUrl(other)).toBe(other);
  });
});
