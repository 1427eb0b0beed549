// A run's metrics.jsonl: one JSON object per line per step, appended while training.
// Appending (after cutting a torn last line a crash left behind), fsync, reading (bad lines
// skipped and reported) and truncating on resume. RunHandle (run-store.ts) owns one
// MetricsFile per run and serialises the calls that write.
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from '../../../datasets/atomic-file';
import { writeFailed } from './errors';

export const METRICS_FILE = 'metrics.jsonl';

/** One row of metrics.jsonl. NaN and Infinity are written as null (JSON has neither). */
export interface MetricsRow {
  step: number;
  epoch: number;
  loss?: number | null;
  accuracy?: number | null;
  lr?: number;
  imagesPerSecond?: number;
  stepMs?: number;
  [key: string]: unknown;
}

/** What appendMetrics takes: an interface with these two fields is enough (no index signature needed). */
export interface MetricsRowInput {
  readonly step: number;
  readonly epoch: number;
}

const metricsRowSchema = z.looseObject({ step: z.number().int().min(0), epoch: z.number().min(0) });

export interface MetricsReadResult {
  readonly rows: MetricsRow[];
  /** Lines that were skipped and why, for the user to see. */
  readonly warnings: string[];
  /** True when the file ended in an incomplete line (a crash mid-write); that line was ignored. */
  readonly tornFinalLine: boolean;
}

/** The lines appending `rows` writes. Throws a TypeError, before anything is written, for a row without an integer step >= 0. */
export function metricsLines<R extends MetricsRowInput>(rows: readonly R[]): string {
  for (const row of rows) {
    if (!Number.isInteger(row.step) || row.step < 0) throw new TypeError(`a metrics row needs an integer step >= 0, got ${String(row.step)}`);
  }
  return rows.map((row) => `${JSON.stringify(row)}\n`).join('');
}

/** The metrics.jsonl at `path`. Calls that write must not overlap: the caller serialises them. */
export class MetricsFile {
  /** The end of metrics.jsonl may hold a torn line (crash, full disk): cut it before appending. */
  private tailChecked = false;

  constructor(readonly path: string) {}

  /** Appends whole lines (see metricsLines); not fsync'd: see flush. */
  async append(text: string): Promise<void> {
    if (!this.tailChecked) {
      await this.cutTornTail();
      this.tailChecked = true;
    }
    const bytes = Buffer.from(text, 'utf8');
    const handle = await open(this.path, 'a').catch((error: unknown) => writeFailed(error, { what: 'New metrics rows', path: this.path, outcome: 'were not written' }));
    try {
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
    } catch (error) {
      this.tailChecked = false; // a partial line may be there now
      writeFailed(error, { what: 'New metrics rows', path: this.path, outcome: 'were not written', kept: '(the rows written before them are kept)' });
    } finally {
      await handle.close();
    }
  }

  /** Makes the appended rows durable (fsync); a missing file is nothing to flush. */
  async flush(): Promise<void> {
    try {
      await fsyncFile(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      writeFailed(error, { what: 'metrics.jsonl', path: this.path, outcome: 'could not be made durable (fsync)' });
    }
  }

  /** Cuts an incomplete last line (left by a crash or a full disk) so the next row starts on its own line. */
  private async cutTornTail(): Promise<number> {
    let handle: FileHandle;
    try {
      handle = await open(this.path, 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
    try {
      const size = (await handle.stat()).size;
      if (size === 0) return 0;
      const block = Buffer.alloc(64 * 1024);
      let end = size;
      while (end > 0) {
        const start = Math.max(0, end - block.length);
        const { bytesRead } = await handle.read(block, 0, end - start, start);
        const newline = block.subarray(0, bytesRead).lastIndexOf(0x0a);
        if (newline >= 0) {
          const keep = start + newline + 1;
          if (keep < size) await handle.truncate(keep);
          return size - keep;
        }
        end = start;
      }
      await handle.truncate(0);
      return size;
    } finally {
      await handle.close();
    }
  }

  /**
   * Reads every row. An incomplete final line (the process was killed while
   * appending) is ignored and reported; an unreadable line elsewhere is skipped
   * and reported.
   */
  async read(): Promise<MetricsReadResult> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { rows: [], warnings: ['metrics.jsonl is missing: no steps were recorded'], tornFinalLine: false };
      throw error;
    }
    return parseMetrics(text);
  }

  /**
   * On resume: keeps only the rows up to `step` (the checkpoint's), so the curve
   * continues exactly where the checkpoint left. Rewrites metrics.jsonl atomically.
   */
  async truncateAfter(step: number): Promise<{ kept: number; dropped: number; warnings: string[] }> {
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const { rows, warnings } = parseMetrics(text);
    const kept = rows.filter((row) => row.step <= step);
    try {
      await writeFileAtomic(this.path, [Buffer.from(kept.map((row) => `${JSON.stringify(row)}\n`).join(''), 'utf8')]);
    } catch (error) {
      writeFailed(error, { what: 'metrics.jsonl', path: this.path, outcome: 'was not rewritten', kept: '(the previous version is intact)' });
    }
    this.tailChecked = true;
    return { kept: kept.length, dropped: rows.length - kept.length, warnings };
  }
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function parseMetrics(text: string): MetricsReadResult {
  const rows: MetricsRow[] = [];
  const warnings: string[] = [];
  const lines = text.split('\n');
  const tail = lines.pop() ?? ''; // after the last newline: '' unless the last line is incomplete
  const tornFinalLine = tail !== '';
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      warnings.push(`line ${i + 1} of metrics.jsonl is not valid JSON; it was skipped`);
      return;
    }
    const parsed = metricsRowSchema.safeParse(json);
    if (!parsed.success) {
      warnings.push(`line ${i + 1} of metrics.jsonl is not a metrics row (it needs a step and an epoch); it was skipped`);
      return;
    }
    rows.push(parsed.data as MetricsRow);
  });
  if (tornFinalLine) {
    warnings.push(`metrics.jsonl ends with an incomplete line (${Buffer.byteLength(tail)} bytes, line ${lines.length + 1}): the lab was stopped while writing it; it was ignored`);
  }
  return { rows, warnings, tornFinalLine };
}
