// The headless lab's data commands, run as a user runs them: a separate process.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parsePairs } from '../../../../datasets/pairs';
import { makeIdentityFolders, makeImage, tempDir } from '../../../../datasets/test/fixtures';
import { makeZip } from '../../../../datasets/test/zip-writer';
import { openDataset } from '../../../../datasets';
import { describeDataset } from '../open-dataset';
import { progressBar } from '../progress-bar';
import { lab } from './run-lab';

// Asynchronous, so that a test's own HTTP server can answer the child.

describe('lab data', () => {
  test('inspect prints identities, counts, sizes, skipped files, and writes a contact sheet', async () => {
    const folder = await tempDir();
    await makeIdentityFolders(folder, 4, 3);
    const sheet = join(await tempDir(), 'sheet.png');
    const { code, stdout, stderr } = await lab(['data', 'inspect', folder, '--input', '32', '--sheet', sheet], await tempDir());
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/Identities:\s+4\n/);
    expect(stdout).toMatch(/Images:\s+12 \(per identity: min 3, median 3, max 3\)/);
    expect(stdout).toMatch(/Image sizes: 48x56 \(12\)/);
    expect(stdout).toMatch(/Stored as:\s+36x36 grey/);
    expect(stdout).toMatch(/Skipped:\s+nothing/);
    expect(existsSync(sheet)).toBe(true);
  });

  test('inspect of the synthetic set needs no files and says it is synthetic', async () => {
    const sheet = join(await tempDir(), 'sheet.png');
    const { code, stdout } = await lab(['data', 'inspect', 'synthetic:5x4', '--input', '32', '--sheet', sheet], await tempDir());
    expect(code).toBe(0);
    expect(stdout).toMatch(/SYNTHETIC: drawn by the lab, not real faces/);
    expect(stdout).toMatch(/Identities:\s+5\n/);
    expect(stdout).toMatch(/Layout:\s+generated: identity = a generated person \(synthetic\)\n/);
    expect(stdout).toMatch(/This time:\s+20 generated, 0 from the cache/);
  });

  test('the summary of the synthetic set says generated, not decoded, and names no folder rule', async () => {
    const dataset = await openDataset('synthetic:3x2', { dataDir: await tempDir(), inputSize: 32 });
    const text = describeDataset(dataset, 32);
    expect(text).toMatch(/This time:\s+6 generated, 0 from the cache/);
    expect(text).not.toMatch(/decoded|folder directly under/);
  });

  test('ordinary mistakes on the command line: one clear line, exit code 1, no stack trace', async () => {
    const folder = await tempDir();
    await makeIdentityFolders(folder, 2, 2);
    const out = await tempDir();
    mkdirSync(join(out, 'a-folder'));
    const [missingSheet, sheetOnFolder, missingOut, badSynthetic, smallInput, hugeInput] = await Promise.all([
      lab(['data', 'inspect', folder, '--input', '32', '--sheet', join(out, 'missing', 'sheet.png')], await tempDir()),
      lab(['data', 'inspect', folder, '--input', '32', '--sheet', join(out, 'a-folder')], await tempDir()),
      lab(['data', 'pairs', folder, '--input', '32', '--folds', '1', '--out', join(out, 'missing', 'pairs.txt')], await tempDir()),
      lab(['data', 'inspect', 'synthetic:1x5', '--input', '32', '--sheet', join(out, 's.png')], await tempDir()),
      lab(['data', 'inspect', folder, '--input', '8'], await tempDir()),
      lab(['data', 'inspect', folder, '--input', '4096'], await tempDir()),
    ]);
    for (const run of [missingSheet, sheetOnFolder, missingOut, badSynthetic, smallInput, hugeInput]) {
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
    expect(missingSheet.stderr).toMatch(/^error: The folder to write this file into does not exist: .*missing\/sheet\.png\. Create the folder/);
    expect(missingSheet.stdout).toMatch(/Identities:\s+2\n/); // the report came first
    expect(sheetOnFolder.stderr).toMatch(/^error: This path is a folder, not a file: .*a-folder\. Give the name of a file/);
    expect(missingOut.stderr).toMatch(/^error: The folder to write this file into does not exist: .*missing\/pairs\.txt/);
    expect(badSynthetic.stderr).toMatch(/^error: The synthetic set "synthetic:1x5" asks for 1 identity; it can have 2 to/);
    expect(smallInput.stderr).toMatch(/--input <px>' argument '8' is invalid\. expected a whole number of pixels from 16 to 512/);
    expect(hugeInput.stderr).toMatch(/argument '4096' is invalid/);
  });

  test('--json gives the report as data', async () => {
    const folder = await tempDir();
    await makeIdentityFolders(folder, 2, 2);
    const { code, stdout } = await lab(['data', 'inspect', folder, '--json', '--input', '32', '--sheet', join(await tempDir(), 's.png')], await tempDir());
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { identities: number; identityNames: string[] };
    expect(report.identities).toBe(2);
    expect(report.identityNames).toEqual(['person1', 'person2']);
  });

  test('pairs writes an LFW-format file that parses back', async () => {
    const folder = await tempDir();
    await makeIdentityFolders(folder, 8, 3);
    const out = join(await tempDir(), 'pairs.txt');
    const { code, stdout } = await lab(['data', 'pairs', folder, '--out', out, '--folds', '4', '--input', '32'], await tempDir());
    expect(code).toBe(0);
    expect(stdout).toMatch(/Wrote .*pairs\.txt: 4 folds/);
    const parsed = parsePairs(readFileSync(out, 'utf8'));
    expect(parsed.folds).toBe(4);
    expect(parsed.pairs.filter((p) => p.matched).length).toBe(parsed.pairs.filter((p) => !p.matched).length);
  });

  test('user errors: one clear line on stderr, exit code 1, no stack trace', async () => {
    const missing = await lab(['data', 'inspect', '/no/such/faces'], await tempDir());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: Nothing exists at this path: \/no\/such\/faces\. Check the spelling/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);

    const badRegex = await lab(['data', 'inspect', '/tmp', '--identity-regex', '^.+_\\d+'], await tempDir());
    expect(badRegex.code).toBe(1);
    expect(badRegex.stderr).toMatch(/must have exactly one capture group/);

    const folder = await tempDir();
    await makeIdentityFolders(folder, 3, 1);
    const pairs = await lab(['data', 'pairs', folder, '--out', join(folder, 'p.txt'), '--folds', '1', '--input', '32'], await tempDir());
    expect(pairs.code).toBe(1);
    expect(pairs.stderr).toMatch(/^error: .*person1.*1 image/);
    expect(existsSync(join(folder, 'p.txt'))).toBe(false);
  });

  test('download shows the terms, needs them accepted, fetches from a mirror, imports, and does not fetch twice', async () => {
    // A local mirror of att_faces.zip: 3 people x 2 PGM faces, as the real archive lays them out.
    const files = [];
    for (let person = 1; person <= 3; person++) {
      for (let k = 1; k <= 2; k++) files.push({ name: `s${person}/${k}.pgm`, data: await makeImage('pgm', person * 10 + k) });
    }
    const zip = makeZip([...files, { name: 'README', data: Buffer.from('ORL faces') }]);
    const requests: string[] = [];
    const server = createServer((request, response) => {
      requests.push(request.url ?? '');
      if (request.url !== '/att_faces.zip') return void response.writeHead(404).end();
      response.writeHead(200, { 'content-length': zip.length, 'content-type': 'application/zip' }).end(zip);
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    const mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dataDir = await tempDir();
    try {
      const refused = await lab(['data', 'download', 'orl', '--mirror', mirror], dataDir);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/Samaria/); // the citation is shown before anything else
      expect(refused.stderr).toMatch(/terms .* were not accepted\. Read them above, then run the command again with --accept-terms/);
      expect(requests).toEqual([]);

      const first = await lab(['data', 'download', 'orl', '--accept-terms', '--mirror', mirror, '--input', '32'], dataDir);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/att_faces\.zip: downloaded from http:\/\/127\.0\.0\.1/);
      expect(first.stdout).toMatch(/Identities:\s+3\n/);
      expect(first.stdout).toMatch(/Images:\s+6 /);
      expect(existsSync(join(dataDir, 'downloads', 'orl', 'att_faces.zip'))).toBe(true);

      const second = await lab(['data', 'download', 'orl', '--accept-terms', '--mirror', mirror, '--input', '32', '--no-import'], dataDir);
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/att_faces\.zip: already downloaded/);
      expect(requests).toEqual(['/att_faces.zip']);
    } finally {
      server.close();
    }
  });
});

