// For component tests: a real LabClient over an in-memory transport whose other end is a
// scripted trainer. Every client message is validated with the protocol's own parser (as
// the real trainer does), commands are answered by handlers the test provides, and the test
// pushes events, progress, layer stats and binary frames as the trainer would. The
// end-to-end tests (e2e/) run the real trainer; these check each view's logic quickly.
import { parseClientMessage, PROTOCOL_VERSION, type ClientMessage, type CommandName, type CommandOf, type CommandResult, type ServerMessage, type TrainerEvent } from '#protocol/messages';
import { LabClient } from '#protocol/client/lab-client';
import type { LabTransport } from '#protocol/client/transport';
import { LabSession } from '../lib/session.svelte';
import type { CheckpointImportView, InterchangeFormat, LabInfo, PathRef } from '#protocol/workbench';
import { CPU_INPUT_SIZE, recipeFor } from '#protocol/train-recipes';

/** getRun and listRuns may answer anything: the views' tests hand them what an older or newer lab, or a damaged run.json, would give. */
type ScriptedResult<N extends CommandName> = N extends 'getRun' | 'listRuns' ? unknown : CommandResult[N];
export type Handlers = { [N in CommandName]?: (command: CommandOf<N>) => ScriptedResult<N> | Promise<ScriptedResult<N>> };

export class ScriptedTrainer {
  readonly received: ClientMessage[] = [];
  readonly client: LabClient;
  private deliver: ((data: ServerMessage | ArrayBuffer) => void) | null = null;
  private closeHandler: ((reason: string) => void) | null = null;
  private readonly early: (ServerMessage | ArrayBuffer)[] = [];

  constructor(
    private readonly handlers: Handlers = {},
    /** The process id its welcome names (a restarted trainer is a new pid). */
    pid = 1,
  ) {
    const transport: LabTransport = {
      send: (message) => void this.receive(message),
      onMessage: (handler) => {
        this.deliver = handler;
        for (const m of this.early.splice(0)) handler(m);
      },
      onClose: (handler) => {
        this.closeHandler = handler;
      },
      close: () => this.closeHandler?.('closed by the client'),
    };
    this.client = new LabClient(transport);
    this.push({ type: 'welcome', protocol: PROTOCOL_VERSION, lab: 'test', pid });
  }

  /** Commands of one name the client sent, in order. */
  commands<N extends CommandName>(name: N): CommandOf<N>[] {
    return this.received.flatMap((m) => (m.type === 'command' && m.command.name === name ? [m.command as CommandOf<N>] : []));
  }

  push(message: ServerMessage | ArrayBuffer): void {
    if (this.deliver) this.deliver(message);
    else this.early.push(message);
  }

  event(event: TrainerEvent): void {
    this.push({ type: 'event', event });
  }

  close(reason: string): void {
    this.closeHandler?.(reason);
  }

  private async receive(raw: unknown): Promise<void> {
    const parsed = parseClientMessage(JSON.parse(JSON.stringify(raw)));
    if (!parsed.ok) throw new Error(`the client sent an invalid message: ${parsed.error}`);
    const message = parsed.message;
    this.received.push(message);
    if (message.type !== 'command') return;
    const handler = this.handlers[message.command.name] as ((command: unknown) => unknown) | undefined;
    try {
      if (!handler) throw Object.assign(new Error(`scripted trainer: no handler for ${message.command.name}`), { code: 'unknown' });
      const result = await handler(message.command);
      this.push({ type: 'reply', id: message.id, ok: true, result: result ?? null });
    } catch (error) {
      const { code, issues } = error as { code?: string; issues?: { field: string; message: string }[] };
      this.push({ type: 'reply', id: message.id, ok: false, error: { message: (error as Error).message, code: code ?? 'failed', ...(issues ? { issues } : {}) } });
    }
  }
}

