// The compute core over a MessagePort (issue 13): the app's trainer (utility process) drives
// a core that runs where Chromium's WebGPU lives (a hidden page), as it drives InProcessCore.
//
//   session side: RemoteCore.create(port, spec)      host side: serveCore(port, InProcessCore.create)
//
// One port carries one core. Requests are { id, method, args } (the first is `create`), replies
// { id, ok: true, value } or { id, ok: false, error: CoreErrorReply }; the host calls the core in
// the order the requests arrive (InProcessCore runs them one at a time). Batches go in, and the
// arrays a core hands out fresh (getState's values, frames) come back, as transferred buffers.
// The ports are the app's own (trusted), so messages are checked for shape only, not validated
// field by field. No Node imports: this file is bundled into the host page too.
import { GpuDeviceError } from '../../../models/webgpu-device';
import { coreErrorReply, errorFromCoreReply, type BatchData, type ComputeCore, type CoreErrorReply, type CoreFactory, type CoreSpec, type CoreState, type EvalReply, type FramesReply, type InspectReply, type InspectRequest, type ModelInfo, type ProbeSettings, type StepReply, type StepRequest } from './compute-core';
import type { MapSubscription } from '../probes/run-probes';

/** What a port carries: the core's calls, and `create`, which makes the core and answers what it trains. */
export type CoreCalls = Omit<ComputeCore, 'model'> & { create(spec: CoreSpec): Promise<ModelInfo> };
export type CoreMethod = keyof CoreCalls;

export interface CoreRequest<M extends CoreMethod = CoreMethod> {
  readonly id: number;
  readonly method: M;
  readonly args: Parameters<CoreCalls[M]>;
}

/** `id: null`: the host could not read a request well enough to know its id. */
export type CoreResponse =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number | null; readonly ok: false; readonly error: CoreErrorReply };

/**
 * The parts of a port used here. Fits the web MessagePort (addEventListener, start), Node's
 * worker_threads MessagePort (it has addEventListener too, giving a MessageEvent) and Electron's
 * MessagePortMain (`on` only; its 'message' listener gets { data, ports }).
 */
// `any` in the listener types: each port family declares its own event type, and all of them must fit.
export interface PortLike {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  addEventListener?(type: string, listener: (event: any) => void): void;
  removeEventListener?(type: string, listener: (event: any) => void): void;
  on?(event: string, listener: (...args: any[]) => void): unknown;
  off?(event: string, listener: (...args: any[]) => void): unknown;
  start?(): void;
  close(): void;
}

const METHODS: ReadonlySet<string> = new Set<CoreMethod>(['create', 'step', 'evaluate', 'inspect', 'setProbeFaces', 'configureProbes', 'subscribe', 'requestCapture', 'frames', 'snapshot', 'getState', 'setState', 'dispose']);
const ERROR_KINDS: ReadonlySet<string> = new Set<CoreErrorReply['kind']>(['gpu-device', 'wasm-heap-full', 'training', 'error']);

// ---------------------------------------------------------------------------
// The port, whichever kind

interface Listeners {
  message(data: unknown): void;
  /** A message arrived that could not be deserialized. */
  unreadable(): void;
  close(): void;
}

/** Listens to `port`; returns what stops listening. */
function listen(port: PortLike, listeners: Listeners): () => void {
  const message = (event: { data?: unknown } | null) => listeners.message(event?.data);
  const unreadable = () => listeners.unreadable();
  const close = () => listeners.close();
  const events = [['message', message], ['messageerror', unreadable], ['close', close]] as const;
  if (typeof port.addEventListener === 'function') {
    for (const [type, listener] of events) port.addEventListener(type, listener);
    port.start?.(); // web ports queue messages until started
    return () => {
      for (const [type, listener] of events) port.removeEventListener?.(type, listener);
    };
  }
  if (typeof port.on === 'function') {
    for (const [type, listener] of events) port.on(type, listener);
    port.start?.(); // so do Electron's
    return () => {
      for (const [type, listener] of events) port.off?.(type, listener);
    };
  }
  throw new TypeError('the compute core\'s port has neither addEventListener nor on');
}

/**
 * How a port's messages carry buffers. `transfer: false` copies them: where either end is
 * Electron's MessagePortMain (the app's trainer, in its utility process), since it sends only
 * ports in a transfer list and, receiving from a page, loses the whole message when its transfer
 * list held an ArrayBuffer (the data arrives as null: electron/electron#34905). A copy of a
 * batch or of a model's weights costs little next to the step that uses it.
 */
