// Issue 14, 3: every setting `npm start` reads from the environment (scripts/start-app.js) is
// documented in the README, with what it does; tests-only settings are exempt.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

test("npm start's environment settings, the port among them, are in the README", () => {
  const script = readFileSync(resolve(root, 'scripts/start-app.js'), 'utf8');
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  const read = [...new Set([...script.matchAll(/process\.env\.(FACE_CNN_LAB_\w+)/g)].map((m) => m[1]!))].filter((name) => !name.includes('_TEST_'));
  expect(read).toContain('FACE_CNN_LAB_PORT');
  for (const name of read) expect(readme, name).toContain(name);
  // The port: its default, how to pick another, and any free one.
  expect(readme).toMatch(/FACE_CNN_LAB_PORT=8080 npm start/);
  expect(readme).toMatch(/FACE_CNN_LAB_PORT=0`?: any free port/);
});
