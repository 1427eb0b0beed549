// The renderer's one way to talk to the trainer. The same typed client runs
// over a MessagePort (the desktop app: main hands the renderer a port to the
// trainer) and over a WebSocket (serve mode, in an ordinary browser).
//
// Flow control: the trainer keeps at most one un-acknowledged streamed message
// per channel ('progress', 'layerStats', 'histograms', 'frame:<layer>',
// 'frame:<layer>:pre', 'full'). While one is outstanding it replaces what it would
// have sent on that channel (frames, layer stats, histograms: only the newest
// matters; the histories live in metrics.jsonl) or accumulates it
// (progress items: every step is kept). The client acknowledges a message right
// after handing it to its listeners, so a slow viewer gets fewer frames, never a
// growing queue, and training never waits for it.
import {
  PROTOCOL_VERSION,
  type CommandInput,
  type CommandInputOf,
  type CommandName,
  type CommandResult,
  type HistogramsMessage,
  type LayerStatsMessage,
  type ProgressMessage,
  type ServerMessage,
  type TrainerEvent,
  type WelcomeMessage,
} from '../messages';
import { decodeFrame, readFrameHeader, type DecodedFrame } from '../frames';
import { LabError } from './lab-error';
import { isBinary, type LabTransport } from './transport';

export interface LabClientEvents {
  /** Streamed: training steps since the last progress message. */
  progress: ProgressMessage;
  /** Streamed: the latest layer health. */
  layerStats: LayerStatsMessage;
  /** Streamed: every layer's weight and activation histograms, and the first layer's filters. */
  histograms: HistogramsMessage;
  /** Streamed: one decoded activation frame. */
  frame: DecodedFrame;
  event: TrainerEvent;
  welcome: WelcomeMessage;
  /** The trainer could not understand us, or we could not understand it. */
  error: string;
  /** The connection is gone; every pending request has been rejected. */
  close: string;
}
export type LabClientEventName = keyof LabClientEvents;

export interface SubscribeOptions {
  preActivation?: string[];
  fullMap?: { layer: string; filter: number; probe: number; kind?: 'activation' | 'preactivation' } | null;
}

interface Pending {
  name: CommandName;
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
}