describe('names with terminal escape codes', () => {
  // ESC and BEL as sent, the C1 CSI, and the bidi override: none may reach the terminal raw.
  const RAW = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
  const evil = 'evil\x1b]0;pwned\x07\x1b[2J';

  test('file, folder and identity names, and error messages, are printed escaped', async () => {
    const parent = join(await tempDir(), `set${evil}`);
    await makeIdentityFolders(parent, 2, 2);
    mkdirSync(join(parent, evil));
    for (const k of [1, 2]) writeFileSync(join(parent, evil, `${k}.png`), await makeImage('png', 10 + k));
    writeFileSync(join(parent, 'person1', `broken${evil}\u009b2J\u202e.jpg`), 'not an image');
    const sheet = join(await tempDir(), 'sheet.png');
    const [text, json, missing] = await Promise.all([
      lab(['data', 'inspect', parent, '--input', '32', '--sheet', sheet], await tempDir()),
      lab(['data', 'inspect', parent, '--input', '32', '--sheet', sheet, '--json'], await tempDir()),
      lab(['data', 'inspect', join(parent, `missing${evil}`), '--input', '32'], await tempDir()),
    ]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/Identities:\s+3\n/);
    expect(text.stdout).toContain('setevil\\x1B]0;pwned\\x07\\x1B[2J');
    expect(text.stdout).toContain('brokenevil\\x1B]0;pwned\\x07\\x1B[2J\\x9B2J\\u202E.jpg');
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { identityNames: string[]; skipped: { path: string }[] };
    expect(report.identityNames).toContain(evil); // the JSON way: still the same names once parsed
    expect(report.skipped.map((s) => s.path).join()).toContain(`broken${evil}\u009b2J\u202e.jpg`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: .*missingevil\\x1B\]0;pwned\\x07\\x1B\[2J/);
    for (const run of [text, json, missing]) {
      expect(run.stdout).not.toMatch(RAW);
      expect(run.stderr).not.toMatch(RAW);
    }
  });
});

