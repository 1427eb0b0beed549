// Issue 14, 3: command-line rough edges, run as a user runs them (a separate process, from a folder of their own).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeIdentityFolders, tempDir } from '../../../../datasets/test/fixtures';
import { lab } from './run-lab';

describe('the command line', () => {
  test('an invalid option prints the error and one line pointing at the command\'s --help, not the whole help', async () => {
    const here = await tempDir();
    const [train, top, inspect] = await Promise.all([
      lab(['train', '--data', 'synthetic', '--bogus'], await tempDir(), here),
      lab(['--no-such-flag'], await tempDir(), here),
      lab(['data', 'inspect', 'synthetic', '--frobnicate', '3'], await tempDir(), here),
    ]);
    expect(train.code).toBe(1);
    expect(train.stderr).toBe("error: unknown option '--bogus'\n(lab train --help lists the options)\n");
    expect(top.stderr).toBe("error: unknown option '--no-such-flag'\n(lab --help lists the options)\n");
    expect(inspect.stderr).toBe("error: unknown option '--frobnicate'\n(lab data inspect --help lists the options)\n");
    for (const run of [train, top, inspect]) expect(run.stdout).toBe('');
  });

  test('data inspect writes no contact sheet unasked, and says where --sheet wrote one', async () => {
    const here = await tempDir();
    const folder = await tempDir();
    await makeIdentityFolders(folder, 2, 2);
    const plain = await lab(['data', 'inspect', folder, '--input', '32'], await tempDir(), here);
    expect(plain.code, plain.stderr).toBe(0);
    expect(readdirSync(here)).toEqual([]);
    expect(plain.stdout).toMatch(/Contact sheet: not written \(--sheet <file\.png> writes one\)\n$/);

    const asked = await lab(['data', 'inspect', folder, '--input', '32', '--sheet', 'faces.png'], await tempDir(), here);
    expect(asked.code, asked.stderr).toBe(0);
    expect(existsSync(join(here, 'faces.png'))).toBe(true);
    expect(asked.stdout).toContain(`Contact sheet: written to ${join(here, 'faces.png')}\n`);

    const json = await lab(['data', 'inspect', folder, '--input', '32', '--json'], await tempDir(), here);
    expect(JSON.parse(json.stdout)).toMatchObject({ contactSheet: null });
    expect(readdirSync(here)).toEqual(['faces.png']);
  });
});