export const TEST_LAB_INFO: LabInfo = {
  lab: 'test',
  // As a trainer started with --backend cpu reports: its own choice is cpu, though wasm could train too.
  backend: { name: 'cpu', summary: 'training on cpu (test)', canTrain: true },
  backends: [
    { name: 'tensorflow-gpu', canTrain: false, reason: 'not installed: npm install @tensorflow/tfjs-node-gpu' },
    { name: 'webgpu', canTrain: false, reason: 'no GPU adapter found' },
    { name: 'tensorflow', canTrain: false, reason: 'not installed: npm install @tensorflow/tfjs-node' },
    { name: 'wasm', canTrain: true, reason: 'WebAssembly with SIMD, 2 threads' },
    { name: 'cpu', canTrain: true, reason: 'plain JavaScript: slow' },
  ],
  pathInput: 'typed',
  architectures: ['tiny', 'modelA', 'lightcnn9', 'lightcnn29', 'lightcnn29v2'],
  activations: [
    { name: 'relu', example: 'relu', rule: 'zero' },
    { name: 'leaky_relu', example: 'leaky_relu:0.01', rule: 'cannot-die' },
    { name: 'prelu', example: 'prelu', rule: 'cannot-die' },
    { name: 'sigmoid', example: 'sigmoid', rule: 'saturation' },
    { name: 'mfm', example: 'mfm:2/1', rule: 'pieces' },
  ],
  presets: [
    {
      name: 'relu-high-lr',
      title: 'ReLU at a high learning rate',
      claim: 'Filters die.',
      compareWith: ['leaky-high-lr'],
      config: { model: 'tiny', inputSize: 32, activation: 'relu', lr: 0.1 },
    },
  ],
  catalog: [],
  // What the trainer sends on the cpu backend: parseTrainConfig({ data: 'synthetic' }, { backend: 'cpu' }) without data,
  // i.e. 64 px and lightcnn9's recipe.
  defaults: {
    layout: 'auto',
    model: 'lightcnn9',
    width: 1,
    activation: 'mfm:2/1',
    layers: {},
    init: 'pytorch',
    momentum: 0.9,
    weightDecay: 1e-4,
    stepEpochs: 10,
    gamma: 0.457,
    dropout: 0.5,
    holdOut: 0.2,
    seed: 1,
    checkpointEvery: 0,
    maxSteps: 0,
    inputSize: CPU_INPUT_SIZE,
    ...recipeFor('lightcnn9', CPU_INPUT_SIZE).settings,
  },
};

/**
 * Refuses a start or resumeRun that names a backend `info` does not list as one that can
 * train, as the trainer does; `backend` left out is the trainer's own choice.
 */
export function checkBackend(command: { backend?: string }, info: LabInfo = TEST_LAB_INFO): void {
  if (command.backend === undefined) return;
  const option = info.backends.find((b) => b.name === command.backend);
  if (!option?.canTrain) throw Object.assign(new Error(`cannot train on ${command.backend}: ${option?.reason ?? 'not a backend of this trainer'}`), { code: 'bad-backend' });
}

/**
 * A session attached to a scripted trainer that answers labInfo and status, and start and
 * resumeRun as run-1 and the run named (refusing a backend that cannot train); plus the
 * test's handlers, which replace these.
 */
export async function scriptedSession(handlers: Handlers = {}): Promise<{ trainer: ScriptedTrainer; session: LabSession }> {
  const trainer = new ScriptedTrainer({
    labInfo: () => TEST_LAB_INFO,
    status: () => ({ state: null, runId: null, step: null, totalSteps: null }),
    start: (command) => {
      checkBackend(command);
      return { runId: 'run-1' };
    },
    resumeRun: (command) => {
      checkBackend(command);
      return { runId: command.runId };
    },
    ...handlers,
  });
  const session = new LabSession();
  await session.attach(trainer.client);
  return { trainer, session };
}

/**
 * listRuns, getRun, renameRun, setRunNotes and deleteRun over runs kept in memory, as the
 * trainer's run store answers them (issue 14, 4): a name or notes are kept in the run's
 * record and come back in listRuns and getRun; a deleted run leaves the list (its folder
 * "moved" to <dataDir>/trash/); a run in `locked` is refused with the lock's message.
 * `detail` gives getRun's other fields (metrics, warnings) for a run.
 */
export function editableRuns(
  entries: { ok: boolean; id: string; record?: Record<string, unknown> }[],
  options: { detail?: (id: string) => Record<string, unknown>; locked?: ReadonlySet<string>; dataDir?: string } = {},
): Handlers & { entries: typeof entries } {
  const dataDir = options.dataDir ?? '/home/me/.face-cnn-lab';
  const find = (runId: string) => {
    const entry = entries.find((e) => e.id === runId && e.ok);
    if (!entry?.record) throw Object.assign(new Error(`There is no run "${runId}": ${dataDir}/runs. List the runs with \`lab runs\``), { code: 'RunError' });
    if (options.locked?.has(runId)) {
      throw Object.assign(new Error(`Run ${runId} is being trained by process 4242 on this host since 2026-11-26T09:00:00.000Z: stop it first (or wait for it to finish)`), { code: 'RunError' });
    }
    return entry.record;
  };
  return {
    entries,
    listRuns: () => structuredClone(entries),
    getRun: ({ runId }) => ({ ...(options.detail?.(runId) ?? { metrics: [], warnings: [] }), record: structuredClone(entries.find((e) => e.id === runId)?.record) }),
    renameRun: ({ runId, displayName }) => {
      const record = find(runId);
      const name = displayName.trim();
      if (name === '') delete record['displayName'];
      else record['displayName'] = name;
      return { runId, displayName: name === '' ? null : name };
    },
    setRunNotes: ({ runId, notes }) => {
      const record = find(runId);
      if (notes.trim() === '') delete record['notes'];
      else record['notes'] = notes;
      return { runId, notes: notes.trim() === '' ? '' : notes };
    },
    deleteRun: ({ runId }) => {
      find(runId);
      entries.splice(
        entries.findIndex((e) => e.id === runId),
        1,
      );
      const trashedTo = `${dataDir}/trash/${runId}`;
      return { runId, trashedTo, restore: `To restore it, move the folder ${trashedTo} back to ${dataDir}/runs/${runId}` };
    },
  };
}

