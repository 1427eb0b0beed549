// The trainer as Electron's utility process, and a MessagePort from it to each window that
// asks. main only wires ports: every message between a window and the trainer goes through
// the port directly (DESIGN.md, "Processes").
import { MessageChannelMain, utilityProcess, type UtilityProcess, type WebContents } from 'electron';
import { join } from 'node:path';
import { CHANNELS } from '../preload/channels';
import type { GrantMessage } from './grants';
import { LineTail } from './stderr-tail';

export interface TrainerExit {
  /** The exit code; != 0 for a crash or a kill. */
  readonly code: number;
  /** The last lines the process wrote to stderr (its own, never an earlier process's). */
  readonly lastError: string;
  /** The process's id (its welcome message carries the same), so a window can tell whose exit this is. */
  readonly pid: number | null;
}

/** How long to wait, after the process exited, for the rest of its stderr to arrive. */
const STDERR_DRAIN_MS = 500;

export class TrainerProcess {
  private child: UtilityProcess | null = null;

  constructor(
    private readonly onExit: (exit: TrainerExit) => void,
    // The build puts the trainer beside main's bundle (electron.vite.config.ts: out/main/trainer.js).
    private readonly entry: string = join(import.meta.dirname, 'trainer.js'),
  ) {}

  start(): void {
    if (this.child) return;
    // stdout is left to the terminal; stderr is kept (a crash's explanation) and passed on.
    const child = utilityProcess.fork(this.entry, [], { serviceName: 'Face CNN Lab trainer', stdio: ['ignore', 'inherit', 'pipe'] });
    // One tail per process: a restarted trainer never reports its predecessor's output.
    const tail = new LineTail();
    let pid: number | null = child.pid ?? null;
    child.once('spawn', () => {
      pid = child.pid ?? pid;
    });
    const stderr = child.stderr;
    stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      tail.push(chunk.toString());
    });
    // Listened for from the start, so the end cannot be missed.
    const drained = new Promise<void>((done) => {
      if (!stderr) return done();
      stderr.once('end', () => done());
      stderr.once('close', () => done());
    });
    child.on('message', (message: unknown) => {
      // The trainer says so when main sent it something it refused (a malformed grant): a bug here.
      const { type, message: text } = (message ?? {}) as { type?: unknown; message?: unknown };
      if (type === 'error') console.error(`Face CNN Lab trainer refused a message from main: ${String(text)}`);
    });
    child.once('exit', (code) => {
      if (this.child === child) this.child = null;
      // Its last words may still be in the pipe when 'exit' comes.
      const timeout = new Promise<void>((done) => setTimeout(done, STDERR_DRAIN_MS).unref());
      void Promise.race([drained, timeout]).then(() => this.onExit({ code, lastError: tail.text(), pid }));
    });
    this.child = child;
  }

  /** Starts the trainer if it is not running (after a crash); a running one is left alone. */
  restart(): void {
    this.start();
  }

  /** A new MessagePort pair: one end to the trainer (a viewer connection there), the other to the window. */
  connect(contents: WebContents): void {
    if (contents.isDestroyed()) return;
    this.start();
    const { port1, port2 } = new MessageChannelMain();
    this.child?.postMessage({ type: 'connect' }, [port1]);
    contents.postMessage(CHANNELS.port, null, [port2]);
  }

  /**
   * Tells the running trainer about a path the user chose. False when no trainer runs: a
   * grant belongs to one trainer process and is never replayed to a later one.
   */
  grant(message: GrantMessage): boolean {
    if (!this.child) return false;
    this.child.postMessage(message);
    return true;
  }

  /**
   * Asks the trainer to stop its run with a checkpoint and exit; kills it if it has not
   * after `graceMs` (a step of a big model on a slow backend can take that long).
   */
  async stop(graceMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.postMessage({ type: 'shutdown' });
    const timer = setTimeout(() => child.kill(), graceMs);
    await exited;
    clearTimeout(timer);
    if (this.child === child) this.child = null;
  }

  get running(): boolean {
    return this.child !== null;
  }
}
