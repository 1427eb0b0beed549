// One dataset import as the Data view follows it: the importDataset request, the
// importProgress events that carry its command id, and how it ended. Made per mount of the
// view; an import outlives the view if the user switches away (its result still reaches
// the session), and a view opened meanwhile shows that import's progress too, since this
// UI runs one import at a time.
import type { DatasetSource, DatasetSummary } from '#protocol/workbench';
import type { TrainerEvent } from '#protocol/messages';
import type { LabSession } from '../../lib/session.svelte';
import type { LabClient } from '#protocol/client/lab-client';

/** An import this view did not start is taken as over after this long without news. */
export const FOREIGN_SILENCE_MS = 10_000;

export type ImportProgressEvent = Extract<TrainerEvent, { type: 'importProgress' }>;

export class ImportTask {
  /** Waiting for this mount's request (the Import button waits too). */
  running = $state(false);
  /** The latest progress of the import under way (ours, or one started before this view opened). */
  progress = $state<ImportProgressEvent | null>(null);
  error = $state('');
  /** The dataset this task imported last, and at which input size. */
  imported = $state<{ data: string; inputSize: number } | null>(null);
  private requestId = -1;
  private destroyed = false;
  private quiet: ReturnType<typeof setTimeout> | undefined;
  private readonly off: () => void;

  constructor(
    private readonly session: LabSession,
    private readonly client: LabClient,
  ) {
    this.off = client.on('event', (event) => {
      if (event.type !== 'importProgress') return;
      if (this.running) {
        if (event.requestId === this.requestId) this.progress = event;
        return;
      }
      // An import this view did not start (it was started before the view opened): shown,
      // not waited for; a failed one sends no 'done', so silence ends it too.
      clearTimeout(this.quiet);
      this.progress = event.phase === 'done' ? null : event;
      if (this.progress) this.quiet = setTimeout(() => (this.progress = null), FOREIGN_SILENCE_MS);
    });
  }

  /** Whether an import is shown as under way (ours, or one started before this view opened). */
  get shown(): boolean {
    return this.running || this.progress !== null;
  }

  /**
   * Imports; on success the dataset becomes the session's, and the config gets its `data`
   * and the settings (`configFor`) a run must open it with to find the same identities.
   */
  async run(source: DatasetSource, inputSize: number, configFor: (summary: DatasetSummary) => Record<string, unknown>): Promise<DatasetSummary | null> {
    this.error = '';
    clearTimeout(this.quiet);
    this.progress = null;
    this.running = true;
    const { id, result } = this.client.requestWithId({ name: 'importDataset', source, inputSize });
    this.requestId = id;
    try {
      const summary = await result;
      this.imported = { data: summary.data, inputSize };
      this.session.chooseDataset(summary);
      this.session.updateConfig({ ...configFor(summary), data: summary.data });
      return summary;
    } catch (error) {
      this.error = (error as Error).message;
      // Nobody sees this view any more: say it where the user is.
      if (this.destroyed) this.session.notify('error', `Import failed: ${this.error}`);
      return null;
    } finally {
      this.running = false;
      this.progress = null;
      this.requestId = -1;
    }
  }

  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.quiet);
    this.off();
  }
}
