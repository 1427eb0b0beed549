// A run's metrics.jsonl: one JSON object per line per step, appended while training.
// Appending (after cutting a torn last line a crash left behind), fsync, reading (bad lines
// skipped and reported) and truncating on resume. RunHandle (run-store.ts) owns one
// MetricsFile per run and serialises the calls that write.
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { metricsRowKind, metricsRowSchema, type MetricsRow } from '#protocol/metrics-rows';
import { writeFileAtomic } from '../../../files/atomic-file';
import { writeFailed } from './errors';

export const METRICS_FILE = 'metrics.jsonl';

/** One row of metrics.jsonl, of any kind (protocol/metrics-rows.ts has each kind's schema). NaN and Infinity are written as null (JSON has neither). */
export type { MetricsRow };

/** What appendMetrics takes: an interface with these two fields is enough (no index signature needed). */
export interface MetricsRowInput {
  readonly step: number;
  readonly epoch: number;
}

export interface MetricsReadResult {
  readonly rows: MetricsRow[];
  /** Lines that were skipped and why, for the user to see. */
  readonly warnings: string[];
  /** True when the file ended in an incomplete line (a crash mid-write); that line was ignored. */
  readonly tornFinalLine: boolean;
}

/**
 * Steps from..to (inclusive, 1-based like the step rows) that have no step row in
 * metrics.jsonl although training went through them: the file was cut, or a line
 * was damaged. Training itself went on from the checkpoint; only the record of
 * those steps is gone.
 */
export interface MetricsGap {
  readonly from: number;
  readonly to: number;
  readonly reason: string;
}

/** What truncateAfter did, for the resume to tell the user and record. */
export interface MetricsTruncation {
  readonly kept: number;
  readonly dropped: number;
  /** Every problem reading the file met (as MetricsReadResult's). */
  readonly warnings: string[];
  /**
   * The lines in the middle of the file that could not be read, each a sentence
   * saying that the rewrite for the resume removed it (not the incomplete last
   * line a crash leaves after the checkpoint: that is expected).
   */
  readonly removedLines: string[];
  /** Steps up to the kept step with no step row. */
  readonly gaps: MetricsGap[];
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
  async truncateAfter(step: number): Promise<MetricsTruncation> {
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const { rows, warnings, badLines } = parseMetricsLines(text);
    const kept = rows.filter((row) => row.step <= step);
    try {
      await writeFileAtomic(this.path, [Buffer.from(kept.map((row) => `${JSON.stringify(row)}\n`).join(''), 'utf8')]);
    } catch (error) {
      writeFailed(error, { what: 'metrics.jsonl', path: this.path, outcome: 'was not rewritten', kept: '(the previous version is intact)' });
    }
    this.tailChecked = true;
    const removedLines = badLines.map((bad) => `line ${bad.line} of metrics.jsonl ${bad.problem}; it was removed when metrics.jsonl was rewritten for the resume`);
    return { kept: kept.length, dropped: rows.length - kept.length, warnings, removedLines, gaps: findGaps(kept, step, badLines) };
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

/** A line in the middle of metrics.jsonl that could not be read. */
interface BadLine {
  /** 1-based. */
  readonly line: number;
  /** What is wrong with it, e.g. "is not valid JSON". */
  readonly problem: string;
  /** The step of the last row read before it (0 before any). */
  readonly after: number;
}

function parseMetrics(text: string): MetricsReadResult {
  const { rows, warnings, tornFinalLine } = parseMetricsLines(text);
  return { rows, warnings, tornFinalLine };
}

function parseMetricsLines(text: string): MetricsReadResult & { readonly badLines: BadLine[] } {
  const rows: MetricsRow[] = [];
  const warnings: string[] = [];
  const badLines: BadLine[] = [];
  const lines = text.split('\n');
  const tail = lines.pop() ?? ''; // after the last newline: '' unless the last line is incomplete
  const tornFinalLine = tail !== '';
  const bad = (i: number, problem: string): void => {
    warnings.push(`line ${i + 1} of metrics.jsonl ${problem}; it was skipped`);
    badLines.push({ line: i + 1, problem, after: rows.at(-1)?.step ?? 0 });
  };
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      bad(i, 'is not valid JSON');
      return;
    }
    const parsed = metricsRowSchema.safeParse(json);
    if (!parsed.success) {
      bad(i, 'is not a metrics row (it needs a step and an epoch)');
      return;
    }
    rows.push(parsed.data);
  });
  if (tornFinalLine) {
    warnings.push(`metrics.jsonl ends with an incomplete line (${Buffer.byteLength(tail)} bytes, line ${lines.length + 1}): the lab was stopped while writing it; it was ignored`);
  }
  return { rows, warnings, tornFinalLine, badLines };
}

/** A row of one training step: kind "step", or no kind (rows written before kinds existed). */
function isStepRow(row: MetricsRow): boolean {
  return metricsRowKind(row) === 'step';
}

/**
 * The runs of steps in 1..`last` without a step row. A gap where an unreadable line
 * sits (its last good row before is just before the gap, or inside it) is put down
 * to that line; any other to the file having been cut or rows lost.
 */
function findGaps(rows: readonly MetricsRow[], last: number, badLines: readonly BadLine[]): MetricsGap[] {
  const have = new Set(rows.filter(isStepRow).map((row) => row.step));
  const gaps: MetricsGap[] = [];
  for (let step = 1; step <= last; step++) {
    if (have.has(step)) continue;
    const from = step;
    while (step + 1 <= last && !have.has(step + 1)) step++;
    const to = step;
    const lines = badLines.filter((bad) => bad.after >= from - 1 && bad.after <= to);
    const reason =
      lines.length > 0
        ? `${lines.length === 1 ? `line ${lines[0]?.line} of metrics.jsonl was` : `lines ${lines.map((bad) => bad.line).join(', ')} of metrics.jsonl were`} unreadable where ${from === to ? "that step's row" : 'their rows'} should be`
        : 'their rows are missing from metrics.jsonl (the file was cut or rows were lost)';
    gaps.push({ from, to, reason });
  }
  return gaps;
}
