// The trainer's end of the app's GPU host (issue 13): in the desktop app the trainer (Electron's
// utility process) cannot run Dawn, so a run on webgpu trains in a hidden page on Chromium's
// WebGPU. This link asks main, over the utility process's parent port, for the page's adapter
// (backend selection's RemoteWebGpu) and for one port per compute core (the session's core
// factory), and fails the cores in flight at once when main says the host is gone.
// Plain Node, no `electron` import: tests drive it with fakes and real MessageChannels.
import type { RemoteWebGpu } from '../../../models/backend';
import type { CoreFactory, CoreSpec } from '../training/compute-core';
import { hostLostError, RemoteCore, type PortLike } from '../training/core-port';
import { readMainGpuMessage, type GpuHostReport, type TrainerGpuRequest } from '#protocol/gpu-host';

/** What a session needs of a GPU host: its adapter for backend selection, and cores on it. */
export interface GpuHost extends RemoteWebGpu {
  readonly createCore: CoreFactory;
}

/** How long to wait for main's answer before giving up: main waits 30 s for the page itself. */
const ANSWER_TIMEOUT_MS = 60_000;

interface Waiting<T> {
  resolve(value: T): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface GpuHostLinkOptions {
  /** Posts a request to main (the utility process's parentPort.postMessage). */
  readonly send: (request: TrainerGpuRequest) => void;
  /** Where a malformed message from main is reported (a bug in main, never the user's doing). */
  readonly log?: (line: string) => void;
  readonly timeoutMs?: number;
}

export class GpuHostLink implements GpuHost {
  readonly where = "the app's GPU host";
  /** How many times main said the host was gone (each time the next probe finds a fresh page). */
  generation = 0;
  private nextId = 1;
  private readonly probes = new Map<number, Waiting<GpuHostReport>>();
  private readonly ports = new Map<number, Waiting<PortLike>>();
  private readonly cores = new Set<RemoteCore>();
  /** Cores being made: each hears a loss as its creation's failure. */
  private readonly creating = new Set<(reason: string) => void>();

  constructor(private readonly options: GpuHostLinkOptions) {}

  /** The page's adapter, or why it cannot train; main opens the page when none is open. */
  probe(): Promise<GpuHostReport> {
    return this.request('gpu-host-probe', this.probes).catch((error: unknown) => ({
      ok: false as const,
      reason: `${this.where} did not answer (${error instanceof Error ? error.message : String(error)})`,
      hint: 'Restart the app; until then train on another backend',
    }));
  }

  /**
   * A compute core on the page, over a port of its own (it is the run's until disposed). Buffers
   * are copied, not transferred, both ways: this end is Electron's MessagePortMain (PortOptions).
   * A host lost while the core is being made fails the making at once, as it fails a core's calls.
   */
  readonly createCore: CoreFactory = async (spec: CoreSpec) => {
    const port = await this.request('gpu-core', this.ports);
    let onLost!: (reason: string) => void;
    const lost = new Promise<never>((_, reject) => (onLost = (reason) => reject(hostLostError(reason, 'create'))));
    this.creating.add(onLost);
    const making = RemoteCore.create(port, spec, { transfer: false });
    try {
      const core = await Promise.race([making, lost]);
      for (const old of this.cores) if (old.disposed) this.cores.delete(old);
      this.cores.add(core);
      return core;
    } catch (error) {
      // Lost first: a core made after all is of no use; the port goes with it.
      void making.then((core) => core.dispose().catch(() => undefined), () => undefined);
      try {
        port.close();
      } catch {
        // already closed
      }
      throw error;
    } finally {
      this.creating.delete(onLost);
    }
  };

  /**
   * Takes a message main sent on the parent port; true when it was the GPU host's (the caller
   * handles the others). A 'gpu-core' answer's port is the first of `ports`.
   */
  receive(data: unknown, ports: readonly PortLike[] | undefined): boolean {
    const message = readMainGpuMessage(data);
    if (message === null) return false;
    if (typeof message === 'string') {
      this.options.log?.(`the trainer ignored a malformed GPU host message from main: ${message}`);
      return true;
    }
    if (message.type === 'gpu-host-lost') {
      this.generation++;
      for (const core of this.cores) core.lost(message.reason);
      this.cores.clear();
      for (const fail of [...this.creating]) fail(message.reason);
      return true;
    }
    if (message.type === 'gpu-host-probe') {
      this.settle(this.probes, message.id, (waiting) => waiting.resolve(message.report));
      return true;
    }
    const port = ports?.[0];
    const taken = this.settle(this.ports, message.id, (waiting) => {
      if (message.error !== undefined) waiting.reject(new Error(message.error));
      else if (port === undefined) waiting.reject(new Error('main answered for a GPU core without a port (a bug in the app: please report it)'));
      else waiting.resolve(port);
    });
    // Nobody waits for this port any more: closing it frees its core's place on the page.
    if (!taken) port?.close();
    return true;
  }

  private request<T>(type: TrainerGpuRequest['type'], waiting: Map<number, Waiting<T>>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = this.options.timeoutMs ?? ANSWER_TIMEOUT_MS;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`main did not answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      waiting.set(id, { resolve, reject, timer });
      try {
        this.options.send({ type, id });
      } catch (error) {
        clearTimeout(timer);
        waiting.delete(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Hands the answer to request `id`; false when it is no longer waited for (it came after the timeout). */
  private settle<T>(waiting: Map<number, Waiting<T>>, id: number, act: (entry: Waiting<T>) => void): boolean {
    const entry = waiting.get(id);
    if (entry === undefined) {
      this.options.log?.(`main answered GPU host request ${id}, which is no longer waited for`);
      return false;
    }
    waiting.delete(id);
    clearTimeout(entry.timer);
    act(entry);
    return true;
  }
}
