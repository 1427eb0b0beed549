// The crash banner's words (crash-report.ts): a system error the user can fix (a full disk, a
// refused permission, too many open files) is named with its own way out, not called a bug;
// running out of memory says a new run, since a resumed one keeps its batch size.
import { expect, test } from 'vitest';
import { parseFatalReport, uncaughtErrorText, v8FatalErrorText } from '../crash-report';

const stack = (code: string, path: string) => `Error: ${code}: something went wrong, open '${path}'\n    at writeCheckpoint (trainer.js:1:2)`;

function bannerFor(code: string, path?: string): string {
  const report = parseFatalReport({ type: 'fatal', kind: 'unhandledRejection', message: stack(code, path ?? '?'), code, path });
  expect(report).not.toBeNull();
  return uncaughtErrorText(report!);
}

test('a full disk (ENOSPC) says to free space in the data folder, not that it is a bug', () => {
  const text = bannerFor('ENOSPC', '/home/u/.local/share/face-cnn-lab/runs/r1/checkpoint.bin');
  expect(text).toMatch(/^The trainer stopped because the disk is full \(ENOSPC\) while writing \(\/home\/u\/\.local\/share\/face-cnn-lab\/runs\/r1\/checkpoint\.bin\)\./);
  expect(text).toContain("Free space on the disk that holds the lab's data folder");
  expect(text).not.toContain('a bug in the trainer');
  expect(text).toContain(stack('ENOSPC', '/home/u/.local/share/face-cnn-lab/runs/r1/checkpoint.bin'));
});

test.each(['EACCES', 'EPERM'])('a refused permission (%s) names the path whose permissions to check', (code) => {
  const text = bannerFor(code, '/data/lfw/runs');
  expect(text).toMatch(new RegExp(`^The trainer stopped because it was not allowed to use /data/lfw/runs \\(${code}\\)\\.`));
  expect(text).toContain('Check the permissions on /data/lfw/runs');
  expect(text).not.toContain('a bug in the trainer');
});

test('a refused permission without a path still says what to check', () => {
  const text = bannerFor('EACCES');
  expect(text).toContain('not allowed to use a file or folder (EACCES)');
  expect(text).toContain("Check the permissions on the lab's data folder");
});

test.each(['EMFILE', 'ENFILE'])('too many open files (%s) says to close programs or raise the limit', (code) => {
  const text = bannerFor(code, '/data/lfw/a/1.jpg');
  expect(text).toMatch(new RegExp(`^The trainer stopped because too many files were open \\(${code}\\)\\.`));
  expect(text).toContain('raise the open-file limit');
  expect(text).not.toContain('a bug in the trainer');
});

test('any other error, with a code or without, is still reported as a bug with its lines', () => {
  for (const code of ['ENOENT', undefined]) {
    const report = parseFatalReport({ type: 'fatal', kind: 'uncaughtException', message: 'TypeError: x is undefined', code });
    const text = uncaughtErrorText(report!);
    expect(text).toMatch(/^The trainer stopped on an error it did not handle: a bug in the trainer, not in your data\./);
    expect(text).toContain('TypeError: x is undefined');
  }
});

test('a code or path that is not one is dropped, and a long path is cut', () => {
  expect(parseFatalReport({ type: 'fatal', message: 'm', code: 'ENOSPC; rm -rf', path: 42 })).toEqual({ kind: 'uncaughtException', message: 'm' });
  expect(parseFatalReport({ type: 'fatal', message: 'm', code: 'ENOSPC', path: 'p'.repeat(5_000) })?.path).toHaveLength(1_001);
});

test('out of memory: a new run with a smaller batch size, since a resumed run keeps its batch size', () => {
  const report = JSON.stringify({ header: { event: 'Allocation failed - JavaScript heap out of memory' } });
  const text = v8FatalErrorText('FatalError', 'Reached heap limit', report);
  expect(text).toContain('start a new run with a smaller batch size or model (a resumed run keeps its batch size)');
  expect(text).not.toMatch(/resume the run with a smaller/i);
});
