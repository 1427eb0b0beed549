// What the app's web contents may load, navigate to and open: the decisions behind the
// Electron security checklist, as plain functions (electron/main/harden.ts applies them).
// No `electron` import, so they are tested under plain Node.
import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the app's own pages come from. */
export interface AppLocation {
  /** The built renderer's folder (out/renderer, inside app.asar when packaged). */
  readonly rendererDir: string;
  /** electron-vite's dev server (ELECTRON_RENDERER_URL), only when not packaged; else null. */
  readonly devServerUrl: string | null;
}

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** A file:// URL of a file inside `dir` (no `..` escape, no remote host). */
function isFileInside(url: URL, dir: string): boolean {
  if (url.protocol !== 'file:') return false;
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch {
    return false; // file://host/... (a UNC share) or an encoded separator
  }
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** The dev server itself over http(s), or its HMR WebSocket over ws(s). */
function isDevServer(url: URL, devServerUrl: string | null): boolean {
  const dev = devServerUrl === null ? null : parse(devServerUrl);
  if (!dev || url.host !== dev.host) return false;
  const socket = dev.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.protocol === dev.protocol || url.protocol === socket;
}

/** A page (or frame) of the app: the only documents that may talk to main over IPC. */
export function isAppPageUrl(url: string, location: AppLocation): boolean {
  const parsed = parse(url);
  if (!parsed) return false;
  if (isFileInside(parsed, location.rendererDir)) return true;
  return isDevServer(parsed, location.devServerUrl) && (parsed.protocol === 'http:' || parsed.protocol === 'https:');
}

/**
 * Whether a request from any web contents may proceed. Only the app's own files, the dev
 * server (development only), DevTools and in-memory data: nothing remote. The renderer talks
 * to the trainer through a MessagePort, so the app never needs the network (serve mode's
 * WebSocket is for a browser, not for the app's window).
 */
export function isAllowedRequest(url: string, location: AppLocation): boolean {
  const parsed = parse(url);
  if (!parsed) return false;
  switch (parsed.protocol) {
    case 'file:':
      return isFileInside(parsed, location.rendererDir);
    case 'devtools:':
    case 'data:':
    case 'blob:':
      return true;
    default:
      return isDevServer(parsed, location.devServerUrl);
  }
}

/**
 * The URL to hand to the system browser for a link the page tried to open, or null to
 * ignore it. Only https, and no credentials in the URL (`https://user@evil` phishing).
 */
export function externalLinkUrl(url: string): string | null {
  const parsed = parse(url);
  if (!parsed || parsed.protocol !== 'https:' || parsed.username !== '' || parsed.password !== '' || parsed.hostname === '') return null;
  return parsed.href;
}

/**
 * The Content-Security-Policy main sends as a response header for the app's pages. It is
 * stricter than the <meta> one in renderer/index.html (both apply; a resource must pass both):
 * no WebSocket in the app (the trainer is reached through a MessagePort), except the dev
 * server's HMR socket in development, and the directives a <meta> cannot carry.
 */
export function contentSecurityPolicy(devServerUrl: string | null): string {
  const dev = devServerUrl === null ? null : parse(devServerUrl);
  const devSocket = dev ? ` ${dev.protocol === 'https:' ? 'wss:' : 'ws:'}//${dev.host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    // Svelte and uPlot set inline style attributes; no script can come in through a style.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self'${devSocket}`,
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-src 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * Response headers with the CSP set for an app page; other responses unchanged (null).
 * Any Content-Security-Policy header of the response (the dev server sends none) is replaced.
 */
export function headersWithCsp(url: string, headers: Record<string, string[] | string> | undefined, location: AppLocation): Record<string, string[]> | null {
  if (!isAppPageUrl(url, location)) return null;
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === 'content-security-policy') continue;
    out[name] = Array.isArray(value) ? value : [value];
  }
  out['Content-Security-Policy'] = [contentSecurityPolicy(location.devServerUrl)];
  return out;
}