export interface PortOptions {
  /** Default true: buffers made fresh for a message move instead of being copied. */
  readonly transfer?: boolean;
}

/**
 * Posts with a transfer list, or copies: when told to (PortOptions), and where the port refuses
 * a transfer (Electron's MessagePortMain throws "Invalid value for transfer", a TypeError), after
 * which every message is copied.
 */
class Sender {
  private transferWorks: boolean;

  constructor(
    private readonly port: PortLike,
    options: PortOptions = {},
  ) {
    this.transferWorks = options.transfer !== false;
  }

  post(message: CoreRequest | CoreResponse, transfer: ArrayBuffer[]): void {
    if (this.transferWorks && transfer.length > 0) {
      try {
        this.port.postMessage(message, transfer);
        return;
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
        this.transferWorks = false;
      }
    }
    this.port.postMessage(message, []);
  }
}

/**
 * The buffers behind `views` that may be transferred: each whole (a view of part of a buffer
 * would take the rest with it), not shared, each once (a duplicate fails the whole post).
 */
function transferable(views: Iterable<ArrayBufferView | ArrayBuffer>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const view of views) {
    const whole = ArrayBuffer.isView(view) ? view.byteOffset === 0 && view.byteLength === view.buffer.byteLength : true;
    const buffer = ArrayBuffer.isView(view) ? view.buffer : view;
    if (whole && Object.prototype.toString.call(buffer) === '[object ArrayBuffer]') out.add(buffer as ArrayBuffer);
  }
  return [...out];
}

const batchTransfer = (batch: BatchData): ArrayBuffer[] => transferable([batch.pixels, batch.labels]);

// ---------------------------------------------------------------------------
// Host side

export interface CoreHost {
  /** Settles once the port has closed and the core is freed (the session went away, or `close`). */
  readonly closed: Promise<void>;
  /** Frees the core and closes the port (the host page is going away). */
  close(): Promise<void>;
}

/**
 * Serves one core on `port`: `create` makes it with `createCore`, every later request calls it.
 * When the port closes (the session side disposed the core, or its process died) the core is freed.
 */
export function serveCore(port: PortLike, createCore: CoreFactory, options: PortOptions = {}): CoreHost {
  const sender = new Sender(port, options);
  let core: Promise<ComputeCore> | null = null;
  let shutdown: Promise<void> | null = null;
  let stop = (): void => {};

  const refuse = (id: number | null, error: unknown): void => {
    try {
      sender.post({ id, ok: false, error: coreErrorReply(error) }, []);
    } catch {
      // the port closed under us: nobody is left to answer
    }
  };
  const answer = (id: number, work: () => Promise<{ value: unknown; transfer: ArrayBuffer[] }>): void => {
    void work().then(({ value, transfer }) => {
      try {
        sender.post({ id, ok: true, value }, transfer);
      } catch (error) {
        refuse(id, error); // a value the port cannot carry: the caller hears why, rather than waiting forever
      }
    }, (error: unknown) => refuse(id, error));
  };

  const handle = (data: unknown): void => {
    const request = readRequest(data);
    if ('problem' in request) return refuse(request.id, new TypeError(request.problem));
    const { id, method, args } = request;
    if (shutdown) return refuse(id, new Error('the compute core\'s host has shut down'));
    if (method === 'create') {
      if (core) return refuse(id, new Error('this port already has a compute core; one port carries one core'));
      const made = Promise.resolve(args[0] as CoreSpec).then(createCore); // a factory that throws at once fails the call too
      core = made;
      made.catch(() => {
        if (core === made) core = null; // a failed create may be tried again
      });
      return answer(id, async () => ({ value: (await made).model, transfer: [] }));
    }
    if (!core) return refuse(id, new Error(`"${method}" before "create": the first request on a compute core's port makes the core`));
    const ready = core;
    // Every request awaits the same promise, so the core is called in the order the requests came.
    answer(id, async () => {
      const target = await ready;
      const value: unknown = await (target[method] as (...a: unknown[]) => Promise<unknown>).apply(target, args as unknown[]);
      return { value, transfer: replyTransfer(method, value) };
    });
  };

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const end = (): Promise<void> => {
    shutdown ??= (async () => {
      stop();
      const made = core;
      core = null;
      if (made) await made.then((c) => c.dispose()).catch(() => {}); // a core that failed to be made holds nothing
      resolveClosed();
    })();
    return shutdown;
  };

  stop = listen(port, { message: handle, unreadable: () => refuse(null, new TypeError('the compute core\'s host received a message it could not deserialize')), close: () => void end() });
  return {
    closed,
    close: async () => {
      try {
        port.close();
      } catch {
        // already closed
      }
      await end();
    },
  };
}

