import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const root = import.meta.dirname;

// Optional native backends are imported through a variable at run time; they
// must stay external even though they are not in `dependencies`.
const optionalNative = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'sharp'];

export default defineConfig({
  main: {
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
      rollupOptions: {
        input: { index: resolve(root, 'electron/preload/index.ts') },
        output: { format: 'cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'renderer'),
    build: {
      rollupOptions: { input: { index: resolve(root, 'renderer/index.html') } },
    },
    plugins: [svelte({ configFile: resolve(root, 'svelte.config.js') })],
  },
});