describe('the progress bar', () => {
  /** A terminal that keeps what is written to it. */
  function fakeTerminal(): NodeJS.WriteStream & { text(): string } {
    let written = '';
    const stream = {
      isTTY: true,
      columns: 120,
      write(chunk: string) {
        written += chunk;
        return true;
      },
      on: () => stream,
      removeListener: () => stream,
      text: () => written.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, ''),
    };
    return stream as unknown as NodeJS.WriteStream & { text(): string };
  }

  test('counts without a percentage while the total is unknown, and shows the bar once it is known', () => {
    const terminal = fakeTerminal();
    const bar = progressBar('Importing', 'files', terminal);
    bar.update(3, null, 'decoding');
    expect(terminal.text()).toContain('Importing 3 files | decoding');
    expect(terminal.text()).not.toMatch(/%|\/0/);
    bar.update(5, 10, 'decoding');
    bar.stop();
    expect(terminal.text()).toMatch(/Importing \[.*\] 50% \| 5\/10 files \| decoding/);
  });

  test('a label is escaped; the bar still draws with its own codes', () => {
    const terminal = fakeTerminal();
    const bar = progressBar('Importing', 'files', terminal);
    bar.update(1, 4, 'evil\x1b]0;pwned\x07\x1b[2J');
    bar.stop();
    expect(terminal.text()).toContain('| evil\\x1B]0;pwned\\x07\\x1B[2J');
    expect(terminal.text()).not.toMatch(/[\x07\x1b]/); // text() drops only the bar's own cursor codes
  });
});
