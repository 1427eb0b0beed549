// The GPU host as main runs it (issue 13): a hidden, sandboxed window whose page computes on
// Chromium's WebGPU for the trainer (the trainer's utility process cannot: Dawn's addon breaks
// Electron's V8 memory cage). Main opens the window when the trainer first asks about it,
// passes on what the page found, hands out one MessagePort pair per compute core (one end to
// the page, the other to the trainer), and tells the trainer when the host is gone so its calls
// fail at once with the cause. The message shapes are protocol/gpu-host.ts.
//
// Plain logic, no `electron` import: index.ts passes the Electron pieces in (the window,
// gpu-host-window.ts; MessageChannelMain; the trainer's links, trainer-process.ts), so this is
// tested under Node with fakes.
import { describeAdapter } from '../../models/webgpu-adapter';
import { readHostReport, readTrainerGpuRequest, type GpuHostReport, type MainGpuMessage } from '#protocol/gpu-host';
import type { IpcEventLike } from './lab-ipc';
import { senderAllowed } from './ipc-validation';
import type { AppLocation } from './policy';

/** How long the page may take to start WebGPU and check it (a first shader compile can take seconds). */
export const HOST_START_MS = 30_000;
/** Longest reason kept from the page's 'lost' (protocol/gpu-host.ts keeps texts to 2000 characters too). */
const MAX_REASON = 2000;

/** One trainer process, as trainer-process.ts hands it over with each of its messages. */
export interface TrainerLink<Port> {
  /** Posts to that very process (ports transferred); false, sending nothing, once it has exited. */
  post(message: MainGpuMessage, transfer?: Port[]): boolean;
}

/** What the broker hears from the host window (gpu-host-window.ts wires Electron's events to these). */
export interface HostWindowEvents {
  /** The page's process ended ('render-process-gone'). */
  pageGone(reason: string, exitCode: number): void;
  /** The page did not load ('did-fail-load' of the main frame), in words. */
  loadFailed(description: string): void;
  /** The window was closed or destroyed ('closed'), by the broker itself or by anything else. */
  closed(): void;
}

/** The open host window. */
export interface HostWindow<Sender, Port> {
  /** Its web contents: the only sender whose reports are taken. */
  readonly contents: Sender;
  /** Hands the page one end of a compute core's channel. */
  givePort(port: Port): void;
  /** Destroys the window (and its page, and the page's GPU device); harmless when already gone. */
  destroy(): void;
}

/** The part of a MessagePortMain the broker uses. */
export interface PortLike {
  close(): void;
}

export interface GpuHostBrokerDeps<Sender, Port extends PortLike> {
  readonly location: AppLocation;
  /** Opens a fresh hidden host window, its events going to `events`. */
  openWindow(events: HostWindowEvents): HostWindow<Sender, Port>;
  /** A new channel (MessageChannelMain): port1 to the trainer, port2 to the page. */
  newChannel(): { port1: Port; port2: Port };
  /** main's log: refused and malformed messages, and why a host was dropped. */
  log(line: string): void;
  /** How long the page may take to report (HOST_START_MS unless a test says). */
  readonly startMs?: number;
}

export interface GpuHostBroker<Sender, Port extends PortLike> {
  /**
   * Takes a trainer's message if it is a GPU request ('gpu-host-probe', 'gpu-core'), answering
   * over `from`: true when it was one (malformed ones included, which are logged, not answered).
   */
  trainerMessage(message: unknown, from: TrainerLink<Port>): boolean;
  /** That trainer process exited: nothing more goes to it, and a host nobody uses any more is closed (its GPU memory freed). */
  trainerGone(from: TrainerLink<Port>): void;
  /** The page's report (IPC), taken only from the host window's own page. */
  pageReport(event: IpcEventLike<Sender>, ...args: unknown[]): void;
  /** The page's device was lost (IPC), taken only from the host window's own page. */
  pageLost(event: IpcEventLike<Sender>, ...args: unknown[]): void;
  /** Chromium's GPU process ended (app 'child-process-gone' of type 'GPU'). */
  gpuProcessGone(reason: string, exitCode: number): void;
  /** For quit: closes the host for good; later probes are answered that the app is quitting. */
  close(): void;
  /** The open host window's web contents (null when none is open), for the e2e test and logs. */
  readonly contents: Sender | null;
}

interface Waiting<Port> {
  readonly type: 'gpu-host-probe' | 'gpu-core';
  readonly id: number;
  readonly from: TrainerLink<Port>;
}

type State<Sender, Port> =
  /** No window. `lost` says why the last one went, for a 'gpu-core' asked after that. */
  | { readonly kind: 'none'; readonly lost: string | null }
  | { readonly kind: 'starting'; readonly window: HostWindow<Sender, Port>; readonly waiting: Waiting<Port>[]; readonly timer: ReturnType<typeof setTimeout> }
  /** The page has reported (a usable adapter, or why it has none). */
  | { readonly kind: 'ready'; readonly window: HostWindow<Sender, Port>; readonly report: GpuHostReport }
  /** The page did not start (its window did not open, it failed to load, or it did not report in time): answered until Chromium's GPU process restarts. */
  | { readonly kind: 'failed'; readonly report: GpuHostReport }
  | { readonly kind: 'closed' };

