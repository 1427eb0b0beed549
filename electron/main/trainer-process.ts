// The trainer as Electron's utility process, and a MessagePort from it to each window that
// asks. main only wires ports: every message between a window and the trainer goes through
// the port directly (DESIGN.md, "Processes").
import { MessageChannelMain, utilityProcess, type UtilityProcess, type WebContents } from 'electron';
import { join } from 'node:path';

export class TrainerProcess {
  private child: UtilityProcess | null = null;
  private lastError = '';

  constructor(private readonly onExit: (code: number, lastError: string) => void) {}

  start(): void {
    if (this.child) return;
    // The build puts the trainer beside main's bundle (electron.vite.config.ts: out/main/trainer.js).
    const child = utilityProcess.fork(join(import.meta.dirname, 'trainer.js'), [], { serviceName: 'Face CNN Lab trainer', stdio: 'pipe' });
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString().trim();
      if (text) this.lastError = text.split('\n').slice(-3).join('\n');
    });
    child.on('exit', (code) => {
      this.child = null;
      this.onExit(code, this.lastError);
    });
    this.child = child;
  }

  /** A new MessagePort pair: one end to the trainer (a viewer connection there), the other to the window. */
  connect(contents: WebContents): void {
    this.start();
    const { port1, port2 } = new MessageChannelMain();
    this.child?.postMessage({ type: 'connect' }, [port1]);
    contents.postMessage('lab:port', null, [port2]);
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
    this.child = null;
  }

  get running(): boolean {
    return this.child !== null;
  }
}
