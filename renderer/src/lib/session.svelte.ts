// The app-wide state every view reads: the connection to the trainer, what the trainer can
// do (labInfo), the dataset chosen in the Data view, the config the Experiment view edits,
// and the current run's state. One object passed down as a prop, changed only through its
// methods, so who changes what stays visible (DESIGN.md: no module-level mutable state).
// The live streams of a run (progress, layer stats, frames) are kept apart, in live-run.svelte.ts.
import type { LabInfo, DatasetSummary } from '#protocol/workbench';
import type { InspectionInfo, LayerInfo, RunState, TrainerEvent } from '#protocol/messages';
import { adapterDevice, backendNameIn, canTrainOn, listedBackends, type BackendName } from './backends';
import type { LabClient } from '#protocol/client/lab-client';
import { LabError } from '#protocol/client/lab-error';
import { LiveRun } from './live-run.svelte';

export type ViewName = 'data' | 'experiment' | 'train' | 'runs' | 'evaluate';
export const VIEWS: readonly { name: ViewName; title: string }[] = [
  { name: 'data', title: 'Data' },
  { name: 'experiment', title: 'Experiment' },
  { name: 'train', title: 'Train' },
  { name: 'runs', title: 'Runs' },
  { name: 'evaluate', title: 'Evaluate' },
];

export type ConnectionState = { kind: 'connecting' } | { kind: 'open' } | { kind: 'closed'; reason: string } | { kind: 'crashed'; code: number; lastError: string };

export interface Notice {
  id: number;
  level: 'warning' | 'error' | 'info';
  text: string;
}

export class LabSession {
  view = $state<ViewName>('data');
  connection = $state<ConnectionState>({ kind: 'connecting' });
  info = $state<LabInfo | null>(null);
  /** The dataset the Data view opened; its `data` goes into the training config. */
  dataset = $state<DatasetSummary | null>(null);
  /**
   * The settings the user chose in the Experiment view (without `data`): only those. What is
   * left out the trainer decides when the run starts (the input size from its backend, the
   * optimisation settings from the model's recipe), and the view shows the same choice, so a
   * field nobody set follows the model and input size.
   */
  config = $state<Record<string, unknown>>({});
  /**
   * The backend the user picked for new runs and resumes (Experiment view, Runs view); null:
   * the trainer's automatic choice (labInfo.backend). Kept here so it outlives the views.
   */
  backendChoice = $state<BackendName | null>(null);
  /**
   * The current or last run in this trainer. `backend` is the trainer's one-line summary;
   * `backendName` and `adapter` (webgpu) come from newer trainers' started events.
   */
  run = $state<{
    runId: string | null;
    state: RunState | null;
    backend: string | null;
    backendName: string | null;
    adapter: string | null;
    step: number;
    totalSteps: number;
    resumed: boolean;
    /** Set while (and after) an inspection pass, not training: its dataset, images and batches (totalSteps are its batches). */
    inspection: InspectionInfo | null;
  }>({
    runId: null,
    state: null,
    backend: null,
    backendName: null,
    adapter: null,
    step: 0,
    totalSteps: 0,
    resumed: false,
    inspection: null,
  });
  layers = $state<LayerInfo[]>([]);
  probes = $state<{ images: number[]; labels: string[]; intervalMs: number }>({ images: [], labels: [], intervalMs: 250 });
  /** The run chosen in the Runs view for the Evaluate view. */
  evaluateRunId = $state<string | null>(null);
  notices = $state<Notice[]>([]);
  /**
   * The run's streams (progress, layer stats, maps), one per connection: the session owns
   * it so the numbers outlive the Train tab, which comes and goes.
   */
  live = $state.raw<LiveRun | null>(null);
  private nextNotice = 1;
  private client: LabClient | null = null;
  /** The trainer process this session talks to (from its welcome): a crash report names its pid. */
  private trainerPid: number | null = null;
  private detach: (() => void)[] = [];

  /** The connected client; views call the trainer through it. Throws when there is none. */
  get lab(): LabClient {
    if (!this.client) throw new LabError('not connected to the trainer', 'closed');
    return this.client;
  }

  get connected(): boolean {
    return this.connection.kind === 'open' && this.client !== null;
  }

