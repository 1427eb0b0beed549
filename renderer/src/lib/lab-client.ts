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
  type ClientMessageInput,
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
} from '#protocol/messages';
import { decodeFrame, readFrameHeader, type DecodedFrame } from '#protocol/frames';

// ---------------------------------------------------------------------------
// Transports

export interface LabTransport {
  send(message: ClientMessageInput): void;
  /** JSON messages arrive parsed; binary frames as ArrayBuffers. */
  onMessage(handler: (data: ServerMessage | ArrayBuffer) => void): void;
  onClose(handler: (reason: string) => void): void;
  close(): void;
}

/** An error with a machine-readable code: a reply's error code, or a connection failure. */
export class LabError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'LabError';
  }
}

/**
 * Messages that arrive before the client attached its handlers are kept, not
 * lost: a trainer sends `welcome` the moment a connection opens.
 */
class Inbox {
  private readonly messageHandlers: Array<(data: ServerMessage | ArrayBuffer) => void> = [];
  private readonly closeHandlers: Array<(reason: string) => void> = [];
  private queue: Array<ServerMessage | ArrayBuffer> = [];
  private closedReason: string | null = null;

  deliver(data: ServerMessage | ArrayBuffer): void {
    if (this.closedReason !== null) return;
    if (this.messageHandlers.length === 0) this.queue.push(data);
    else for (const handler of this.messageHandlers) handler(data);
  }

  close(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    for (const handler of this.closeHandlers) handler(reason);
  }

  onMessage(handler: (data: ServerMessage | ArrayBuffer) => void): void {
    this.messageHandlers.push(handler);
    const queued = this.queue;
    this.queue = [];
    for (const data of queued) handler(data);
  }

  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
    if (this.closedReason !== null) handler(this.closedReason);
  }
}

function isBinary(data: unknown): data is ArrayBuffer | ArrayBufferView {
  return ArrayBuffer.isView(data) || Object.prototype.toString.call(data) === '[object ArrayBuffer]';
}

/** Frames are handed on as whole ArrayBuffers; copy a view (a Node Buffer, say) into one. */
function toArrayBuffer(data: ArrayBuffer | ArrayBufferView): ArrayBuffer {
  if (!ArrayBuffer.isView(data)) return data;
  const copy = new Uint8Array(data.byteLength);
  copy.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return copy.buffer;
}

/** Turns whatever arrived into something the client can dispatch; never throws. */
function incoming(data: unknown): ServerMessage | ArrayBuffer {
  if (isBinary(data)) return toArrayBuffer(data);
  let value = data;
  if (typeof data === 'string') {
    try {
      value = JSON.parse(data);
    } catch (error) {
      return { type: 'error', message: `unreadable message from the trainer: ${(error as Error).message}` };
    }
  }
  if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
    return { type: 'error', message: `unreadable message from the trainer: ${String(data).slice(0, 80)}` };
  }
  return value as ServerMessage;
}

/**
 * What the client needs of a WebSocket; both the browser's and the `ws`
 * package's fit. Event parameters are `any` because the two disagree on the
 * event classes while agreeing on the fields read here (data, code, reason, message).
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /* eslint-disable @typescript-eslint/no-explicit-any */
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  /* eslint-enable @typescript-eslint/no-explicit-any */
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;

/** Hides the serve-mode token when a URL goes into an error message. */
function redact(url: string): string {
  return url.replace(/([?&]token=)[^&]*/, '$1…');
}

function closeText(code: number | undefined, reason: string | undefined, error: string): string {
  if (reason) return `${reason} (code ${code})`;
  if (code === 4401) return 'the trainer refused the token (code 4401)';
  if (code === 4403) return 'the trainer refused this origin (code 4403)';
  if (error) return error;
  // A browser reports a refused upgrade or a dead server only as 1006, without a reason.
  if (code === 1006) return 'the connection failed (code 1006): is the trainer running, and is the address right?';
  return code === undefined ? 'connection closed' : `connection closed (code ${code})`;
}

function closeCode(code: number | undefined): string {
  if (code === 4401) return 'unauthorized';
  if (code === 4403) return 'forbidden';
  return 'connect-failed';
}

/**
 * Opens a WebSocket to the trainer. Resolves once the connection is open and
 * the trainer spoke (its `welcome`, kept for the client): a trainer refusing a
 * token or an origin accepts the socket and then closes it (4401, 4403), so
 * `open` alone proves nothing. Rejects with a LabError carrying the close
 * reason, or when nothing answers within timeoutMs.
 */
export function webSocketTransport(
  url: string,
  WebSocketImpl?: WebSocketConstructor,
  { timeoutMs = 10_000 }: { timeoutMs?: number } = {},
): Promise<LabTransport> {
  const Impl = WebSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Impl) return Promise.reject(new LabError('No WebSocket here: pass an implementation (e.g. the ws package)', 'connect-failed'));
  return new Promise((resolve, reject) => {
    let socket: WebSocketLike;
    try {
      socket = new Impl(url);
    } catch (error) {
      reject(new LabError(`Cannot connect to ${redact(url)}: ${(error as Error).message}`, 'connect-failed'));
      return;
    }
    socket.binaryType = 'arraybuffer';
    const inbox = new Inbox();
    let settled = false;
    let errorText = '';
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.close(1000, 'timed out');
      reject(new LabError(`The trainer at ${redact(url)} did not answer within ${timeoutMs} ms`, 'connect-failed'));
    }, timeoutMs);
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const transport: LabTransport = {
      send(message) {
        if (socket.readyState !== OPEN) throw new LabError('The connection to the trainer is closed', 'closed');
        socket.send(JSON.stringify(message));
      },
      onMessage: (handler) => inbox.onMessage(handler),
      onClose: (handler) => inbox.onClose(handler),
      close() {
        socket.close(1000, 'client closed');
        inbox.close('closed by the client');
      },
    };
    // Browsers say nothing useful in an error event; ws says what failed (ECONNREFUSED...).
    // A close event always follows, and that is where the outcome is decided.
    socket.onerror = (event: { message?: string; error?: { message?: string } } | undefined) => {
      errorText = event?.error?.message ?? event?.message ?? '';
    };
    socket.onclose = (event: { code?: number; reason?: string } | undefined) => {
      const text = closeText(event?.code, event?.reason, errorText);
      inbox.close(text);
      settle(() => reject(new LabError(`Could not connect to the trainer at ${redact(url)}: ${text}`, closeCode(event?.code))));
    };
    socket.onmessage = (event: { data: unknown }) => {
      inbox.deliver(incoming(event.data));
      settle(() => resolve(transport));
    };
  });
}

