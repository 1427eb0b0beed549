// Issue 14, 3: the page has an icon (without one, Chromium asks for /favicon.ico on every load
// and logs the 404 as an error), an SVG in the renderer that the page's CSP allows.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';

const renderer = resolve(import.meta.dirname, '../../..');

test('index.html links an SVG icon that exists, and its CSP lets images load from the page or data: URLs', () => {
  const html = readFileSync(resolve(renderer, 'index.html'), 'utf8');
  const link = /<link rel="icon" type="image\/svg\+xml" href="([^"]+)"/.exec(html);
  expect(link, 'no <link rel="icon"> in index.html').not.toBeNull();
  const file = resolve(renderer, link![1]!);
  expect(existsSync(file), file).toBe(true);
  const svg = readFileSync(file, 'utf8');
  expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  expect(svg).not.toMatch(/<script|href="http/i); // nothing that runs or reaches out
  // Vite emits it beside the page ('self') or inlines it (data:): img-src must allow both.
  const csp = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)![1]!;
  const imgSrc = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('img-src'));
  expect(imgSrc).toMatch(/'self'/);
  expect(imgSrc).toMatch(/data:/);
});