  /** Takes a freshly connected client: greets, loads labInfo and follows the run's events. */
  async attach(client: LabClient): Promise<void> {
    for (const off of this.detach) off();
    this.live?.dispose();
    // The previous connection, if still open, would stay a viewer of the trainer.
    if (this.client !== client) this.client?.close();
    this.client = client;
    // Listening before the greeting: a trainer mid-run sends its catch-up events at once.
    const live = new LiveRun(client);
    this.live = live;
    this.detach = [
      client.on('event', (event) => this.onEvent(event)),
      client.on('close', (reason) => {
        if (this.connection.kind !== 'crashed') this.connection = { kind: 'closed', reason };
      }),
      client.on('error', (message) => this.notify('error', message)),
    ];
    const welcome = await client.welcomed();
    const newTrainer = this.trainerPid !== null && welcome.pid !== this.trainerPid;
    this.trainerPid = welcome.pid;
    this.connection = { kind: 'open' };
    const info = await client.request({ name: 'labInfo' });
    this.info = info;
    // A backend picked for another trainer (or before a restart) may not train here: say so
    // rather than start the next run somewhere the user did not choose. (A trainer that lists
    // none now, mid-run, gives no choice yet: the pick waits for its list.)
    if (this.backendChoice !== null && listedBackends(info) !== null && !canTrainOn(info, this.backendChoice)) {
      this.notify('warning', `This trainer cannot train on ${this.backendChoice}: new runs use its automatic choice (${info.backend.name}) until you pick another backend in Experiment.`);
      this.backendChoice = null;
    }
    // In the desktop app a dataset is known to the trainer process that opened it (through a
    // dialog); a restarted trainer does not know it, so the window must not pretend it does.
    if (newTrainer && info.pathInput === 'dialog' && this.dataset && !this.dataset.synthetic) {
      this.notify('warning', `The trainer restarted: open ${this.dataset.label} again in the Data view before training on it.`);
      this.dataset = null;
      const { data: _data, ...rest } = this.config;
      this.config = rest;
    }
    const status = await client.status();
    if (status.runId) {
      this.run = { ...this.run, runId: status.runId, state: status.state, step: status.step ?? 0, totalSteps: status.totalSteps ?? 0 };
      // Joining a run under way (a reloaded page, a second viewer): its earlier steps come from
      // the run's metrics file (once per run; the catch-up 'started' event may already have
      // named the run), and a page that has just opened shows it training.
      void live.backfill(status.runId);
      const underWay = status.state === 'running' || status.state === 'paused';
      if (underWay && this.view === 'data' && this.dataset === null) this.view = 'train';
    }
  }

  /**
   * The trainer process died (desktop app): say so with its last words. An exit of another
   * process than the one this session talks to (an earlier trainer's late report) is ignored.
   */
  crashed(code: number, lastError: string, pid: number | null = null): void {
    if (pid !== null && this.trainerPid !== null && pid !== this.trainerPid) return;
    this.connection = { kind: 'crashed', code, lastError };
    if (this.run.state === 'running' || this.run.state === 'paused') this.run = { ...this.run, state: 'failed' };
  }

  go(view: ViewName): void {
    this.view = view;
  }

  /** The run the Evaluate view opens (null: let it pick the newest). */
  chooseEvaluateRun(runId: string | null): void {
    this.evaluateRunId = runId;
  }

  chooseDataset(dataset: DatasetSummary): void {
    this.dataset = dataset;
  }

  /** The backend new runs and resumes name; null for the trainer's automatic choice. */
  chooseBackend(name: BackendName | null): void {
    this.backendChoice = name;
  }

  /**
   * What a start or resumeRun command names as its `backend`: the picked one, when this
   * trainer lists it as one that can train; undefined lets the trainer choose.
   */
  get backendToName(): BackendName | undefined {
    return this.backendChoice !== null && canTrainOn(this.info, this.backendChoice) ? this.backendChoice : undefined;
  }

  /** Merges settings into the config being edited (a preset, a field). */
  updateConfig(patch: Record<string, unknown>): void {
    this.config = { ...this.config, ...patch };
  }

  notify(level: Notice['level'], text: string): void {
    this.notices = [...this.notices.slice(-4), { id: this.nextNotice++, level, text }];
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  /** "Face CNN Lab · run X (state) · backend [on device]": the window title follows it. */
  get title(): string {
    const parts = ['Face CNN Lab'];
    if (this.run.runId) parts.push(`${this.run.runId}${this.run.state ? ` (${this.run.state})` : ''}`);
    // The run's backend line is a sentence ("training on wasm (WebAssembly ...): ..."): its
    // name is enough here, which older trainers send only inside that sentence.
    const name = this.run.backendName ?? (this.run.backend ? (backendNameIn(this.run.backend) ?? this.run.backend) : null);
    if (name) parts.push(this.run.adapter ? `${name} on ${adapterDevice(this.run.adapter)}` : name);
    else if (this.info) parts.push(this.info.backend.name);
    return parts.join(' · ');
  }

  /** labInfo again (the backend list, once a run no longer trains); a failure keeps the answer there is. */
  private async refreshInfo(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      const info = await client.request({ name: 'labInfo' });
      if (this.client === client) this.info = info;
    } catch {
      // The old answer stays: the backend choice waits for the next connection.
    }
  }

  private onEvent(event: TrainerEvent): void {
    switch (event.type) {
      case 'started':
        this.run = {
          runId: event.runId,
          state: 'running',
          backend: event.backend,
          backendName: event.backendName ?? null,
          adapter: event.adapter ?? null,
          step: event.step,
          totalSteps: event.totalSteps,
          resumed: event.resumed,
          inspection: event.inspection ?? null,
        };
        return;
      case 'state':
        this.run = { ...this.run, state: event.state, ...(event.runId ? { runId: event.runId } : {}) };
        if (event.state === 'failed' && event.message) this.notify('error', event.message);
        // A trainer asked mid-run lists no backends (it checks them only when none trains): ask again once the run is over.
        // After a failure always: a lost GPU (host) changes what can train, and the app's trainer checks again.
        if (event.state === 'failed' || ((event.state === 'stopped' || event.state === 'finished') && this.info?.backends?.length === 0)) void this.refreshInfo();
        return;
      case 'layers':
        this.layers = event.layers;
        return;
      case 'probes':
        this.probes = { images: event.images, labels: event.labels, intervalMs: event.intervalMs };
        return;
      case 'warning':
        this.notify('warning', event.message);
        return;
      default:
        return;
    }
  }
}
