// The backends a run may be started or resumed on (the protocol's `backend` of start and
// resumeRun), and the short names the window shows for them. Pure: no state.
import type { CommandInputOf } from '#protocol/messages';
import type { BackendOption, LabInfo } from '#protocol/workbench';

export type BackendName = NonNullable<CommandInputOf<'start'>['backend']>;

/** The chain in the order the trainer's automatic choice tries it (models/backend.ts BACKEND_ORDER). */
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

/**
 * The backends a run may name, or null where the trainer gives no choice: an older trainer
 * lists none, and a trainer asked while a run trains (or whose selection failed) lists an
 * empty chain, since it checks the backends only when none is training.
 */
export function listedBackends(info: LabInfo | null): BackendOption[] | null {
  return Array.isArray(info?.backends) && info.backends.length > 0 ? info.backends : null;
}

/** Whether a run can be started on `name` in this trainer (never where it lists no backends). */
export function canTrainOn(info: LabInfo | null, name: BackendName): boolean {
  return listedBackends(info)?.some((option) => option.name === name && option.canTrain) ?? false;
}

/**
 * The backend's name from a `started` event's one-line summary ("training on wasm (WebAssembly
 * ...): ..."), for trainers that send no `backendName`; null when it names none.
 */
export function backendNameIn(summary: string): string | null {
  return /\bon (tensorflow-gpu|webgpu|tensorflow|wasm|cpu)\b/.exec(summary)?.[1] ?? null;
}

const MAX_DEVICE = 40;

/**
 * The device of an adapter line (models/webgpu-adapter.ts describeAdapter: "vendor arch
 * (device), API[; limits]"), short enough for a window title: "NVIDIA GeForce RTX 3060".
 * A line of another shape gives its text before the first comma.
 */
export function adapterDevice(adapter: string): string {
  // Who the adapter is: the text before the first comma outside parentheses (a device
  // name may hold its own, as Chromium's "ANGLE (NVIDIA, ... (0x2504), D3D11)" does).
  let depth = 0;
  let end = adapter.length;
  for (let i = 0; i < adapter.length; i++) {
    const c = adapter[i];
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      end = i;
      break;
    }
  }
  const who = adapter.slice(0, end).trim();
  let device = who;
  // "name (device)": the group that closes at its end, opened after a space ("Intel(R) UHD" is a device, not a group).
  if (who.endsWith(')')) {
    depth = 0;
    for (let i = who.length - 1; i >= 0; i--) {
      if (who[i] === ')') depth++;
      else if (who[i] === '(' && --depth === 0) {
        if (i > 0 && who[i - 1] === ' ') device = who.slice(i + 1, -1).trim() || who;
        break;
      }
    }
  }
  return device.length > MAX_DEVICE ? `${device.slice(0, MAX_DEVICE - 1).trimEnd()}…` : device;
}
