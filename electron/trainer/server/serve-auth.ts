// Serve mode's access token: a random one, printed in the URL by `lab serve`, is required for the page and for the
// WebSocket. The page's own requests (/assets/x.js) carry no query, so a cookie authorizes those. The cookie is not the
// token: browsers send a host's cookies to every port on it (another local server would receive it), so it holds a
// value derived from the token that opens static files only.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isPagePath } from './request-checks';

/** Prefix of the asset cookie's name; the port follows, since browsers share cookies across a host's ports. */
export const TOKEN_COOKIE = 'lab_assets';
/** The close code of a WebSocket that came with a wrong or missing token. */
export const CLOSE_WRONG_TOKEN = 4401;
export const WRONG_TOKEN_REASON = 'wrong or missing token: open the exact URL printed in the terminal by npm start or lab serve';
export const FORBIDDEN_PAGE_TEXT = 'Forbidden: open the exact URL printed in the terminal by npm start or lab serve (it carries the access token).\n';
const MIN_TOKEN_LENGTH = 8;

/** The token given, checked, or a new random one (24 bytes, base64url). */
export function serveToken(given?: string): string {
  const token = given ?? randomBytes(24).toString('base64url');
  if (token.length < MIN_TOKEN_LENGTH) throw new Error(`the serve token must be at least ${MIN_TOKEN_LENGTH} characters`);
  return token;
}

/** Constant-time token comparison (the length is not secret: it is the same for every token we make). */
export function tokenMatches(given: string | null | undefined, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(token, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** One cookie's value in a Cookie header (URI-decoded), or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return null;
    }
  }
  return null;
}

/** The asset cookie's value: derived from the token, it opens static files only. */
export function assetKey(token: string): string {
  return createHmac('sha256', token).update('static files').digest('base64url');
}

/** Whether an HTTP request may have what it asks for; the page's answer sets the asset cookie. */
export type PageAccess = { ok: false } | { ok: true; setCookie: string | null };

/**
 * The page needs the token in its query; any other file, the token or the asset cookie of this port.
 * `port`: the one the server listens on (the cookie's name holds it).
 */
export function pageAccess(token: string, port: number, request: { rawPath: string; query: URLSearchParams; cookieHeader: string | undefined }): PageAccess {
  const fromQuery = tokenMatches(request.query.get('token'), token);
  const isPage = isPagePath(request.rawPath);
  const cookieName = `${TOKEN_COOKIE}_${port}`;
  const key = assetKey(token);
  if (!fromQuery && (isPage || !tokenMatches(cookieValue(request.cookieHeader, cookieName), key))) return { ok: false };
  return { ok: true, setCookie: isPage ? `${cookieName}=${key}; HttpOnly; SameSite=Strict; Path=/` : null };
}

/** A WebSocket needs the token in its query (a cookie never opens one). */
export function socketAccess(token: string, query: URLSearchParams): boolean {
  return tokenMatches(query.get('token'), token);
}
