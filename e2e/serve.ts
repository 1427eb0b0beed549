// `lab serve` as a user starts it, for the end-to-end test: its own data folder and token,
// any free port on 127.0.0.1, the UI from a given build. Stopped with SIGINT (the server
// checkpoints a running run and closes), then SIGKILL if it has not exited in time.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { repoRoot } from './build';

export interface Serve {
  /** "http://127.0.0.1:PORT/?token=..." as printed. */
  url: string;
  pid: number;
  /** Everything it wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** SIGINT, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface ServeOptions {
  rendererDir: string;
  dataDir: string;
  /** Force a backend (default: the best that trains here). */
  backend?: string;
  startTimeoutMs?: number;
}

export async function startServe(options: ServeOptions): Promise<Serve> {
  const token = randomBytes(18).toString('base64url');
  const args = ['--import', 'tsx', '--import', './e2e/exit-with-parent.mjs', 'electron/trainer/cli/main.ts', 'serve', '--port', '0', '--renderer-dir', options.rendererDir];
  if (options.backend) args.push('--backend', options.backend);
  // node --import tsx, not npx/tsx's own CLI: one process, whose pid is the server's.
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, FACE_CNN_LAB_DATA: options.dataDir, FACE_CNN_LAB_TOKEN: token },
    // The IPC channel is only there so that the server notices when this process is gone (exit-with-parent.mjs).
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (log += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (log += text));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  // Should the test process itself exit first (a crash, an interrupted run), take the server with it.
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const stop = async (graceMs = 20_000): Promise<void> => {
    process.off('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  try {
    const url = await waitForUrl(child, () => log, options.startTimeoutMs ?? 60_000);
    if (!url.includes(`token=${token}`)) throw new Error(`lab serve printed ${url}, which does not carry the token it was given`);
    return { url, pid: child.pid!, output: () => log, stop };
  } catch (error) {
    await stop(2_000);
    throw error;
  }
}

function waitForUrl(child: ChildProcess, log: () => string, timeoutMs: number): Promise<string> {
  return new Promise((done, fail) => {
    const check = () => {
      const match = /^Open: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m.exec(log());
      if (match) finish(() => done(match[1]!));
    };
    const onExit = (code: number | null, signal: string | null) =>
      finish(() => fail(new Error(`lab serve exited (${signal ?? `code ${code}`}) before printing its URL:\n${log()}`)));
    const timer = setTimeout(() => finish(() => fail(new Error(`lab serve printed no "Open: http://127.0.0.1:PORT/?token=..." line in ${timeoutMs} ms:\n${log()}`))), timeoutMs);
    function finish(then: () => void): void {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.off('exit', onExit);
      then();
    }
    child.stdout!.on('data', check);
    child.once('exit', onExit);
    check();
  });
}
