// The token and the asset cookie on their own: what opens the page, its files and a WebSocket.
import { describe, expect, test } from 'vitest';
import { assetKey, cookieValue, pageAccess, serveToken, socketAccess, tokenMatches } from '../serve-auth';

const token = 'a-test-token-0123';
const q = (s = '') => new URLSearchParams(s);

describe('the token', () => {
  test('a new one is random and long; a given one shorter than 8 characters is refused', () => {
    const a = serveToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(serveToken()).not.toBe(a);
    expect(serveToken('12345678')).toBe('12345678');
    expect(() => serveToken('1234567')).toThrow(/at least 8 characters/);
  });

  test('matches only exactly', () => {
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(`${token}x`, token)).toBe(false);
    expect(tokenMatches(token.toUpperCase(), token)).toBe(false);
    expect(tokenMatches(null, token)).toBe(false);
    expect(tokenMatches(undefined, token)).toBe(false);
  });

  test('a WebSocket needs it in its query', () => {
    expect(socketAccess(token, q(`token=${token}`))).toBe(true);
    expect(socketAccess(token, q('token=wrong'))).toBe(false);
    expect(socketAccess(token, q())).toBe(false);
  });
});

describe('cookieValue', () => {
  test('finds one cookie by its exact name and decodes it', () => {
    expect(cookieValue('a=1; lab_assets_80=x%3Dy; b=2', 'lab_assets_80')).toBe('x=y');
    expect(cookieValue('lab_assets_8080=z', 'lab_assets_80')).toBeNull();
    expect(cookieValue('lab_assets_80=%E0%A4%A', 'lab_assets_80')).toBeNull();
    expect(cookieValue(undefined, 'a')).toBeNull();
  });
});

describe('pageAccess', () => {
  const request = (rawPath: string, query = q(), cookieHeader?: string) => ({ rawPath, query, cookieHeader });

  test("the page needs the token in its URL, and its answer sets this port's asset cookie (not the token)", () => {
    expect(pageAccess(token, 7860, request('/'))).toEqual({ ok: false });
    expect(pageAccess(token, 7860, request('/index.html', q(), `lab_assets_7860=${assetKey(token)}`))).toEqual({ ok: false });
    const access = pageAccess(token, 7860, request('/', q(`token=${token}`)));
    expect(access).toEqual({ ok: true, setCookie: `lab_assets_7860=${assetKey(token)}; HttpOnly; SameSite=Strict; Path=/` });
    expect(assetKey(token)).not.toContain(token);
    expect(assetKey('another-token-000')).not.toBe(assetKey(token));
  });

  test("the page's files open with the token or with this port's cookie, and set no cookie", () => {
    expect(pageAccess(token, 7860, request('/assets/a.js', q(), `lab_assets_7860=${assetKey(token)}`))).toEqual({ ok: true, setCookie: null });
    expect(pageAccess(token, 7860, request('/assets/a.js', q(`token=${token}`)))).toEqual({ ok: true, setCookie: null });
    expect(pageAccess(token, 7860, request('/assets/a.js'))).toEqual({ ok: false });
    // Another port's cookie, the token itself as the cookie, another token's key: refused.
    expect(pageAccess(token, 7860, request('/assets/a.js', q(), `lab_assets_7861=${assetKey(token)}`))).toEqual({ ok: false });
    expect(pageAccess(token, 7860, request('/assets/a.js', q(), `lab_assets_7860=${token}`))).toEqual({ ok: false });
    expect(pageAccess(token, 7860, request('/assets/a.js', q(), `lab_assets_7860=${assetKey('another-token-000')}`))).toEqual({ ok: false });
  });
});