/** A MessagePort (DOM, Electron's, or node:worker_threads'): only what the client uses. */
export interface MessagePortLike {
  postMessage(message: unknown): void;
  /* eslint-disable @typescript-eslint/no-explicit-any */
  onmessage?: ((event: any) => void) | null;
  addEventListener?(type: string, listener: (event: any) => void): void;
  /* eslint-enable @typescript-eslint/no-explicit-any */
  start?(): void;
  close?(): void;
}

/**
 * A transport over a MessagePort. Messages are structured-cloned objects;
 * frames arrive as (transferred) ArrayBuffers.
 */
export function portTransport(port: MessagePortLike): LabTransport {
  const inbox = new Inbox();
  const onMessage = (event: { data: unknown }) => inbox.deliver(incoming(event.data));
  if (port.addEventListener) {
    port.addEventListener('message', onMessage);
    // Where ports report it (Electron, Node, recent Chromium), the other end going away closes us.
    port.addEventListener('close', () => inbox.close('the trainer closed the port'));
    port.start?.(); // addEventListener, unlike onmessage, does not start a DOM port
  } else {
    port.onmessage = onMessage;
  }
  return {
    send: (message) => port.postMessage(message),
    onMessage: (handler) => inbox.onMessage(handler),
    onClose: (handler) => inbox.onClose(handler),
    close() {
      port.close?.();
      inbox.close('closed by the client');
    },
  };
}

// ---------------------------------------------------------------------------
// The client

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
  start(config: Record<string, unknown>, backend?: CommandInputOf<'start'>['backend']) {
    return this.request({ name: 'start', config, ...(backend ? { backend } : {}) });
  }
  resumeRun(runId: string, options: { overrides?: CommandInputOf<'resumeRun'>['overrides']; backend?: CommandInputOf<'resumeRun'>['backend'] } = {}) {
    const { overrides, backend } = options;
    return this.request({ name: 'resumeRun', runId, ...(overrides ? { overrides } : {}), ...(backend ? { backend } : {}) });
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
        else pending.reject(new LabError(data.error.message, data.error.code));
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

// ---------------------------------------------------------------------------
// Serve mode

/**
 * The trainer serves the page at http://127.0.0.1:PORT/?token=T and accepts the
 * WebSocket at /ws with the same token: derive the one from the other.
 */
export function labSocketUrl(location: { protocol: string; host: string; search: string }): string {
  const token = new URLSearchParams(location.search).get('token');
  if (!token) throw new LabError('The page address has no ?token=: open the exact URL the trainer printed', 'unauthorized');
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws?token=${encodeURIComponent(token)}`;
}

/** Connects a browser page served by `lab serve` to its trainer. */
export async function connectFromLocation(
  location: { protocol: string; host: string; search: string },
  WebSocketImpl?: WebSocketConstructor,
): Promise<LabClient> {
  return new LabClient(await webSocketTransport(labSocketUrl(location), WebSocketImpl));
}

/** The window message the desktop app's preload uses to hand over the trainer's port (electron/preload/api.ts). */
const LAB_PORT_MESSAGE = 'lab:port';

interface PortWindow {
  addEventListener(type: 'message', listener: (event: { source: unknown; data: unknown; ports: readonly MessagePortLike[] }) => void): void;
  removeEventListener(type: 'message', listener: (event: { source: unknown; data: unknown; ports: readonly MessagePortLike[] }) => void): void;
}

/**
 * In the desktop app: asks main for a MessagePort to the trainer (`window.lab.connectTrainer`)
 * and speaks the protocol over it. The port arrives as a window message from the preload.
 */
export function connectInElectron(win: PortWindow & { lab?: { connectTrainer(): void } }, timeoutMs = 10_000): Promise<LabClient> {
  return new Promise((resolve, reject) => {
    if (!win.lab) {
      reject(new LabError('not in the desktop app: there is no window.lab; in a browser use connectFromLocation', 'no-bridge'));
      return;
    }
    const timer = setTimeout(() => {
      win.removeEventListener('message', onMessage);
      reject(new LabError(`the trainer did not answer within ${timeoutMs / 1000} s`, 'timeout'));
    }, timeoutMs);
    const onMessage = (event: { source: unknown; data: unknown; ports: readonly MessagePortLike[] }) => {
      const port = event.ports[0];
      if (event.source !== win || (event.data as { type?: unknown } | null)?.type !== LAB_PORT_MESSAGE || !port) return;
      clearTimeout(timer);
      win.removeEventListener('message', onMessage);
      resolve(new LabClient(portTransport(port)));
    };
    win.addEventListener('message', onMessage);
    win.lab.connectTrainer();
  });
}
