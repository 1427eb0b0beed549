// Finding and running a python3 that has PyTorch, for the interchange tests.
//
// The tests check the lab against PyTorch itself (Debian's python3-torch, which .ci/run
// installs). A development machine may have another python3 first on its PATH (pyenv), so
// FACE_CNN_LAB_PYTHON, then python3, then /usr/bin/python3 are tried. Without torch the tests
// skip, unless FACE_CNN_LAB_REQUIRE_TORCH is set (CI sets it): then they fail, so that a
// missing install never passes as skipped.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

function hasTorch(python: string): boolean {
  const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
  return probe.status === 0;
}

/** The first python with torch, or undefined. */
export function findTorchPython(): string | undefined {
  const candidates = [process.env['FACE_CNN_LAB_PYTHON'], 'python3', '/usr/bin/python3'].filter((c): c is string => c !== undefined && c !== '');
  return candidates.find(hasTorch);
}

export const TORCH_PYTHON = findTorchPython();

/** Whether torch-backed tests run: skip when no torch was found, unless CI requires it. */
export const SKIP_TORCH = TORCH_PYTHON === undefined && process.env['FACE_CNN_LAB_REQUIRE_TORCH'] === undefined;

/** The python to run; throws when none has torch (only reached when SKIP_TORCH is false). */
export function torchPython(): string {
  if (TORCH_PYTHON === undefined) throw new Error('FACE_CNN_LAB_REQUIRE_TORCH is set but no python3 with torch was found (install python3-torch, or set FACE_CNN_LAB_PYTHON)');
  return TORCH_PYTHON;
}

/** Runs `python -c script args...` (or a script file) and returns its stdout; stderr is in the error. */
export async function runPython(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await run(torchPython(), [...args], {
      cwd: options.cwd,
      // One thread unless told: vitest runs test files side by side on CI's two cores.
      env: { ...process.env, OMP_NUM_THREADS: '1', ...options.env },
      timeout: options.timeoutMs ?? 300_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const failed = error as Error & { stderr?: string; stdout?: string };
    throw new Error(`python failed: ${failed.message}\n${failed.stderr ?? ''}\n${failed.stdout ?? ''}`);
  }
}
