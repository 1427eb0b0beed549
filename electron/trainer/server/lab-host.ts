// The trainer's core: the one place that owns the training session and talks to every
// viewer, whatever the transport (Electron MessagePort, WebSocket, child-process IPC).
//
// Commands from a viewer are validated here (protocol/messages.ts) and answered with a
// reply of the same id. The run's events fan out to every viewer. Streamed messages use
// per-viewer flow control (viewer-streams.ts): training never waits for a viewer, and a
// slow one costs a bounded amount of memory. Which run is training, starting or kept after
// its end is session-owner.ts's; this file dispatches the commands and fans out the events.
import type { BackendName } from '../../../models/backend';
import type { GpuHost } from '../gpu-host/host-link';
import { resolve } from 'node:path';
import { readFrameHeader } from '#protocol/frames';
import type { PathRef } from '#protocol/workbench';
import {
  parseClientMessage,
  PROTOCOL_VERSION,
  type Command,
  type CommandOf,
  type LayerStats,
  type ProgressItem,
  type RunStatus,
  type ServerMessage,
  type Subscription,
  type TrainerEvent,
} from '#protocol/messages';
import { listRuns, openRun } from '../runs/run-store';
import { resumeCheck } from './workbench/run-resume';
import { ConfigError, type TrainConfigInput } from '../training/config';
import { TrainingSession, type TrainEvent } from '../training/session';
import { fullChannel, type MapSubscription } from '../probes/run-probes';
import { LAB_VERSION } from '#protocol/version';
import { isInvalidMessage, type Connection } from './connection';
import { SessionOwner, type LabSession } from './session-owner';
import { InspectionSession, type InspectionData } from '../inspection/inspection-session';
import { ViewerStreams } from './viewer-streams';
import { isSyntheticSpec } from '../../../datasets/synthetic-dataset';
import { Grants } from './grants';
import { CommandError, isWorkbenchCommand, runWorkbenchCommand, type WorkbenchContext } from './workbench';

export { MAX_PENDING_HISTOGRAMS, MAX_PENDING_PROGRESS } from './viewer-streams';

export interface LabHostOptions {
  readonly dataDir: string;
  readonly backend?: BackendName;
  /** The desktop app's GPU host (webgpu in a hidden page); absent in serve mode and tests. */
  readonly gpuHost?: GpuHost;
  /** Prefetched batches (0 = in-thread). */
  readonly prefetch?: number;
  /** Where the host reports what happened to it (a failed run, a viewer gone). */
  readonly log?: (line: string) => void;
}

interface Viewer {
  readonly connection: Connection;
  /** 'dialog': this viewer names files only through grants (a desktop window); 'typed': serve mode. */
  readonly pathInput: 'dialog' | 'typed';
  subscription: Subscription;
  readonly streams: ViewerStreams;
}

const EMPTY_SUBSCRIPTION: Subscription = { layers: [], preActivation: [], fullMap: null };


export class LabHost {
  private readonly viewers = new Map<string, Viewer>();
  /**
   * The run training now, and the last one after it ended: a viewer who picks another layer,
   * pre-activation, a filter or a probe face gets the maps of its final weights (issue 14, 2.1).
   */
  private readonly runs: SessionOwner<LabSession>;
  private status: RunStatus = { state: null, runId: null, step: null, totalSteps: null };
  /** Settings a viewer chose that outlive one run. */
  private probeIntervalMs: number | undefined;
  private statsWindow: number | undefined;
  private saturationThreshold: number | undefined;
  private probeImages: number[] | null = null;
  /** Events a viewer that connects mid-run needs to catch up (the last of each kind). */
  private readonly latest = new Map<string, TrainerEvent>();
  /** Paths main granted after native dialogs. */
  readonly grants = new Grants();
  /** Datasets opened in this trainer: a dialog-only viewer may train on these (and on synthetic data) only. */
  private readonly knownData = new Set<string>();