/** The arrays a reply carries that the core made fresh for it, so they move instead of being copied. */
function replyTransfer(method: CoreMethod, value: unknown): ArrayBuffer[] {
  if (method === 'getState') return transferable((value as CoreState).arrays.map((a) => a.values));
  if (method === 'frames') return transferable((value as FramesReply).frames);
  if (method === 'snapshot') return transferable(value as ArrayBuffer[]);
  return [];
}

function readRequest(data: unknown): CoreRequest | { id: number | null; problem: string } {
  if (typeof data !== 'object' || data === null) return { id: null, problem: `a compute core request must be an object, not ${describe(data)}` };
  const { id, method, args } = data as Record<string, unknown>;
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) return { id: null, problem: `a compute core request needs an integer id, not ${describe(id)}` };
  if (typeof method !== 'string' || !METHODS.has(method)) return { id, problem: typeof method === 'string' ? `the compute core has no method ${JSON.stringify(method)}` : `a compute core request needs a method name, not ${describe(method)}` };
  if (!Array.isArray(args)) return { id, problem: `the arguments of "${method}" must be an array, not ${describe(args)}` };
  return { id, method, args } as CoreRequest;
}

// ---------------------------------------------------------------------------
// Session side

interface Pending {
  readonly method: CoreMethod;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** The session's end of a port: numbered calls, their replies, and the port's end. */
class CoreChannel {
  private readonly sender: Sender;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Why no call can be answered any more (the host is gone, or the protocol broke). */
  private failure: ((method: CoreMethod) => Error) | null = null;
  private closedByUs = false;
  /** The host went away (not by dispose): nothing is left on it to free. */
  hostLost = false;
  private readonly stop: () => void;

  constructor(
    private readonly port: PortLike,
    options: PortOptions,
  ) {
    this.sender = new Sender(port, options);
    this.stop = listen(port, {
      message: (data) => this.receive(data),
      unreadable: () => this.fail(() => new Error('the compute core\'s host sent a reply that could not be deserialized; its pending calls are lost')),
      close: () => this.lost('its port closed'),
    });
  }

