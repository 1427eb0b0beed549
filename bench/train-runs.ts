// One training-throughput case in its own process, for `npm run bench` and bench/gpu-check.ts:
// the lab's step (bench/train-case.ts, on a tfjs backend) and the same network's step in
// PyTorch (bench/pytorch/lightcnn.py), each printing one JSON line.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

export type TrainModel = 'tiny' | 'lightcnn4' | 'lightcnn9';
export interface TrainCase {
  readonly model: TrainModel;
  readonly input: number;
  readonly batch: number;
  /** Timed steps (the median is reported). */
  readonly steps: number;
  /** Untimed steps first (kernels, shaders, first allocations); 1 when not given. */
  readonly warmup?: number;
}
export type Measured = {
  msPerStep: number;
  meanMsPerStep?: number;
  imagesPerSecond: number;
  peakRssMiB: number | null;
  threads?: number;
  backend?: string;
  /** The WebGPU adapter (describeAdapter) and why it is software, on webgpu. */
  adapter?: string;
  software?: string | null;
  /** Every step's loss, warm-up first (train-case.ts): the same seed gives the same losses on every backend. */
  losses?: number[];
};
export type Failed = { failed: string };
export const isFailed = <T extends object>(m: T | Failed | null): m is Failed => m !== null && 'failed' in m;

/** A case that takes longer than this is stopped and reported (a wasm heap that fills up can hang the package's kernels). */
export const CASE_TIMEOUT_MS = 8 * 60_000;

function failure(error: unknown, timeoutMs: number): Failed {
  const e = error as { signal?: string; stderr?: string; message?: string };
  if (e.signal === 'SIGTERM') return { failed: `stopped after ${Math.round(timeoutMs / 1000)} s` };
  const lines = `${e.stderr ?? ''}\n${e.message ?? ''}`.split('\n').map((l) => l.trim());
  return { failed: lines.find((l) => /^(Error|RangeError|RuntimeError|BackendError)\b|heap is full|out of memory/i.test(l)) ?? lines.find((l) => l !== '') ?? 'failed' };
}

/** The child's JSON line: the last that starts with '{' (Dawn prints its validation messages to stdout). */
export const jsonLine = (out: string): string => out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{')).pop() ?? '{}';

/** The lab's step on `backend` (train-case.ts): `env` is added to this process's environment for the child only. */
export function trainCase(c: TrainCase, backend: string, env: Record<string, string> = {}, timeoutMs = CASE_TIMEOUT_MS): Measured | Failed {
  try {
    const args = [c.model, String(c.input), String(c.batch), String(c.steps), backend, 'adam', String(c.warmup ?? 1)];
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench/train-case.ts'), ...args], {
      encoding: 'utf8',
      cwd: root,
      env: { ...process.env, ...env },
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return JSON.parse(jsonLine(out)) as Measured;
  } catch (error) {
    return failure(error, timeoutMs);
  }
}

/**
 * The environment for a PyTorch child: this process's, without OPENBLAS_CORETYPE and
 * OPENBLAS_L2_SIZE. A host may set them for its own tools; they tell Debian's OpenBLAS (which
 * Debian's torch uses for its dense layers) which kernels and blocking to use, and the bench must
 * time PyTorch at its own settings. (Their effect varies: one host and day gave LightCNN-9 64 px
 * batch 16 136-263 ms a step without them and 224-327 ms with them; the team's host on
 * 2026-12-07 showed no measurable difference: bench/NOTES.md.) Only the child's copy changes:
 * the bench's own environment stays as it is.
 */
export function pytorchEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['OPENBLAS_CORETYPE'];
  delete env['OPENBLAS_L2_SIZE'];
  return env;
}

/** How long `import torch` may take before a python counts as without torch (a cold import reads ~1 GB of libraries). */
export const TORCH_IMPORT_TIMEOUT_MS = 60_000;

const seconds = (ms: number): string => `${ms < 10_000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)} s`;
const timedOut = (error: unknown): boolean => {
  const e = error as { signal?: string; code?: string };
  return e.signal === 'SIGTERM' || e.code === 'ETIMEDOUT';
};

/**
 * A python3 that imports torch: $PYTHON, python3 on the PATH, then the system one (Debian's
 * python3-torch). The whole search takes at most `timeoutMs`: each python gets what is left of it.
 */
export function findTorchPython(timeoutMs = TORCH_IMPORT_TIMEOUT_MS): { python: string | null; version: string; why: string } {
  const tried: string[] = [];
  const started = Date.now();
  const candidates = [process.env['PYTHON'], 'python3', '/usr/bin/python3'].filter((p): p is string => typeof p === 'string' && p !== '');
  for (const python of [...new Set(candidates)]) {
    const left = timeoutMs - (Date.now() - started);
    if (left < 1_000) {
      tried.push(`${python}: not tried (the ${seconds(timeoutMs)} for finding torch are spent)`);
      continue;
    }
    try {
      const version = execFileSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', env: pytorchEnv(), timeout: left, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
      return { python, version, why: `${python}, torch ${version}` };
    } catch (error) {
      const e = error as { code?: string; stderr?: string };
      const why = timedOut(error) ? `the torch import did not finish within ${seconds(left)}` : e.code === 'ENOENT' ? 'not found' : (e.stderr ?? '').trim().split('\n').pop() || 'failed';
      tried.push(`${python}: ${why}`);
    }
  }
  return { python: null, version: '', why: tried.join('; ') };
}

/** Whether this python's torch sees a CUDA device: its name, or why not (within `timeoutMs`). */
export function torchCuda(python: string, timeoutMs = TORCH_IMPORT_TIMEOUT_MS): { device: string | null; why: string } {
  try {
    const out = execFileSync(python, ['-c', 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'], { encoding: 'utf8', env: pytorchEnv(), timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    return out === '' ? { device: null, why: 'torch.cuda.is_available() is False' } : { device: out, why: '' };
  } catch (error) {
    if (timedOut(error)) return { device: null, why: `asking torch about CUDA did not finish within ${seconds(timeoutMs)}` };
    return { device: null, why: `asking torch about CUDA failed: ${failure(error, timeoutMs).failed}` };
  }
}

/** The same step in PyTorch: on the CPU with `threads` threads (default 2), or on CUDA. */
export function pytorchCase(c: TrainCase, python: string, options: { device?: 'cpu' | 'cuda'; threads?: number; timeoutMs?: number } = {}): Measured | Failed {
  const timeoutMs = options.timeoutMs ?? CASE_TIMEOUT_MS;
  const args = [c.model, String(c.input), String(c.batch), String(c.steps), String(options.threads ?? 2), '--device', options.device ?? 'cpu', '--warmup', String(c.warmup ?? 1)];
  try {
    const out = execFileSync(python, [join(root, 'bench/pytorch/lightcnn.py'), ...args], { encoding: 'utf8', cwd: root, env: pytorchEnv(), timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    return { ...(JSON.parse(jsonLine(out)) as Measured), peakRssMiB: null };
  } catch (error) {
    return failure(error, timeoutMs);
  }
}