  constructor(private readonly options: LabHostOptions) {
    this.runs = new SessionOwner(options.log);
  }

  /** A viewer connected: greet it and serve its commands until it goes. */
  addConnection(connection: Connection, options: { pathInput?: 'dialog' | 'typed' } = {}): void {
    const viewer: Viewer = { connection, pathInput: options.pathInput ?? 'typed', subscription: EMPTY_SUBSCRIPTION, streams: new ViewerStreams(connection) };
    this.viewers.set(connection.id, viewer);
    connection.onMessage((raw) => void this.receive(viewer, raw));
    connection.onClose(() => {
      this.viewers.delete(connection.id);
      void this.updateSubscriptions().catch((error: unknown) => this.options.log?.(`the subscriptions could not be updated: ${error instanceof Error ? error.message : String(error)}`));
    });
    connection.sendJson({ type: 'welcome', protocol: PROTOCOL_VERSION, lab: LAB_VERSION, pid: process.pid });
    // Catching up: the run as it began, then where it is now.
    const order: TrainerEvent['type'][] = ['started', 'layers', 'probes', 'epoch', 'state'];
    for (const type of order) {
      const event = this.latest.get(type);
      if (event) connection.sendJson({ type: 'event', event });
    }
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Resolves when the current run (if any) has ended. */
  async idle(): Promise<void> {
    await this.runs.training;
  }

  /** Stops the run (checkpointed, resumable) and waits for it; says which run it stopped, and where. */
  async close(): Promise<{ runId: string; step: number } | null> {
    const session = this.runs.current;
    session?.stop();
    const outcome = await this.runs.training;
    this.runs.releaseEnded();
    for (const viewer of this.viewers.values()) viewer.connection.close(1001, 'the trainer is shutting down');
    return session !== null && outcome ? { runId: outcome.runId, step: outcome.step } : null;
  }

  private async receive(viewer: Viewer, raw: unknown): Promise<void> {
    if (isInvalidMessage(raw)) {
      viewer.connection.sendJson({ type: 'error', message: raw.__invalid });
      return;
    }
    const parsed = parseClientMessage(raw);
    if (!parsed.ok) {
      if (parsed.id !== undefined) viewer.connection.sendJson({ type: 'reply', id: parsed.id, ok: false, error: { message: parsed.error, code: 'invalid' } });
      else viewer.connection.sendJson({ type: 'error', message: parsed.error });
      return;
    }
    const message = parsed.message;
    if (message.type === 'ack') {
      viewer.streams.acked(message.channel);
      return;
    }
    try {
      const result = await this.run(viewer, message.command, message.id);
      viewer.connection.sendJson({ type: 'reply', id: message.id, ok: true, result: result ?? null });
    } catch (error) {
      const code = error instanceof CommandError ? error.code : error instanceof Error && error.name !== 'Error' ? error.name : 'failed';
      // A refused training config names its problems by field, for a viewer to show beside each.
      const issues = error instanceof CommandError || error instanceof ConfigError ? error.issues : [];
      viewer.connection.sendJson({ type: 'reply', id: message.id, ok: false, error: { message: error instanceof Error ? error.message : String(error), code, ...(issues.length > 0 ? { issues } : {}) } });
    }
  }

  private async run(viewer: Viewer, command: Command, requestId: number): Promise<unknown> {
    if (isWorkbenchCommand(command)) return runWorkbenchCommand(command, this.workbenchContext(viewer, requestId));
    switch (command.name) {
      case 'start':
        this.checkDataAllowed(viewer, command.config['data']);
        return this.start(() => TrainingSession.start(command.config as TrainConfigInput, { ...this.sessionOptions(command.backend), ...this.eventsOf() }));
      case 'resumeRun':
        return this.start(() => TrainingSession.resume(command.runId, { ...this.sessionOptions(command.backend), ...this.eventsOf(), overrides: command.overrides ?? {} }));
      case 'inspectRun': {
        // Like a start: refused while a run trains (one session owns the lab), then streamed as training is.
        const data = inspectionData(command.data, (ref) => this.grants.resolve(ref, 'read', viewer.pathInput));
        const { probes: { window: _window, ...probes }, ...options } = this.sessionOptions(command.backend);
        return this.start(() => InspectionSession.open(command.runId, { ...options, probes, ...this.eventsOf(), data }));
      }
      case 'pause':
        this.runs.need('pause').pause();
        return { ...this.status, state: 'paused' };
      case 'resume':
        this.runs.need('resume').resume();
        return { ...this.status, state: 'running' };
      case 'stop':
        this.runs.need('stop').stop();
        await this.runs.training;
        return this.status;
      case 'subscribe': {
        const { name: _name, ...subscription } = command;
        // This viewer's request alone is checked: another viewer's stale request must not make it fail.
        const problem = this.viewable?.subscriptionProblem(toMapSubscription(subscription));
        if (problem) throw new CommandError(problem, 'bad-subscription');
        viewer.subscription = subscription;
        await this.updateSubscriptions();
        return subscription;
      }
      case 'setProbes': {
        this.probeImages = command.images;
        const session = this.viewable;
        if (session) {
          try {
            await session.setProbeImages(command.images);
          } catch (error) {
            throw new CommandError((error as Error).message, 'bad-probe');
          }
          await this.updateSubscriptions(); // full-size requests for probes that are gone are dropped
        }
        return this.latest.get('probes') ?? { images: command.images ?? [], labels: [], intervalMs: this.probeIntervalMs };
      }
      case 'setProbeRate':
        this.probeIntervalMs = command.intervalMs;
        await this.runs.current?.setProbeInterval(command.intervalMs);
        return { intervalMs: command.intervalMs };
      case 'probeNow': {
        // An ended run's maps are of its final weights: probing them again is allowed, and answered at once.
        const session = this.viewable;
        if (!session) throw new CommandError('nothing to probe: no run is training; start one or resume a stopped one', 'no-run');
        await session.probeNow();
        return null;
      }
      case 'setStatsWindow':
        this.statsWindow = command.steps;
        await this.runs.current?.configureProbes({ statsWindow: command.steps });
        return { steps: command.steps };
      case 'setSaturationThreshold':
        this.saturationThreshold = command.fraction;
        await this.runs.current?.configureProbes({ saturationThreshold: command.fraction });
        return { fraction: command.fraction };
      case 'getRun': {
        const run = await openRun(this.options.dataDir, command.runId);
        const { rows, warnings } = await run.readMetrics();
        // Checked on its checkpoints (one verified, newest first), not trusted from run.json.
        const resume = await resumeCheck(run.dir, run.record.state);
        return { record: run.record, metrics: rows, warnings, ...(resume === null ? {} : { resume }) };
      }
      case 'listRuns':
        return (await listRuns(this.options.dataDir)).map((info) => (info.ok ? { ok: true, id: info.id, record: info.record, interrupted: info.interrupted } : { ok: false, id: info.id, reason: info.reason }));
      case 'status': {
        const { rss, heapUsed, arrayBuffers } = process.memoryUsage();
        return { ...this.status, viewers: this.viewers.size, memory: { rss, heapUsed, arrayBuffers } };
      }
    }
  }

  private workbenchContext(viewer: Viewer, requestId: number): WorkbenchContext {
    return {
      dataDir: this.options.dataDir,
      ...(this.options.backend ? { backend: this.options.backend } : {}),
      ...(this.options.gpuHost ? { gpuHost: this.options.gpuHost } : {}),
      pathInput: viewer.pathInput,
      requestId,
      training: this.runs.busy,
      // Progress belongs to the viewer that asked: request ids are per connection, so another
      // viewer could take it for its own request's.
      emit: (event) => viewer.connection.sendJson({ type: 'event', event }),
      resolvePath: (ref, purpose) => this.grants.resolve(ref, purpose, viewer.pathInput),
      rememberDataset: (data) => this.knownData.add(data),
      mayUseDataset: (data) => this.mayUseDataset(viewer, data),
    };
  }

  /** The one rule for which datasets a viewer may name: any in serve mode; in a desktop window synthetic ones and those opened through its dialogs. */
  private mayUseDataset(viewer: Viewer, data: string): boolean {
    return viewer.pathInput === 'typed' || isSyntheticSpec(data) || this.knownData.has(data);
  }

  /** A desktop window cannot name a dataset path in a start config: only datasets it imported through a dialog, or synthetic ones. */
  private checkDataAllowed(viewer: Viewer, data: unknown): void {
    if (typeof data !== 'string' || this.mayUseDataset(viewer, data)) return;
    throw new CommandError('Choose the dataset in the Data view first (the app only trains on datasets opened there)', 'bad-path');
  }

  /** The run whose maps viewers can ask for: the one training, else the last one ended in this host. */
  private get viewable(): LabSession | null {
    return this.runs.viewable;
  }

  /** A run's options; `backend`: the one its start or resume command named (else the host's own). */
  private sessionOptions(backend?: BackendName) {
    const chosen = backend ?? this.options.backend;
    return {
      dataDir: this.options.dataDir,
      ...(chosen ? { backend: chosen } : {}),
      ...(this.options.gpuHost ? { gpuHost: this.options.gpuHost } : {}),
      prefetch: this.options.prefetch ?? 2,
      probes: {
        ...(this.probeIntervalMs ? { intervalMs: this.probeIntervalMs } : {}),
        ...(this.statsWindow ? { window: this.statsWindow } : {}),
        ...(this.saturationThreshold ? { saturationThreshold: this.saturationThreshold } : {}),
      },
    };
  }

  /** Events of one session, labelled with that session's run (not whatever the host runs later). */
  private eventsOf(): { onEvent: (event: TrainEvent) => void } {
    let runId: string | null = null;
    return {
      onEvent: (event) => {
        if (event.type === 'started') runId = event.runId;
        this.broadcast(event, runId);
      },
    };
  }

  /** Starts a run (unless one is training or starting); the viewers' probe faces and subscriptions carry over when they fit it. */
  private async start(open: () => Promise<LabSession>): Promise<{ runId: string }> {
    const session = await this.runs.start(open, async (session) => {
      this.latest.clear();
      this.status = { state: 'running', runId: session.run.id, step: null, totalSteps: session.totalSteps };
      try {
        if (this.probeImages) await session.setProbeImages(this.probeImages);
        await this.updateSubscriptions();
      } catch (error) {
        // Probe faces or layers from the previous run that this one does not have: fall back to the defaults.
        this.probeImages = null;
        for (const viewer of this.viewers.values()) viewer.subscription = EMPTY_SUBSCRIPTION;
        this.broadcast({ type: 'warning', message: `the previous probe faces do not fit this run (${(error as Error).message}); using the defaults` }, session.run.id);
        await session.setProbeImages(null);
      }
    });
    return { runId: session.run.id };
  }

  /**
   * The union of every viewer's subscription goes to the session: nothing is captured for
   * layers nobody watches. Requests that no longer fit the run (a layer it does not have, a
   * probe that was removed) are left out rather than failing everyone's.
   */
  private async updateSubscriptions(): Promise<void> {
    const session = this.viewable;
    if (!session) return;
    const layers = new Set<string>();
    const preActivation = new Set<string>();
    const fullMaps: NonNullable<MapSubscription['fullMaps']>[number][] = [];
    for (const { subscription } of this.viewers.values()) {
      const fits = (layer: string) => session.model.activationLayers.includes(layer);
      for (const l of subscription.layers) if (fits(l)) layers.add(l);
      for (const l of subscription.preActivation) if (fits(l)) preActivation.add(l);
      const full = subscription.fullMap;
      if (full && !session.subscriptionProblem({ layers: new Set(), preActivation: new Set(), fullMaps: [full] })) fullMaps.push(full);
    }
    await session.subscribe({ layers, preActivation, fullMaps });
  }

  private broadcast(event: TrainEvent, runId: string | null): void {
    switch (event.type) {
      case 'progress': {
        const { type: _type, ...item } = event;
        this.status = { ...this.status, step: event.step };
        for (const viewer of this.viewers.values()) viewer.streams.stream('progress', { kind: 'json', message: { type: 'progress', channel: 'progress', items: [item as ProgressItem] } });
        return;
      }
      case 'layerStats': {
        const message: ServerMessage = { type: 'layerStats', channel: 'layerStats', step: event.step, epoch: event.epoch, window: event.window, layers: event.layers as LayerStats[] };
        for (const viewer of this.viewers.values()) viewer.streams.stream('layerStats', { kind: 'json', message });
        return;
      }
      case 'histograms': {
        const message: ServerMessage = { type: 'histograms', channel: 'histograms', items: [{ step: event.step, epoch: event.epoch, layers: event.layers, filters: event.filters }] };
        for (const viewer of this.viewers.values()) viewer.streams.stream('histograms', { kind: 'json', message });
        return;
      }
      case 'frames':
        for (const frame of event.frames) this.sendFrame(frame);
        return;
      default: {
        const out = toProtocolEvent(event, runId);
        if (event.type === 'started') this.status = { state: 'running', runId: event.runId, step: event.step, totalSteps: event.totalSteps };
        if (event.type === 'state') this.status = { ...this.status, state: event.state };
        if (out.type !== 'warning' && out.type !== 'checkpoint') this.latest.set(out.type, out);
        for (const viewer of this.viewers.values()) viewer.connection.sendJson({ type: 'event', event: out });
      }
    }
  }

  /** A frame goes only to the viewers that watch it; each gets its own copy (a port transfers, i.e. detaches, what it sends). */
  private sendFrame(frame: ArrayBuffer): void {
    const { header } = readFrameHeader(frame);
    const wanting = [...this.viewers.values()].filter(({ subscription: s }) => {
      if (header.channel.startsWith('full')) return header.channel === fullChannel(s.fullMap);
      return header.kind === 'activation' ? s.layers.includes(header.layer) : s.preActivation.includes(header.layer);
    });
    wanting.forEach((viewer, i) => viewer.streams.stream(header.channel, { kind: 'binary', frame: i === wanting.length - 1 ? frame : frame.slice(0) }));
  }
}

/** The dataset an inspectRun names, as the pass opens it: a path resolved as evaluateRun's data is (a grant, or typed in serve mode), or the synthetic set. */
function inspectionData(source: CommandOf<'inspectRun'>['data'], resolvePath: (ref: PathRef) => string): InspectionData {
  if (source.kind === 'synthetic') return { spec: `synthetic:${source.identities}x${source.imagesPerIdentity}` };
  return { spec: resolve(resolvePath(source.path)), layout: source.layout, ...(source.identityRegex === undefined ? {} : { identityRegex: source.identityRegex }) };
}

/** A viewer's full-size map request as the session understands it. */
function toMapSubscription(s: Subscription): MapSubscription {
  return { layers: new Set(s.layers), preActivation: new Set(s.preActivation), fullMaps: s.fullMap ? [s.fullMap] : [] };
}

/** The session's events in the protocol's shape (NaN and Infinity as null, as JSON would). */
function toProtocolEvent(event: Exclude<TrainEvent, { type: 'progress' | 'layerStats' | 'histograms' | 'frames' }>, runId: string | null): TrainerEvent {
  const finite = (n: number) => (Number.isFinite(n) ? n : null);
  switch (event.type) {
    case 'epoch':
      return { ...event, trainLoss: finite(event.trainLoss), trainAccuracy: finite(event.trainAccuracy), valLoss: finite(event.valLoss), valAccuracy: finite(event.valAccuracy) };
    case 'state':
      return { ...event, ...(runId ? { runId } : {}) };
    default:
      return event;
  }
}
