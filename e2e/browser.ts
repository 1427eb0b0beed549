// Debian's Chromium driven by playwright-core (no browser download: CI installs the
// distribution's package, see .ci/run).
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** CHROMIUM_PATH, /usr/bin/chromium, or chromium / chromium-browser on PATH; null when none is there. */
export function findChromium(): string | null {
  const candidates = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium'];
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      candidates.push(execFileSync('which', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    } catch {
      // not on PATH
    }
  }
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there, or not executable
    }
  }
  return null;
}

export const NO_CHROMIUM =
  'no Chromium found (looked at $CHROMIUM_PATH, /usr/bin/chromium, chromium and chromium-browser on PATH). ' +
  'Install Debian\'s: `sudo apt-get install --no-install-recommends chromium` (.ci/run does this in CI), ' +
  'or set FACE_CNN_LAB_SKIP_E2E=1 to skip the end-to-end test.';

/**
 * Chromium's WebGPU on SwiftShader (its software Vulkan, shipped in Debian's /usr/lib/chromium):
 * the same WebGPU implementation Electron ships, on a machine without a GPU.
 */
const SWIFTSHADER_WEBGPU = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--disable-vulkan-surface'];

export function launchChromium(executablePath: string, options: { webgpu?: boolean } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath,
    // playwright-core would add its own --headless flavour; the flags are given as the Debian build expects them.
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      ...(options.webgpu === true ? SWIFTSHADER_WEBGPU : ['--disable-gpu']),
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    timeout: 60_000,
  });
}

export interface PageWatch {
  /** Uncaught exceptions in the page (the test fails on these). */
  errors: string[];
  /** console.error and console.warning lines (kept as an artifact, reported, not failed on). */
  console: string[];
}

export function watchPage(page: Page): PageWatch {
  const watch: PageWatch = { errors: [], console: [] };
  page.on('pageerror', (error) => watch.errors.push(error.stack ?? `${error.name}: ${error.message}`));
  page.on('console', (message) => {
    const type = message.type();
    if (type !== 'error' && type !== 'warning') return;
    const { url, lineNumber } = message.location();
    watch.console.push(`[${type}] ${message.text()}${url ? ` (${url}${lineNumber ? `:${lineNumber}` : ''})` : ''}`);
  });
  page.on('crash', () => watch.errors.push('the page crashed'));
  return watch;
}
