// Serve mode's static files: the built renderer, read from one folder with no way out of it ('..', encoded or not,
// symlinks, directories), and the page under a strict CSP, so a bug that injects markup cannot load or send anything
// elsewhere. When nothing is built, the page says how to build it.

import { createReadStream, type Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { isPagePath } from './request-checks';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** A file's Content-Type by its extension; unknown ones are bytes. */
export function contentType(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** The file a request path names inside staticDir, or null: no '..', no directories, no escaping by symlink. */
export async function resolveStatic(staticDir: string | null, rawPath: string): Promise<{ path: string; stats: Stats } | null> {
  if (staticDir === null) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return null;
  }
  // Checked after decoding, so '%2e%2e' and '..%2f' are caught too; backslashes and NUL are never legitimate.
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').slice(1);
  if (segments.some((s) => s === '..' || s === '.')) return null;
  const candidate = path.resolve(staticDir, ...segments);
  try {
    const [root, real] = await Promise.all([realpath(staticDir), realpath(candidate)]);
    const relative = path.relative(root, real);
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return null;
    const stats = await stat(real);
    return stats.isFile() ? { path: real, stats } : null; // no directory listings
  } catch {
    return null;
  }
}

/**
 * Answers a GET or HEAD (already authorized) with the file rawPath names in staticDir: '/' is index.html; a missing
 * page is the not-built page, any other missing file a 404. `self`: the 'host:port' the page may talk to.
 */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, staticDir: string | null, rawPath: string, self: string): Promise<void> {
  const file = await resolveStatic(staticDir, rawPath === '/' ? '/index.html' : rawPath);
  if (file === null) {
    if (isPagePath(rawPath)) return sendHtml(req, res, NOT_BUILT_PAGE, self);
    return sendText(res, 404, 'Not found.\n');
  }
  const type = contentType(file.path);
  res.statusCode = 200;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', file.stats.size);
  if (type.startsWith('text/html')) setHtmlHeaders(res, self);
  else res.setHeader('Cache-Control', 'no-cache');
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(file.path);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** The headers every answer gets, refusals included. */
export function setCommonHeaders(res: ServerResponse): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

/** The page may only talk to this very server, `self` (its Host header, checked before). */
export function setHtmlHeaders(res: ServerResponse, self: string): void {
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'self'; connect-src 'self' ws://${self}; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; ` +
      `script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`,
  );
  res.setHeader('Cache-Control', 'no-store');
}

export function sendHtml(req: IncomingMessage, res: ServerResponse, html: string, self: string): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(html));
  setHtmlHeaders(res, self);
  res.end(req.method === 'HEAD' ? undefined : html);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

export const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Face CNN Lab</title></head>
<body><h1>Face CNN Lab</h1>
<p>The renderer is not built. Run <code>npm run build</code> in the project folder, then reload this page.</p>
<p>The trainer is running: WebSocket clients can connect at <code>/ws</code> with the token.</p>
</body></html>
`;