const QUITTING: Extract<GpuHostReport, { ok: false }> = { ok: false, reason: 'the app is quitting', hint: 'the GPU host closes with the app; start the app again to train on the GPU' };

export function createGpuHostBroker<Sender, Port extends PortLike>(deps: GpuHostBrokerDeps<Sender, Port>): GpuHostBroker<Sender, Port> {
  let state: State<Sender, Port> = { kind: 'none', lost: null };
  /** The trainer processes that asked about the current host: they hear when it is gone. */
  const users = new Set<TrainerLink<Port>>();
  const startMs = deps.startMs ?? HOST_START_MS;

  function open(): void {
    let window: HostWindow<Sender, Port> | null = null;
    // Events name their own window: a late event of a window already dropped changes nothing.
    const mine = () => window !== null && 'window' in state && state.window === window;
    const events: HostWindowEvents = {
      pageGone: (reason, exitCode) => {
        if (mine()) lose(`the GPU host page crashed (reason: ${reason}, exit code ${exitCode})`);
      },
      loadFailed: (description) => {
        if (!mine()) return;
        fail({ ok: false, reason: `the GPU host page did not load (${description})`, hint: 'the app is incomplete or damaged: install it again; it trains on the CPU backends meanwhile' });
      },
      closed: () => {
        if (mine()) lose('the GPU host window was closed');
      },
    };
    try {
      window = deps.openWindow(events);
    } catch (error) {
      const report = { ok: false, reason: `the GPU host window did not open (${error instanceof Error ? error.message : String(error)})`, hint: 'the app trains on the CPU backends; start the app again to try the GPU again' } as const;
      deps.log(report.reason);
      state = { kind: 'failed', report };
      return;
    }
    const timer = setTimeout(() => {
      if (!mine()) return;
      fail({
        ok: false,
        reason: `the GPU host page did not start within ${Math.round(startMs / 1000)} s`,
        hint: "Chromium's WebGPU may be stuck on this GPU's driver: the app trains on the CPU backends; quit and start the app again to try the GPU again",
      });
    }, startMs);
    state = { kind: 'starting', window, waiting: [], timer };
  }

  /** Drops the current window (if any) without telling anyone. */
  function drop(): void {
    if (state.kind === 'starting') clearTimeout(state.timer);
    if (state.kind === 'starting' || state.kind === 'ready') {
      const { window } = state;
      // First forget it, so the 'closed' that destroy() emits is not taken for a loss.
      state = { kind: 'none', lost: null };
      window.destroy();
    }
  }

  /** Answers everyone waiting on a starting host, now that `report` says how it went. */
  function settle(waiting: readonly Waiting<Port>[], report: GpuHostReport, window: HostWindow<Sender, Port> | null): void {
    for (const request of waiting) answer(request, report, window);
  }

  function answer(request: Waiting<Port>, report: GpuHostReport, window: HostWindow<Sender, Port> | null): void {
    if (request.type === 'gpu-host-probe') {
      request.from.post({ type: 'gpu-host-probe', id: request.id, report });
      return;
    }
    if (!report.ok || window === null) {
      request.from.post({ type: 'gpu-core', id: request.id, error: refusal(report) });
      return;
    }
    const { port1, port2 } = deps.newChannel();
    window.givePort(port2);
    // A trainer that has exited gets nothing: its end is closed, so the page's end closes too and the page frees the core.
    if (!request.from.post({ type: 'gpu-core', id: request.id }, [port1])) port1.close();
  }

  /** The page did not start: everyone waiting hears why, and later probes get the same answer. */
  function fail(report: Extract<GpuHostReport, { ok: false }>): void {
    if (state.kind !== 'starting') return;
    const { waiting } = state;
    drop();
    deps.log(`${report.reason}; ${report.hint}`);
    state = { kind: 'failed', report };
    settle(waiting, report, null);
  }

  /** The host is gone: its users hear why at once, its window goes, and the next probe opens a fresh one. */
  function lose(reason: string): void {
    if (state.kind !== 'starting' && state.kind !== 'ready') return;
    const waiting = state.kind === 'starting' ? state.waiting : [];
    drop();
    state = { kind: 'none', lost: reason };
    deps.log(`${reason}; a new GPU host opens on the trainer's next request`);
    for (const user of users) user.post({ type: 'gpu-host-lost', reason });
    users.clear();
    settle(waiting, { ok: false, reason, hint: 'start the run again: the app opens a fresh GPU host' }, null);
  }

  function refusal(report: GpuHostReport): string {
    if (report.ok) return 'the GPU host is not open';
    return `the GPU host cannot compute: ${report.reason} (${report.hint})`;
  }

  /** The sending page is the host window's own, in its main frame, showing the app's page. */
  function fromHost(channel: string, event: IpcEventLike<Sender>): HostWindow<Sender, Port> | null {
    const window = 'window' in state ? state.window : null;
    const frame = event.senderFrame;
    const isOurWindow = window !== null && event.sender === window.contents;
    if (isOurWindow && senderAllowed({ isOurWindow, frameUrl: frame?.url ?? null, isMainFrame: frame !== null && frame.parent === null }, deps.location)) return window;
    deps.log(`refused ${channel}: ${isOurWindow ? `sent by a frame at ${frame?.url ?? '(gone)'}` : 'not sent by the GPU host window'}`);
    return null;
  }

  return {
    trainerMessage(message, from) {
      const request = readTrainerGpuRequest(message);
      if (request === null) return false;
      if (typeof request === 'string') {
        // No id to answer to: a bug in the trainer, said in main's log.
        deps.log(`the trainer sent a malformed GPU request: ${request}`);
        return true;
      }
      const waiting: Waiting<Port> = { type: request.type, id: request.id, from };
      switch (state.kind) {
        case 'closed':
          answer(waiting, QUITTING, null);
          return true;
        case 'failed':
          answer(waiting, state.report, null);
          return true;
        case 'ready':
          users.add(from);
          answer(waiting, state.report, state.window);
          return true;
        case 'none':
          if (request.type === 'gpu-core') {
            // A core is asked for after a probe said the host computes: with no host now, that one is gone.
            const error =
              state.lost !== null
                ? `the GPU host is gone (${state.lost}): start the run again, and the app opens a fresh GPU host`
                : 'no GPU host is open: the trainer must probe it before asking for a core (a bug in the trainer)';
            from.post({ type: 'gpu-core', id: request.id, error });
            return true;
          }
          open();
          break;
        case 'starting':
          break;
      }
      // open() has changed the state (TypeScript does not see it): a starting host, or one that could not open.
      const now = state as State<Sender, Port>;
      if (now.kind === 'starting') {
        users.add(from);
        now.waiting.push(waiting);
      } else if (now.kind === 'failed') {
        answer(waiting, now.report, null);
      }
      return true;
    },

    trainerGone(from) {
      users.delete(from);
      if (state.kind === 'starting') {
        const left = state.waiting.filter((request) => request.from !== from);
        state.waiting.length = 0;
        state.waiting.push(...left);
      }
      // A page's cores belong to trainers: with none left, the next trainer gets a fresh device rather than this one's leftovers.
      if (users.size === 0 && (state.kind === 'starting' || state.kind === 'ready')) drop();
    },

    pageReport(event, ...args) {
      const window = fromHost('the GPU host report', event);
      if (window === null) return;
      if (state.kind !== 'starting') {
        deps.log('refused the GPU host report: the page has reported already');
        return;
      }
      let report: GpuHostReport;
      const read = args.length === 1 ? readHostReport(args[0]) : `takes one argument, got ${args.length}`;
      if (typeof read === 'string') {
        deps.log(`the GPU host page sent a malformed report: ${read}`);
        report = { ok: false, reason: `the GPU host page sent a malformed report (${read})`, hint: 'a bug in Face CNN Lab: please report it; the CPU backends still train' };
      } else {
        report = read;
      }
      const { waiting } = state;
      // One line either way: what the trainer will train on is worth a line in main's log.
      deps.log(report.ok ? `WebGPU on ${describeAdapter(report.adapter)}${report.adapter.software ? ` (software: ${report.adapter.software})` : ''}` : `no usable WebGPU: ${report.reason}`);
      if (!report.ok) {
        // A page that cannot compute would hold its renderer and the tfjs bundle for nothing: its
        // window goes, and its answer stands (as for a page that did not start).
        drop();
        state = { kind: 'failed', report };
        settle(waiting, report, null);
        return;
      }
      clearTimeout(state.timer);
      state = { kind: 'ready', window, report };
      settle(waiting, report, window);
    },

    pageLost(event, ...args) {
      if (fromHost('the GPU host loss', event) === null) return;
      const [reason] = args;
      const text = args.length === 1 && typeof reason === 'string' && reason !== '' ? reason.slice(0, MAX_REASON) : 'the GPU host lost its device (it did not say why)';
      lose(text);
    },

    gpuProcessGone(reason, exitCode) {
      // Any device the page had is lost with it; a host that failed to start may start now.
      if (state.kind === 'failed') state = { kind: 'none', lost: null };
      lose(`Chromium's GPU process ended (reason: ${reason}, exit code ${exitCode})`);
    },

    close() {
      if (state.kind === 'closed') return;
      const waiting = state.kind === 'starting' ? state.waiting : [];
      const open = state.kind === 'starting' || state.kind === 'ready';
      drop();
      state = { kind: 'closed' };
      if (open) for (const user of users) user.post({ type: 'gpu-host-lost', reason: QUITTING.reason });
      users.clear();
      settle(waiting, QUITTING, null);
    },

    get contents() {
      return 'window' in state ? state.window.contents : null;
    },
  };
}
