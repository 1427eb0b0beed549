// The headless lab run as a user runs it (`npm run lab -- ...`), for the command-line tests:
// a child process on tsx, its data folder given, its exit code and both outputs returned.
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '../../../..');

export interface LabResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `lab <args>` with FACE_CNN_LAB_DATA=`dataDir`; `userCwd` is where the user typed it (INIT_CWD, for relative paths). */
export function lab(args: string[], dataDir: string, userCwd = ''): Promise<LabResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'electron/trainer/cli/main.ts'), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, FACE_CNN_LAB_DATA: dataDir, INIT_CWD: userCwd }, encoding: 'utf8' },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
