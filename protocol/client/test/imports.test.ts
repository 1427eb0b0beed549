// The client runs in the renderer's bundle: each of its modules imports only the protocol's
// messages and frames (whose own test, protocol/test/messages.test.ts, keeps them bundleable)
// and the client's other modules; nothing of Node, Electron or the trainer.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const folder = fileURLToPath(new URL('..', import.meta.url));
const modules = readdirSync(folder).filter((name) => name.endsWith('.ts'));

describe('the client', () => {
  it('imports nothing the renderer cannot bundle', () => {
    expect(modules).toEqual(expect.arrayContaining(['lab-client.ts', 'connect.ts', 'transport.ts']));
    const allowed = ['../messages', '../frames', '../train-config', ...modules.map((name) => `./${name.slice(0, -'.ts'.length)}`)];
    for (const file of modules) {
      const source = readFileSync(`${folder}/${file}`, 'utf8');
      const imports = [...source.matchAll(/from '([^']+)'/g)].map((match) => match[1]);
      for (const name of imports) expect(allowed, `client/${file} imports ${name}`).toContain(name);
    }
  });
});
