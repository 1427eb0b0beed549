// What the app's web contents may load and open (policy.ts): only its own files, the dev
// server in development, and https links handed to the browser.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { contentSecurityPolicy, externalLinkUrl, headersWithCsp, isAllowedRequest, isAppPageUrl, type AppLocation } from '../policy';

const rendererDir = resolve('/opt/Face CNN Lab/resources/app.asar/out/renderer');
const packaged: AppLocation = { rendererDir, devServerUrl: null };
const dev: AppLocation = { rendererDir, devServerUrl: 'http://localhost:5173' };
const fileUrl = (...parts: string[]) => pathToFileURL(join(rendererDir, ...parts)).href;

describe('isAppPageUrl', () => {
  test("the built renderer's files are the app's pages, wherever the app is installed", () => {
    expect(isAppPageUrl(fileUrl('index.html'), packaged)).toBe(true);
    expect(isAppPageUrl(`${fileUrl('index.html')}#/runs?x=1`, packaged)).toBe(true);
  });

  test('other local files, escapes and look-alike folders are not', () => {
    expect(isAppPageUrl(pathToFileURL(resolve('/etc/passwd')).href, packaged)).toBe(false);
    expect(isAppPageUrl(`${pathToFileURL(rendererDir).href}/../../secret.html`, packaged)).toBe(false);
    expect(isAppPageUrl(pathToFileURL(`${rendererDir}-evil/index.html`).href, packaged)).toBe(false);
    expect(isAppPageUrl(pathToFileURL(rendererDir).href, packaged)).toBe(false);
    expect(isAppPageUrl('file://evil.example/share/index.html', packaged)).toBe(false);
  });

  test('the dev server is a page of the app only in development', () => {
    expect(isAppPageUrl('http://localhost:5173/', dev)).toBe(true);
    expect(isAppPageUrl('http://localhost:5173/', packaged)).toBe(false);
    expect(isAppPageUrl('http://localhost:5174/', dev)).toBe(false);
    expect(isAppPageUrl('http://localhost.evil.example:5173/', dev)).toBe(false);
    expect(isAppPageUrl('ws://localhost:5173/', dev)).toBe(false);
  });

  test("the GPU host's page is one of the app's pages, so its window gets the same CSP header and request limits", () => {
    expect(isAppPageUrl(fileUrl('gpu-host.html'), packaged)).toBe(true);
    expect(isAllowedRequest(fileUrl('assets', 'gpuHost-1a2b3c.js'), packaged)).toBe(true);
    expect(headersWithCsp(fileUrl('gpu-host.html'), {}, packaged)?.['Content-Security-Policy']).toEqual([contentSecurityPolicy(null)]);
    expect(isAppPageUrl('http://localhost:5173/gpu-host.html', dev)).toBe(true);
    expect(isAppPageUrl('http://localhost:5173/gpu-host.html', packaged)).toBe(false);
  });

  test('garbage is not a URL of the app', () => {
    expect(isAppPageUrl('', packaged)).toBe(false);
    expect(isAppPageUrl('not a url', packaged)).toBe(false);
    expect(isAppPageUrl('about:blank', packaged)).toBe(false);
  });
});

describe('isAllowedRequest', () => {
  test("the app's own files, DevTools and in-memory data load", () => {
    expect(isAllowedRequest(fileUrl('assets', 'index-abc.js'), packaged)).toBe(true);
    expect(isAllowedRequest('devtools://devtools/bundled/devtools_app.html', packaged)).toBe(true);
    expect(isAllowedRequest('data:image/png;base64,AAAA', packaged)).toBe(true);
    expect(isAllowedRequest('blob:file:///0c8e-4e1b', packaged)).toBe(true);
  });

  test('nothing remote loads, the trainer WebSocket of serve mode included', () => {
    for (const url of ['https://example.com/x.js', 'http://127.0.0.1:7860/', 'ws://127.0.0.1:7860/?token=x', 'ftp://example.com/', 'chrome://gpu', pathToFileURL(resolve('/home/user/.ssh/id_rsa')).href]) {
      expect(isAllowedRequest(url, packaged), url).toBe(false);
    }
  });

  test('in development the dev server and its HMR socket load, and nothing else of localhost', () => {
    expect(isAllowedRequest('http://localhost:5173/src/main.ts', dev)).toBe(true);
    expect(isAllowedRequest('ws://localhost:5173/?token=abc', dev)).toBe(true);
    expect(isAllowedRequest('wss://localhost:5173/', dev)).toBe(false);
    expect(isAllowedRequest('http://localhost:8080/', dev)).toBe(false);
    expect(isAllowedRequest('http://localhost:5173/src/main.ts', packaged)).toBe(false);
  });
});

describe('externalLinkUrl', () => {
  test('https links open in the browser', () => {
    expect(externalLinkUrl('https://arxiv.org/abs/1511.02683')).toBe('https://arxiv.org/abs/1511.02683');
  });

  test('other schemes and credentials in the URL do not', () => {
    for (const url of ['http://example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'smb://host/share', 'ms-msdt:/id', 'https://user:pw@example.com/', 'https://user@example.com/', 'nonsense']) {
      expect(externalLinkUrl(url), url).toBeNull();
    }
  });
});

describe('Content-Security-Policy header', () => {
  test('strict: own scripts only, no eval, no inline script, no plugins, no framing', () => {
    const csp = contentSecurityPolicy(null);
    expect(csp).toMatch(/(^|; )script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-eval/);
    expect(csp).toMatch(/object-src 'none'/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).toMatch(/img-src 'self' data: blob:/);
    // The app reaches the trainer through a MessagePort: no WebSocket, unlike serve mode.
    expect(csp).toMatch(/connect-src 'self'(;|$)/);
  });

  test("in development it allows the dev server's HMR socket", () => {
    expect(contentSecurityPolicy('http://localhost:5173')).toMatch(/connect-src 'self' ws:\/\/localhost:5173(;|$)/);
  });

  test("is set on the app's pages, replacing any the response had, and on nothing else", () => {
    const headers = headersWithCsp(fileUrl('index.html'), { 'content-security-policy': ['default-src *'], 'Content-Type': 'text/html' }, packaged);
    expect(headers).toEqual({ 'Content-Type': ['text/html'], 'Content-Security-Policy': [contentSecurityPolicy(null)] });
    expect(headersWithCsp('http://localhost:5173/', undefined, dev)?.['Content-Security-Policy']).toEqual([contentSecurityPolicy('http://localhost:5173')]);
    expect(headersWithCsp('https://example.com/', {}, packaged)).toBeNull();
  });
});
