// The trainer as Electron's utility process, and a MessagePort from it to each window that
// asks. main only wires ports: every message between a window and the trainer goes through
// the port directly (DESIGN.md, "Processes").
import { MessageChannelMain, utilityProcess, type MessagePortMain, type UtilityProcess, type WebContents } from 'electron';
import { join } from 'node:path';
import type { GrantMessage } from '#protocol/grants';
import { parseTrainerMessage, type MainToTrainer } from '#protocol/parent-port';
import { CHANNELS } from '../preload/channels';
import { crashText, parseFatalReport, uncaughtErrorText, v8FatalErrorText } from './crash-report';
import { LineTail } from './stderr-tail';

export interface TrainerExit {
  /**
   * The exit code: != 0 for a crash (an uncaught error exits 1). A process ended by
   * `utilityProcess.kill()` may report 0 (on POSIX since Electron #44698/#44749), so 0 does not
   * mean it stopped by itself.
   */
  readonly code: number;
  /**
   * Why it stopped, in words with the way out (its own report of a fatal error, or Electron's
   * V8 fatal-error event), then its last stderr lines (its own, never an earlier process's).
   */
  readonly lastError: string;
  /** The process's id (its welcome message carries the same), so a window can tell whose exit this is. */
  readonly pid: number | null;
}

/** How long to wait, by default, after the process exited, for the rest of its stderr to arrive. */
const STDERR_DRAIN_MS = 500;

/** One trainer process, for whoever answers its requests (the GPU host broker, gpu-host.ts). */
export interface TrainerLink {
  /**
   * Posts to that very process, transferring `transfer`'s ports; false, sending nothing, once it
   * has exited: an answer meant for a trainer that crashed never reaches the one restarted after it.
   */
  post(message: MainToTrainer, transfer?: MessagePortMain[]): boolean;
}

export interface TrainerProcessOptions {
  /** How long to wait after the exit for late stderr (STDERR_DRAIN_MS unless a test says). */
  readonly stderrDrainMs?: number;
  /** Sees each of a trainer's messages first, with a link back to its process; true when it took the message. */
  readonly onMessage?: (message: unknown, from: TrainerLink) => boolean;
  /** A trainer process exited (called at once: its exit report waits for late stderr). */
  readonly onProcessExit?: (gone: TrainerLink) => void;
}

/**
 * Electron removes every listener from the utility process's stderr right after emitting
 * 'exit' (lib/browser/api/utility-process.ts), while its pipe still feeds the stream. Called
 * from the 'exit' listener, this listens again in a microtask, which runs once that removal is
 * done and before the pipe's next chunk, until the stream ends or `drainMs`
 * (STDERR_DRAIN_MS) pass. Best effort: the crash's cause comes over the parent port (crash-report.ts).
 */
function lateStderr(stderr: NodeJS.ReadableStream | null, onData: (chunk: Buffer) => void, drainMs: number): Promise<void> {
  if (!stderr) return Promise.resolve();
  return new Promise((done) => {
    queueMicrotask(() => {
      if ((stderr as { readableEnded?: boolean }).readableEnded) return done();
      const timer = setTimeout(finish, drainMs);
      function finish(): void {
        clearTimeout(timer);
        stderr?.removeListener('data', onData);
        done();
      }
      // Its error listeners went too: an error now must not become an uncaught exception in main.
      stderr.on('error', () => undefined);
      stderr.once('end', finish);
      stderr.once('close', finish);
      if (!stderr.listeners('data').includes(onData)) stderr.on('data', onData);
    });
  });
}

/** Every message to the trainer goes through here, typed by protocol/parent-port.ts. */
function send(child: UtilityProcess, message: MainToTrainer, transfer: MessagePortMain[] = []): void {
  child.postMessage(message, transfer);
}

export class TrainerProcess {
  private child: UtilityProcess | null = null;
  private stopping: { child: UtilityProcess; done: Promise<boolean> } | null = null;

  constructor(
    private readonly onExit: (exit: TrainerExit) => void,
    // The build puts the trainer beside main's bundle (electron.vite.config.ts: out/main/trainer.js).
    private readonly entry: string = join(import.meta.dirname, 'trainer.js'),
    private readonly options: TrainerProcessOptions = {},
  ) {}