  call<M extends CoreMethod>(method: M, args: Parameters<CoreCalls[M]>, transfer: ArrayBuffer[] = []): Promise<Awaited<ReturnType<CoreCalls[M]>>> {
    if (this.failure) return Promise.reject(this.failure(method));
    if (this.closedByUs) return Promise.reject(new Error('this compute core has been disposed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { method, resolve: resolve as (value: unknown) => void, reject });
      try {
        this.sender.post({ id, method, args } as CoreRequest, transfer);
      } catch (error) {
        this.pending.delete(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** The host is gone (its port closed, or the app saw its page crash): every call fails, now and later. */
  lost(reason: string): void {
    if (this.closedByUs || this.failure) return;
    this.hostLost = true;
    this.fail((method) => hostLostError(reason, method));
  }

  /** Stops listening and closes the port (after dispose, or a failed create). */
  close(): void {
    if (this.closedByUs) return;
    this.closedByUs = true;
    this.stop();
    try {
      this.port.close();
    } catch {
      // already closed
    }
    this.fail(() => new Error('this compute core has been disposed'));
  }

  private receive(data: unknown): void {
    const reply = readResponse(data);
    if ('problem' in reply) return this.fail(() => new Error(`the compute core's host sent a malformed reply (${reply.problem}); its pending calls are lost`));
    if (reply.id === null) {
      const { message } = (reply as { error: CoreErrorReply }).error;
      return this.fail(() => new Error(`the compute core's host could not read a request (${message}); its pending calls are lost`));
    }
    const call = this.pending.get(reply.id);
    if (!call) return this.fail(() => new Error(`the compute core's host answered call ${reply.id}, which is not pending; its pending calls are lost`));
    this.pending.delete(reply.id);
    if (reply.ok) call.resolve(reply.value);
    else call.reject(errorFromCoreReply(reply.error));
  }

  private fail(why: (method: CoreMethod) => Error): void {
    this.failure ??= why;
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) call.reject(why(call.method));
  }
}

/** What a session hears when the core's host is gone: in the app, the GPU host page crashed or its GPU process died. */
export function hostLostError(reason: string, method: string): GpuDeviceError {
  return new GpuDeviceError(
    `The GPU host that runs this run's compute core is gone (${reason}) at its "${method}". The run keeps its last checkpoint and can be resumed from it (in the app: Resume in Runs, which opens a fresh GPU host), on another backend if the GPU host fails again`,
  );
}

function readResponse(data: unknown): CoreResponse | { problem: string } {
  if (typeof data !== 'object' || data === null) return { problem: `a reply must be an object, not ${describe(data)}` };
  const { id, ok, error } = data as Record<string, unknown>;
  if (ok === true) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id)) return { problem: `a reply needs an integer id, not ${describe(id)}` };
    if (!('value' in data)) return { problem: `reply ${id} has no value` };
    return data as CoreResponse;
  }
  if (ok !== false) return { problem: `a reply's "ok" must be true or false, not ${describe(ok)}` };
  if (id !== null && (typeof id !== 'number' || !Number.isSafeInteger(id))) return { problem: `a reply needs an integer id, not ${describe(id)}` };
  const e = error as Partial<CoreErrorReply> | null | undefined;
  if (typeof e !== 'object' || e === null || typeof e.kind !== 'string' || !ERROR_KINDS.has(e.kind) || typeof e.message !== 'string' || typeof e.name !== 'string') {
    return { problem: `failed reply ${String(id)} carries no error` };
  }
  return data as CoreResponse;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/**
 * A compute core in another context, driven over `port` (its other end given to serveCore).
 * The batches given to step, evaluate, inspect and setProbeFaces are transferred: their pixel and label
 * arrays are empty (detached) once the call is made, so the caller must not read them again
 * (the session never does). States given to setState are copied: a caller may keep one.
 */
export class RemoteCore implements ComputeCore {
  private disposing: Promise<void> | null = null;

  private constructor(
    private readonly channel: CoreChannel,
    readonly model: ModelInfo,
  ) {}

  /** Makes the core on the host at the other end of `port`; the port then belongs to it (dispose closes it). */
  static async create(port: PortLike, spec: CoreSpec, options: PortOptions = {}): Promise<RemoteCore> {
    const channel = new CoreChannel(port, options);
    try {
      return new RemoteCore(channel, await channel.call('create', [spec]));
    } catch (error) {
      channel.close();
      throw error;
    }
  }

  step(request: StepRequest): Promise<StepReply> {
    return this.call('step', [request], batchTransfer(request.batch));
  }

  evaluate(batch: BatchData): Promise<EvalReply> {
    return this.call('evaluate', [batch], batchTransfer(batch));
  }

  inspect(request: InspectRequest): Promise<InspectReply> {
    return this.call('inspect', [request], batchTransfer(request.batch));
  }

  setProbeFaces(batch: BatchData): Promise<void> {
    return this.call('setProbeFaces', [batch], batchTransfer(batch));
  }

  configureProbes(changes: Partial<ProbeSettings>): Promise<ProbeSettings> {
    return this.call('configureProbes', [changes]);
  }

  subscribe(subscription: MapSubscription): Promise<void> {
    return this.call('subscribe', [subscription]);
  }

  requestCapture(): Promise<void> {
    return this.call('requestCapture', []);
  }

  frames(step: number, options: { now?: boolean } = {}): Promise<FramesReply> {
    return this.call('frames', [step, options]);
  }

  snapshot(step: number): Promise<ArrayBuffer[]> {
    return this.call('snapshot', [step]);
  }

  getState(): Promise<CoreState> {
    return this.call('getState', []);
  }

  setState(state: CoreState): Promise<void> {
    return this.call('setState', [state]);
  }

  /** Whether dispose was called (the link to the app's GPU host forgets such cores). */
  get disposed(): boolean {
    return this.disposing !== null;
  }

  /** The app saw the host die (its page crashed, its GPU process was lost): fails the calls in flight and all later ones. */
  lost(reason: string): void {
    this.channel.lost(reason);
  }

  /**
   * Frees the core on the host once the calls made before it have ended, then closes the port;
   * later calls are refused. Nothing to free when the host is gone, so that resolves too.
   */
  dispose(): Promise<void> {
    this.disposing ??= this.channel.call('dispose', []).then(
      () => this.channel.close(),
      (error: unknown) => {
        this.channel.close();
        if (!this.channel.hostLost) throw error;
      },
    );
    return this.disposing;
  }

  private call<M extends Exclude<CoreMethod, 'create'>>(method: M, args: Parameters<CoreCalls[M]>, transfer: ArrayBuffer[] = []): Promise<Awaited<ReturnType<CoreCalls[M]>>> {
    if (this.disposing) return Promise.reject(new Error('this compute core has been disposed'));
    return this.channel.call(method, args, transfer);
  }
}
