// Bench rows for the live probes (issue: "Live probes"): a run's step time with stats and
// maps on (every layer watched, maps every 250 ms) against off, the latency from a step's
// end to its frame decoded by a client, and bytes per second on the wire. Each case runs
// bench/probe-case.ts in its own process; on and off alternate so they share the machine's mood.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { jsonLine } from './train-runs';

export interface ProbeRow {
  readonly case: string;
  readonly backend: string;
  /** Wall-clock per step (the step plus everything between steps), probes off and on, within one run. */
  readonly offMsPerCycle: number;
  readonly onMsPerCycle: number;
  readonly overhead: number;
  /** From a step's end (the trainer's clock) to its frame decoded by a client in another process. */
  readonly latencyMs: number;
  readonly bytesPerSecond: number;
  readonly target: string;
  readonly met: boolean | null;
  /** One probe face through the model with every layer's maps encoded. */
  readonly captureMs: number;
  readonly captureBytes: number;
}

/** One bench/probe-case.ts run in its own process (on the lab's chain unless `backend`); its JSON line. */
export function probeCase(root: string, model: string, input: number, batch: number, steps: number, mode: 'on' | 'same-run' | 'capture', options: { backend?: string; timeoutMs?: number } = {}): Record<string, unknown> {
  const args = [model, String(input), String(batch), String(steps), mode, ...(options.backend ? [options.backend] : [])];
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench/probe-case.ts'), ...args], { encoding: 'utf8', cwd: root, ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}) });
  return JSON.parse(jsonLine(out)) as Record<string, unknown>;
}

export function probeRows(root: string, cases: ReadonlyArray<{ model: string; input: number; batch: number; steps: number; target: boolean }>): ProbeRow[] {
  return cases.map((c) => {
    const same = probeCase(root, c.model, c.input, c.batch, c.steps, 'same-run');
    const wire = probeCase(root, c.model, c.input, c.batch, Math.min(c.steps, 10), 'on');
    const overhead = same['overhead'] as number;
    const capture = probeCase(root, c.model, c.input, c.batch, 5, 'capture');
    return {
      case: `${c.model} @${c.input} px, batch ${c.batch}`,
      backend: /\bon (\S+)/.exec(String(same['backend']))?.[1] ?? String(same['backend']),
      offMsPerCycle: same['offMsPerCycle'] as number,
      onMsPerCycle: same['onMsPerCycle'] as number,
      overhead,
      latencyMs: (wire['latencyMs'] as number) ?? NaN,
      bytesPerSecond: (wire['bytesPerSecond'] as number) ?? NaN,
      target: c.target ? '< 10% overhead' : '',
      met: c.target ? overhead < 0.1 : null,
      captureMs: capture['msPerCapture'] as number,
      captureBytes: capture['bytesPerCapture'] as number,
    };
  });
}

/** The cases `npm run bench` runs: a quick one and the target case. */
export const PROBE_CASES = [
  { model: 'tiny', input: 32, batch: 16, steps: 96, target: false },
  { model: 'lightcnn9', input: 64, batch: 16, steps: 48, target: true },
] as const;

export function printProbeRows(rows: readonly ProbeRow[]): void {
  console.table(
    rows.map((r) => ({
      'probes on vs off (one run)': r.case,
      backend: r.backend,
      'ms/step off': Math.round(r.offMsPerCycle),
      'ms/step on': Math.round(r.onMsPerCycle),
      overhead: `${(r.overhead * 100).toFixed(1)}%`,
      'frame latency ms': Math.round(r.latencyMs),
      'wire KiB/s': Math.round(r.bytesPerSecond / 1024),
      'one face, all maps ms': Math.round(r.captureMs),
      'its frames KiB': Math.round(r.captureBytes / 1024),
      target: r.target,
      met: r.met === null ? '' : r.met ? 'yes' : 'NO',
    })),
  );
}

// `tsx bench/probe-rows.ts`: only these rows.
if (import.meta.url === `file://${process.argv[1]}`) {
  const root = join(import.meta.dirname, '..');
  printProbeRows(probeRows(root, PROBE_CASES));
}