/** A checkpoint file on the scripted trainer's machine: what importCheckpoint makes of it (less the new run's id). */
export type ScriptedCheckpoint = Omit<CheckpointImportView, 'runId'>;

/** What exportRunFor writes for each format (electron/trainer/interchange/export-run.ts). */
export const EXPORT_FILES: Record<InterchangeFormat, string[]> = {
  pytorch: ['model.pt', 'model.py', 'config.json', 'README.md'],
  onnx: ['model.onnx', 'config.json', 'README.md'],
  torchrun: ['model.py', 'train.py', 'config.json', 'README.md'],
};

/** The key a path reference is known by here: a typed path as typed, a grant by its id. */
function refKey(ref: PathRef): string {
  return ref.kind === 'typed' ? ref.path : ref.grant;
}

/**
 * importCheckpoint and exportRunFor as the trainer answers them (workbench/interchange.ts),
 * over files named by typed path or grant id. The commands arrive parsed by the protocol's own
 * parser (as the trainer gets them: `force` defaulted, a bad format or activation refused before
 * any handler runs). A file not in `checkpoints` is refused as the InterchangeError words it; a
 * model override that is not the file's is refused as a misfit; otherwise the overrides win. Each
 * import is a new run `onRun` hears of (editableRuns' entries can take it); an export into one of
 * `fullFolders` is refused ('exists') unless forced; `folderPaths` gives a grant's folder.
 */
export function checkpointInterchange(options: {
  checkpoints: Record<string, ScriptedCheckpoint>;
  onRun?: (view: CheckpointImportView, command: CommandOf<'importCheckpoint'>) => void;
  fullFolders?: ReadonlySet<string>;
  folderPaths?: Readonly<Record<string, string>>;
}): Handlers {
  let made = 0;
  return {
    importCheckpoint: (command) => {
      const key = refKey(command.source);
      const file = options.checkpoints[key];
      const shown = command.source.kind === 'typed' ? key : `/granted/${key}`;
      if (!file) {
        throw Object.assign(new Error(`the file is not a PyTorch checkpoint (neither torch's zip format nor its legacy one): ${shown}. Check that this is a PyTorch checkpoint written by torch.save`), { code: 'bad-checkpoint' });
      }
      if (command.model !== undefined && command.model !== file.config.model) {
        throw Object.assign(
          new Error(`the checkpoint does not fit the network: it lacks features.0.filter.weight (conv1); it has tensors this network does not: conv1.weight: ${shown}. Check the model and the activation (a maxout or PReLU network has other tensors than MFM) (the import's advanced settings)`),
          { code: 'bad-checkpoint' },
        );
      }
      const config = {
        ...file.config,
        ...(command.activation === undefined ? {} : { activation: command.activation }),
        ...(command.width === undefined ? {} : { width: command.width }),
        ...(command.inputSize === undefined ? {} : { inputSize: command.inputSize }),
      };
      const view: CheckpointImportView = { ...structuredClone(file), config, runId: `2026-12-01T10-00-0${made++}_${config.model}_imported_beef` };
      options.onRun?.(view, command);
      return view;
    },
    exportRunFor: (command) => {
      const key = refKey(command.destination);
      const dir = command.destination.kind === 'typed' ? key : (options.folderPaths?.[key] ?? `/granted/${key}`);
      if (options.fullFolders?.has(key) && !command.force) {
        throw Object.assign(new Error(`The folder ${dir} is not empty: choose an empty folder (the dialog can create one), or tick "Replace files of the same names" to write into it anyway`), { code: 'exists' });
      }
      return { runId: command.runId, format: command.format, dir, files: [...EXPORT_FILES[command.format]], step: 40 };
    },
  };
}
