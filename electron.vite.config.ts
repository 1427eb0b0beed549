import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const root = import.meta.dirname;

// Optional native backends are imported through a variable at run time; they
// must stay external even though they are not in `dependencies`.
const optionalNative = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'sharp'];

/**
 * The batch prefetcher starts `new URL('./batch-worker.js', import.meta.url)` as a worker
 * thread, and that worker imports ./batch-kernel.js: both are plain ESM files that must sit
 * beside the trainer's bundle (out/main/), as they sit beside datasets/batches.ts in source.
 *
 * In the packaged app they are loaded from app.asar.unpacked/out/main/ (electron-builder.yml's
 * asarUnpack), where the project's package.json, with its "type": "module", is not: it stays
 * in the archive. So out/main/ gets a package.json of its own that says the .js files there
 * are ES modules, unpacked with them, rather than leaving it to Node's syntax detection.
 */
const OUT_MAIN_PACKAGE_JSON = `${JSON.stringify({ type: 'module' })}\n`;

function shipBatchWorker(): Plugin {
  return {
    name: 'face-cnn-lab:ship-batch-worker',
    generateBundle() {
      for (const fileName of ['batch-worker.js', 'batch-kernel.js']) {
        this.emitFile({ type: 'asset', fileName, source: readFileSync(resolve(root, 'datasets', fileName)) });
      }
      this.emitFile({ type: 'asset', fileName: 'package.json', source: OUT_MAIN_PACKAGE_JSON });
    },
  };
}

export default defineConfig({
  main: {
    plugins: [shipBatchWorker()],
    build: {
      externalizeDeps: { include: optionalNative },
      rollupOptions: {
        input: {
          index: resolve(root, 'electron/main/index.ts'),
          // The trainer is plain Node: the app forks it as a utility process.
          trainer: resolve(root, 'electron/trainer/index.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      // A sandboxed preload can require nothing but electron's own modules: each preload is one
      // file, with no chunk shared between the two (channels.ts would otherwise be one).
      isolatedEntries: true,
      rollupOptions: {
        input: {
          index: resolve(root, 'electron/preload/index.ts'),
          // The GPU host window's (electron/main/gpu-host-window.ts).
          'gpu-host': resolve(root, 'electron/preload/gpu-host.ts'),
        },
        output: { format: 'cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'renderer'),
    build: {
      rollupOptions: {
        input: {
          index: resolve(root, 'renderer/index.html'),
          // The GPU host page: the compute core on Chromium's WebGPU, in a hidden window.
          gpuHost: resolve(root, 'renderer/gpu-host.html'),
        },
      },
    },
    plugins: [svelte({ configFile: resolve(root, 'svelte.config.js') })],
  },
});
