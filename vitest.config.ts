import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const root = import.meta.dirname;

export default defineConfig({
  test: {
    // Decoding and training tests are CPU-bound: one worker per core.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './scripts/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'node',
          include: ['**/*.test.ts'],
          exclude: ['**/node_modules/**', 'out/**', 'dist/**', 'scratch/**', 'renderer/src/**/*.svelte.test.ts', 'renderer/src/views/**', 'renderer/src/components/**'],
          pool: 'forks',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Svelte components in jsdom: the renderer's own build of Svelte (browser conditions).
        plugins: [svelte({ configFile: resolve(root, 'svelte.config.js') })],
        resolve: { conditions: ['browser'] },
        test: {
          name: 'renderer',
          environment: 'jsdom',
          include: ['renderer/src/**/*.svelte.test.ts', 'renderer/src/views/**/*.test.ts', 'renderer/src/components/**/*.test.ts'],
          setupFiles: ['renderer/test-setup.ts'],
          pool: 'forks',
          testTimeout: 30_000,
        },
      },
    ],
  },
});