export class LabClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners: { [K in LabClientEventName]: Set<(payload: LabClientEvents[K]) => void> } = {
    progress: new Set(),
    layerStats: new Set(),
    histograms: new Set(),
    frame: new Set(),
    event: new Set(),
    welcome: new Set(),
    error: new Set(),
    close: new Set(),
  };
  /** The trainer's welcome, once it arrived. */
  welcome: WelcomeMessage | null = null;
  /** Why the connection closed, or null while open. */
  closedReason: string | null = null;

  constructor(private readonly transport: LabTransport) {
    transport.onMessage((data) => this.dispatch(data));
    transport.onClose((reason) => this.shutdown(reason));
  }

  /** Listens for one kind of message; returns the function that stops listening. */
  on<K extends LabClientEventName>(kind: K, handler: (payload: LabClientEvents[K]) => void): () => void {
    const set = this.listeners[kind] as Set<(payload: LabClientEvents[K]) => void>;
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Resolves with the trainer's welcome (at once if it already came); rejects if the connection closes first. */
  welcomed(): Promise<WelcomeMessage> {
    if (this.welcome) return Promise.resolve(this.welcome);
    if (this.closedReason !== null) return Promise.reject(new LabError(`The connection to the trainer closed: ${this.closedReason}`, 'closed'));
    return new Promise((resolve, reject) => {
      const offWelcome = this.on('welcome', (welcome) => {
        offWelcome();
        offClose();
        resolve(welcome);
      });
      const offClose = this.on('close', (reason) => {
        offWelcome();
        offClose();
        reject(new LabError(`The connection to the trainer closed: ${reason}`, 'closed'));
      });
    });
  }

  /**
   * Sends one command and resolves with its result. Rejects with a LabError
   * carrying the trainer's error code on an `ok: false` reply, or code 'closed'
   * when the connection goes away first.
   */
  request<N extends CommandName>(command: { name: N } & CommandInputOf<N>): Promise<CommandResult[N]> {
    return this.requestWithId<N>(command).result;
  }

  /**
   * As `request`, also giving the command's id: the `requestId` that events about this
   * request carry (importProgress, evaluateProgress). The id is -1 when nothing was sent
   * (the connection had closed; `result` then rejects).
   */
  requestWithId<N extends CommandName>(command: { name: N } & CommandInputOf<N>): { id: number; result: Promise<CommandResult[N]> } {
    const name = command.name;
    if (this.closedReason !== null) {
      return { id: -1, result: Promise.reject(new LabError(`Cannot send ${name}: the connection to the trainer closed (${this.closedReason})`, 'closed')) };
    }
    const id = this.nextId++;
    const result = new Promise<CommandResult[N]>((resolve, reject) => {
      this.pending.set(id, { name, resolve: resolve as (result: unknown) => void, reject });
      try {
        this.transport.send({ type: 'command', id, command: command as CommandInput });
      } catch (error) {
        this.pending.delete(id);
        reject(error instanceof LabError ? error : new LabError(`Cannot send ${name}: ${(error as Error).message}`, 'send-failed'));
      }
    });
    return { id, result };
  }

  /** `backend` left out: the trainer's automatic choice (older trainers know no other). */
  start(config: CommandInputOf<'start'>['config'], backend?: CommandInputOf<'start'>['backend']) {
    return this.request({ name: 'start', config, ...(backend ? { backend } : {}) });
  }
  resumeRun(runId: string, options: { overrides?: CommandInputOf<'resumeRun'>['overrides']; backend?: CommandInputOf<'resumeRun'>['backend'] } = {}) {
    const { overrides, backend } = options;
    return this.request({ name: 'resumeRun', runId, ...(overrides ? { overrides } : {}), ...(backend ? { backend } : {}) });
  }
  /** Looks inside a run with a dataset (one pass in inference mode); watch it as training, in the run's events and streams. */
  inspectRun(runId: string, data: CommandInputOf<'inspectRun'>['data'], options: { backend?: CommandInputOf<'inspectRun'>['backend'] } = {}) {
    return this.request({ name: 'inspectRun', runId, data, ...(options.backend ? { backend: options.backend } : {}) });
  }
  pause() {
    return this.request({ name: 'pause' });
  }
  resume() {
    return this.request({ name: 'resume' });
  }
  stop() {
    return this.request({ name: 'stop' });
  }
  /** Replaces this viewer's subscription: only these layers' maps are computed and sent. */
  subscribe(layers: string[], options: SubscribeOptions = {}) {
    return this.request({
      name: 'subscribe',
      layers,
      preActivation: options.preActivation ?? [],
      fullMap: options.fullMap ?? null,
    });
  }
  /** Dataset image indices of the probe faces, or null for the default probes. */
  setProbes(images: number[] | null) {
    return this.request({ name: 'setProbes', images });
  }
  setProbeRate(intervalMs: number) {
    return this.request({ name: 'setProbeRate', intervalMs });
  }
  probeNow() {
    return this.request({ name: 'probeNow' });
  }
  setStatsWindow(steps: number) {
    return this.request({ name: 'setStatsWindow', steps });
  }
  getRun(runId: string) {
    return this.request({ name: 'getRun', runId });
  }
  listRuns() {
    return this.request({ name: 'listRuns' });
  }
  status() {
    return this.request({ name: 'status' });
  }

  close(): void {
    if (this.closedReason !== null) return;
    this.transport.close();
    this.shutdown('closed by the client');
  }

  private emit<K extends LabClientEventName>(kind: K, payload: LabClientEvents[K]): void {
    for (const handler of [...this.listeners[kind]] as Array<(payload: LabClientEvents[K]) => void>) {
      try {
        handler(payload);
      } catch (error) {
        // One broken view must not starve the others or stall the channel's ack: report it later.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  private ack(channel: string): void {
    if (this.closedReason !== null) return;
    try {
      this.transport.send({ type: 'ack', channel });
    } catch {
      // The connection is going away; its close handler tells the listeners.
    }
  }

  private dispatch(data: ServerMessage | ArrayBuffer): void {
    if (isBinary(data)) {
      this.dispatchFrame(data);
      return;
    }
    switch (data.type) {
      case 'welcome':
        this.welcome = data;
        if (data.protocol !== PROTOCOL_VERSION) {
          this.emit('error', `The trainer speaks protocol ${data.protocol}, this viewer ${PROTOCOL_VERSION}: update the older one`);
        }
        this.emit('welcome', data);
        break;
      case 'reply': {
        const pending = this.pending.get(data.id);
        if (!pending) {
          this.emit('error', `The trainer replied to request ${data.id}, which is not pending`);
          break;
        }
        this.pending.delete(data.id);
        if (data.ok) pending.resolve(data.result);
        else pending.reject(new LabError(data.error.message, data.error.code, data.error.issues));
        break;
      }
      case 'error':
        this.emit('error', data.message);
        break;
      case 'event':
        this.emit('event', data.event);
        break;
      case 'progress':
        this.emit('progress', data);
        this.ack(data.channel);
        break;
      case 'layerStats':
        this.emit('layerStats', data);
        this.ack(data.channel);
        break;
      case 'histograms':
        this.emit('histograms', data);
        this.ack(data.channel);
        break;
      default:
        this.emit('error', `Unknown message type from the trainer: ${String((data as { type?: unknown }).type)}`);
    }
  }

  private dispatchFrame(buffer: ArrayBuffer): void {
    let frame: DecodedFrame;
    try {
      frame = decodeFrame(buffer);
    } catch (error) {
      this.emit('error', `Unreadable activation frame: ${(error as Error).message}`);
      // Still ack when the channel is legible, or that channel would stay silent for good.
      try {
        this.ack(readFrameHeader(buffer).header.channel);
      } catch {
        // Not even the header: nothing to ack.
      }
      return;
    }
    this.emit('frame', frame);
    this.ack(frame.header.channel);
  }

  private shutdown(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const request of pending) {
      request.reject(new LabError(`The connection to the trainer closed before it answered ${request.name}: ${reason}`, 'closed'));
    }
    this.emit('close', reason);
  }
}
