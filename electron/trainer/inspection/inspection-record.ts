// What an inspection pass keeps in the run's folder, so it can be seen again (the caller holds
// the run's lock): a 'layers' row and a 'histograms' row in metrics.jsonl at the checkpoint's
// step, both marked `inspection` (protocol/metrics-rows.ts), and the probe faces' maps as
// snapshots/step-N.fclf. Training's own snapshot of that step is never replaced (its probe
// faces are of the training data): an earlier inspection's is. run.json and the checkpoints
// are not touched.
import type { InspectionMark } from '#protocol/metrics-rows';
import type { LayerStats } from '#protocol/messages';
import { readSnapshotHeader, SNAPSHOTS_DIR, snapshotFileName, writeSnapshot } from '../probes/snapshots';
import type { StepHistograms } from '../probes/run-probes';
import type { LatestCheckpoint, RunHandle } from '../runs/run-store';
import { join } from 'node:path';

/** Where a pass was kept, relative to the run's folder. */
export interface SavedInspection {
  readonly metrics: string;
  /** Null when training's own snapshot of that step was kept instead, or the maps could not be made. */
  readonly snapshot: string | null;
}

export interface InspectionRecord {
  readonly checkpoint: Pick<LatestCheckpoint, 'step' | 'epoch'>;
  readonly mark: InspectionMark;
  /** The pass's batches: what its dead counts were taken over. */
  readonly window: number;
  readonly layers: readonly LayerStats[];
  /** The last histograms of the pass (its last batch's activations), if any were taken. */
  readonly histograms: StepHistograms | null;
  /** The probe faces' frames of every activation layer, and which faces they are. */
  readonly snapshot: () => Promise<{ frames: ArrayBuffer[]; probes: number[]; probeLabels: string[] }>;
}

/** Writes the pass into the run; a snapshot that cannot be written is a warning (the rows are the record). */
export async function recordInspection(run: RunHandle, record: InspectionRecord): Promise<{ saved: SavedInspection; warnings: string[] }> {
  const { step, epoch } = record.checkpoint;
  const inspection = record.mark;
  const rows: ({ step: number; epoch: number } & Record<string, unknown>)[] = [{ kind: 'layers', step, epoch, window: record.window, layers: record.layers, inspection }];
  if (record.histograms) {
    const { layers, filters } = record.histograms;
    rows.push({ kind: 'histograms', step, epoch, layers, ...(filters ? { filters } : {}), inspection });
  }
  await run.appendMetrics(rows);
  await run.flushMetrics();
  const warnings: string[] = [];
  let snapshot: string | null = null;
  try {
    if (await trainingSnapshotAt(run.dir, step)) {
      warnings.push(`the activation maps were not saved as a snapshot: step ${step} already has training's (kept; its probe faces are of the training data)`);
    } else {
      const { frames, probes, probeLabels } = await record.snapshot();
      snapshot = (await writeSnapshot(run.dir, { step, epoch, probes, probeLabels, capturedAt: Date.now(), inspection }, frames)).file;
    }
  } catch (error) {
    warnings.push(`the activation maps of the pass were not saved as a snapshot (${error instanceof Error ? error.message : String(error)}); its numbers were`);
  }
  return { saved: { metrics: 'metrics.jsonl', snapshot }, warnings };
}

/** Whether snapshots/step-N.fclf exists and training (not an inspection) took it; an unreadable one counts as training's, so it is left alone. */
async function trainingSnapshotAt(runDir: string, step: number): Promise<boolean> {
  try {
    const header = await readSnapshotHeader(join(runDir, SNAPSHOTS_DIR, snapshotFileName(step)));
    return header.inspection === undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
