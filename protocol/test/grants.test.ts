// The grant shapes both ends share (grants.ts): one id rule for main's ids, the parent port's
// grant message and a viewer's PathRef; the message's fields refused by name.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { grantMessageSchema, isGrantId } from '../grants';
import { pathRefSchema } from '../workbench';

const ID = '0123456789abcdef'.repeat(2);
const GRANT = { type: 'grant', grant: ID, path: '/home/ada/faces', purpose: 'read' } as const;

describe('grants', () => {
  test("an id is 32 lowercase hex digits, the same rule for main's ids, the parent port and a viewer's PathRef", () => {
    for (const id of [ID, 'f'.repeat(32)]) {
      expect(isGrantId(id)).toBe(true);
      expect(grantMessageSchema.safeParse({ ...GRANT, grant: id }).success).toBe(true);
      expect(pathRefSchema.safeParse({ kind: 'grant', grant: id }).success).toBe(true);
    }
    for (const id of [ID.toUpperCase(), ID.slice(1), `${ID}0`, 'g'.repeat(32), '', 7, null]) {
      expect(isGrantId(id), String(id)).toBe(false);
      expect(grantMessageSchema.safeParse({ ...GRANT, grant: id }).success).toBe(false);
      expect(pathRefSchema.safeParse({ kind: 'grant', grant: id }).success).toBe(false);
    }
  });

  test("main's grant message is accepted as sent; a malformed one names its field", () => {
    expect(grantMessageSchema.parse(GRANT)).toEqual(GRANT);
    expect(grantMessageSchema.parse({ ...GRANT, purpose: 'write' })).toEqual({ ...GRANT, purpose: 'write' });
    const fields = (value: unknown) => grantMessageSchema.safeParse(value).error?.issues.map((issue) => issue.path.join('.'));
    expect(fields({ ...GRANT, grant: 'abc' })).toEqual(['grant']);
    expect(fields({ ...GRANT, path: 3 })).toEqual(['path']);
    expect(fields({ ...GRANT, path: '' })).toEqual(['path']);
    expect(fields({ ...GRANT, purpose: 'exec' })).toEqual(['purpose']);
    expect(fields({ ...GRANT, type: 'connect' })).toEqual(['type']);
  });

  test('imports only zod and other protocol files', () => {
    const source = readFileSync(fileURLToPath(new URL('../grants.ts', import.meta.url)), 'utf8');
    const imports = [...source.matchAll(/from '([^']+)'/g)].map((match) => match[1]);
    expect(imports).toEqual(['zod', './workbench']);
  });
});