  start(): void {
    if (this.child) return;
    // stdout is left to the terminal; stderr is kept (a crash's explanation) and passed on.
    const child = utilityProcess.fork(this.entry, [], { serviceName: 'Face CNN Lab trainer', stdio: ['ignore', 'inherit', 'pipe'] });
    // One tail per process: a restarted trainer never reports its predecessor's output.
    const tail = new LineTail();
    // Why it died, when it could say (its own report) or Electron could (a V8 fatal error).
    let cause: string | null = null;
    // Its pid from 'spawn' on, for its exit report (Electron's `pid` is undefined again once it exits).
    let pid: number | null = child.pid ?? null;
    child.once('spawn', () => {
      pid = child.pid ?? pid;
    });
    const stderr = child.stderr;
    const onData = (chunk: Buffer): void => {
      process.stderr.write(chunk);
      tail.push(chunk.toString());
    };
    stderr?.on('data', onData);
    const link: TrainerLink = {
      post: (message, transfer = []) => {
        if (this.child !== child) return false;
        send(child, message, transfer);
        return true;
      },
    };
    child.on('message', (message: unknown) => {
      try {
        if (this.options.onMessage?.(message, link)) return;
      } catch (error) {
        // A bug in a handler must not become an uncaught exception in main.
        console.error(`Face CNN Lab: handling a message from the trainer failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        return;
      }
      const report = parseFatalReport(message);
      if (report) {
        cause = uncaughtErrorText(report);
        return;
      }
      // The trainer says so when main sent it something it refused (a malformed grant): a bug here.
      const said = parseTrainerMessage(message);
      if (said.ok && said.message.type === 'error') console.error(`Face CNN Lab trainer refused a message from main: ${said.message.message}`);
    });
    // A V8 fatal error: without a listener Electron's 'error' would be an uncaught exception in main.
    child.on('error', (type: string, location: string, report: string) => {
      console.error(`Face CNN Lab trainer: V8 ${type} at ${location}; its diagnostic report:\n${report}`);
      cause = v8FatalErrorText(type, location, report);
    });
    child.once('exit', (code) => {
      if (this.child === child) this.child = null;
      try {
        this.options.onProcessExit?.(link);
      } catch (error) {
        console.error(`Face CNN Lab: handling the trainer's exit failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
      void lateStderr(stderr, onData, this.options.stderrDrainMs ?? STDERR_DRAIN_MS).then(() => this.onExit({ code, lastError: crashText(cause, tail.text()), pid }));
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
    if (this.child) send(this.child, { type: 'connect' }, [port1]);
    contents.postMessage(CHANNELS.port, null, [port2]);
  }

  /**
   * Tells the running trainer about a path the user chose. False when no trainer runs: a
   * grant belongs to one trainer process and is never replayed to a later one.
   */
  grant(message: GrantMessage): boolean {
    if (!this.child) return false;
    send(this.child, message);
    return true;
  }

  /**
   * Asks the trainer to stop its run with a checkpoint and exit. If it has not after `graceMs`
   * (a step of a big model on a slow backend can take that long), kills it: Electron's
   * `utilityProcess.kill()` sends SIGTERM (the trainer exits at once on a signal while stopping)
   * and, on POSIX, SIGKILLs and reaps it 2 s later if it is still there
   * (base::EnsureProcessTerminated; TerminateProcess on Windows). Main never signals the pid
   * itself: that would race Electron's own reaping and could hit a recycled pid. True when the
   * process is gone; false when it has not exited `killWaitMs` after the kill (the caller must
   * exit anyway, or a live trainer would keep the app's single-instance lock). Concurrent calls
   * share one stop.
   */
  stop(graceMs = 15_000, killWaitMs = 5_000): Promise<boolean> {
    const child = this.child;
    if (!child) return Promise.resolve(true);
    if (this.stopping?.child === child) return this.stopping.done;
    const done = this.escalate(child, graceMs, killWaitMs);
    this.stopping = { child, done };
    return done;
  }

  private async escalate(child: UtilityProcess, graceMs: number, killWaitMs: number): Promise<boolean> {
    let exited = false;
    const exit = new Promise<void>((done) => child.once('exit', () => done())).then(() => (exited = true));
    const waitFor = (ms: number): Promise<boolean> => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((done) => (timer = setTimeout(done, ms)));
      return Promise.race([exit, timeout]).then(() => {
        clearTimeout(timer);
        return exited;
      });
    };
    send(child, { type: 'shutdown' });
    if (!(await waitFor(graceMs))) {
      child.kill();
      await waitFor(killWaitMs);
    }
    if (exited && this.child === child) this.child = null;
    return exited;
  }

  get running(): boolean {
    return this.child !== null;
  }
}
