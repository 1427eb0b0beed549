// What serve mode checks of how a request addresses it, before any token: the Host header must name the bound host
// (DNS rebinding: a hostile page whose name resolves to 127.0.0.1 would otherwise be same-origin with us and could
// read our responses), and a WebSocket's Origin, when present, must be our own page's (browsers do not apply the
// same-origin policy to WebSockets; Origin is how a server tells a hostile page's socket from its own).
// Also the request target's parts, read without normalizing '..' away (static-files.ts refuses it instead).

import { isIP } from 'node:net';
import { hostname as osHostname, networkInterfaces } from 'node:os';

/** True for names and addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** True for the addresses that bind every interface. */
export function isWildcard(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  return h === '0.0.0.0' || h === '::' || h === '0:0:0:0:0:0:0:0';
}

/** 'host:port' as it appears in a Host header and, after 'http://', in an Origin (IPv6 in brackets). */
export function hostPort(name: string, port: number): string {
  const bare = name.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return `${isIP(bare) === 6 ? `[${bare}]` : bare}:${port}`;
}

/** Every 'host:port' the server may legitimately be addressed as. */
export function allowedHostPorts(bound: string, port: number, extra: readonly string[]): Set<string> {
  const names = new Set<string>([bound, ...extra]);
  if (isLoopback(bound)) ['localhost', '127.0.0.1', '::1'].forEach((n) => names.add(n));
  if (isWildcard(bound)) {
    // Bound to every interface: the page may be opened by any of this machine's addresses or its own name. Names an
    // attacker controls (DNS rebinding) are still refused.
    ['localhost', '127.0.0.1', '::1', osHostname()].forEach((n) => names.add(n));
    for (const addresses of Object.values(networkInterfaces())) for (const a of addresses ?? []) names.add(a.address.replace(/%.*$/, ''));
  }
  const result = new Set<string>();
  for (const name of names) {
    result.add(hostPort(name, port));
    if (port === 80) result.add(hostPort(name, port).replace(/:80$/, ''));
  }
  return result;
}

/** A request's Host header names one of the allowed 'host:port's (a missing one never does). */
export function hostAllowed(hostHeader: string | undefined, allowed: ReadonlySet<string>): boolean {
  return typeof hostHeader === 'string' && allowed.has(hostHeader.toLowerCase());
}

/** An Origin is our own page's: plain http, at one of the allowed 'host:port's. */
export function originAllowed(origin: string, allowed: ReadonlySet<string>): boolean {
  const m = /^http:\/\/(.+)$/.exec(origin.toLowerCase());
  return m !== null && m[1] !== undefined && allowed.has(m[1]);
}

/** Splits a request target into its raw path and its query, without normalizing '..' away (we refuse it instead). */
export function splitTarget(target: string): { rawPath: string; query: URLSearchParams } {
  const q = target.indexOf('?');
  return q < 0 ? { rawPath: target, query: new URLSearchParams() } : { rawPath: target.slice(0, q), query: new URLSearchParams(target.slice(q + 1)) };
}

/** The page itself (as opposed to its assets): the one path that needs the token in its URL. */
export function isPagePath(rawPath: string): boolean {
  return rawPath === '/' || rawPath === '/index.html';
}
