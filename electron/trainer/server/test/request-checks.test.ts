// The Host and Origin rules on their own: which 'host:port's a bound server answers to, and what is refused.
import { hostname } from 'node:os';
import { describe, expect, test } from 'vitest';
import { allowedHostPorts, hostAllowed, hostPort, isPagePath, isWildcard, originAllowed, splitTarget } from '../request-checks';

describe('allowedHostPorts', () => {
  test('a loopback bind answers to every loopback name at its port, and to nothing else', () => {
    const allowed = allowedHostPorts('127.0.0.1', 7860, []);
    expect([...allowed].sort()).toEqual(['127.0.0.1:7860', '[::1]:7860', 'localhost:7860']);
  });

  test('extra names are allowed beside the bound host; port 80 may be left out of the Host header', () => {
    const allowed = allowedHostPorts('192.0.2.7', 80, ['Lab.Example']);
    expect([...allowed].sort()).toEqual(['192.0.2.7', '192.0.2.7:80', 'lab.example', 'lab.example:80']);
    expect(allowedHostPorts('192.0.2.7', 8080, []).has('192.0.2.7')).toBe(false);
  });

  test("a wildcard bind answers to loopback names and this machine's own name, not to any name", () => {
    expect(isWildcard('0.0.0.0') && isWildcard('[::]') && !isWildcard('127.0.0.1')).toBe(true);
    const allowed = allowedHostPorts('0.0.0.0', 9000, []);
    for (const name of ['localhost:9000', '127.0.0.1:9000', '[::1]:9000', `${hostname().toLowerCase()}:9000`]) expect(allowed.has(name)).toBe(true);
    expect(allowed.has('attacker.example:9000')).toBe(false);
  });

  test('IPv6 addresses are bracketed, names lowercased', () => {
    expect(hostPort('::1', 5)).toBe('[::1]:5');
    expect(hostPort('[FE80::1]', 5)).toBe('[fe80::1]:5');
    expect(hostPort('LocalHost', 5)).toBe('localhost:5');
  });
});

describe('hostAllowed and originAllowed', () => {
  const allowed = allowedHostPorts('127.0.0.1', 7860, []);

  test('the Host header must name an allowed host:port, case aside; a missing one is refused', () => {
    expect(hostAllowed('LOCALHOST:7860', allowed)).toBe(true);
    expect(hostAllowed('127.0.0.1:7860', allowed)).toBe(true);
    expect(hostAllowed('127.0.0.1:7861', allowed)).toBe(false);
    expect(hostAllowed('rebound.example:7860', allowed)).toBe(false); // DNS rebinding
    expect(hostAllowed(undefined, allowed)).toBe(false);
  });

  test("an Origin is allowed only as our own page's: plain http at an allowed host:port", () => {
    expect(originAllowed('http://localhost:7860', allowed)).toBe(true);
    expect(originAllowed('http://[::1]:7860', allowed)).toBe(true);
    expect(originAllowed('https://localhost:7860', allowed)).toBe(false);
    expect(originAllowed('http://evil.example', allowed)).toBe(false);
    expect(originAllowed('http://localhost:7860/path', allowed)).toBe(false);
    expect(originAllowed('null', allowed)).toBe(false);
    expect(originAllowed('http://', allowed)).toBe(false);
  });
});

describe('the request target', () => {
  test('its path is kept raw (".." is refused later, not normalized away) and its query parsed', () => {
    const { rawPath, query } = splitTarget('/a/../b%2e?token=x%2By&z');
    expect(rawPath).toBe('/a/../b%2e');
    expect(query.get('token')).toBe('x+y');
    expect(splitTarget('/ws').query.get('token')).toBeNull();
  });

  test('the page is / or /index.html only', () => {
    expect(['/', '/index.html', '/assets/a.js', '/index.html/', ''].map(isPagePath)).toEqual([true, true, false, false, false]);
  });
});
