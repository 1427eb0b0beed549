// Activation-map snapshots: at the end of every epoch (and where the run stops), the maps of
// every activation layer for the probe faces, kept in the run's folder so the Runs view can
// replay how the filters changed. One file per snapshot:
//
//   <run>/snapshots/step-000123.fclf     (the step zero-padded to 6 digits, as checkpoints)
//
// Layout (little-endian throughout):
//   0   4 bytes  ASCII magic "FCLS"
//   4   u16      format version (SNAPSHOT_VERSION)
//   6   u16      reserved, 0
//   8   u32      header byte length H
//   12  H bytes  UTF-8 JSON header (SnapshotHeader: step, epoch, probes, probeLabels, layers, frames, capturedAt)
//       zero padding to a multiple of 4
//       then `frames` times: u32 byte length L, L bytes of one activation frame exactly as
//       protocol/frames.ts encodes it (FCLF: one layer, every filter, every probe), zero
//       padding to a multiple of 4
// and nothing after the last frame. The frames are those the live view gets (maps averaged
// down to at most SNAPSHOT_MAX_SIDE px, quantised to bytes, with each map's stats), for at
// most MAX_SNAPSHOT_PROBES probe faces, so a snapshot stays a few MB even for LightCNN-29.
//
// Recording never changes training: the probes go through the model in inference mode
// (no randomness, no weight or optimizer state touched), outside any training step.
import { mkdir, open, readdir, rm, stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeError, writeFileAtomic } from '../../../files/atomic-file';
import { errorCode } from '../../../files/file-error';
import { decodeFrame } from '#protocol/frames';
import type { SnapshotInfo } from '#protocol/workbench';
import type { InspectionMark } from '#protocol/metrics-rows';

// The capture (tensors, no files) is in snapshot-capture.ts, so the compute core can bundle for a browser.
export { MAX_SNAPSHOT_PROBES, SNAPSHOT_MAX_SIDE, SnapshotCapture } from './snapshot-capture';

export const SNAPSHOTS_DIR = 'snapshots';
export const SNAPSHOT_MAGIC = 'FCLS';
export const SNAPSHOT_VERSION = 1;
/** Bytes before the JSON header. */
const PREFIX_BYTES = 12;
const FILE = /^step-(\d+)\.fclf$/;

export interface SnapshotHeader {
  /** The training step after which the maps were taken. */
  readonly step: number;
  /** The epoch that step belongs to (0-based, as in metrics.jsonl). */
  readonly epoch: number;
  /** Dataset image indices of the probe faces, in the frames' order. */
  readonly probes: readonly number[];
  /** The identity name of each probe face. */
  readonly probeLabels: readonly string[];
  /** The layer of each frame, in order. */
  readonly layers: readonly string[];
  /** How many frames follow the header. */
  readonly frames: number;
  /** When the maps were taken (ms since the epoch). */
  readonly capturedAt: number;
  /** Set when an inspection pass took the maps (electron/trainer/inspection/): the probe faces are of that dataset. */
  readonly inspection?: InspectionMark;
}

export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

export function snapshotFileName(step: number): string {
  return `step-${String(step).padStart(6, '0')}.fclf`;
}

const align4 = (n: number) => (n + 3) & ~3;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The file's bytes, as chunks for writeFileAtomic. */
export function encodeSnapshot(header: Omit<SnapshotHeader, 'frames' | 'layers'> & { layers?: readonly string[] }, frames: readonly ArrayBuffer[]): Uint8Array[] {
  const layers = header.layers ?? frames.map((f) => decodeFrame(f).header.layer);
  if (layers.length !== frames.length) throw new Error(`snapshot: ${layers.length} layer names for ${frames.length} frames`);
  const full: SnapshotHeader = { ...header, layers: [...layers], frames: frames.length };
  const json = encoder.encode(JSON.stringify(full));
  const head = new Uint8Array(align4(PREFIX_BYTES + json.length));
  const view = new DataView(head.buffer);
  for (let i = 0; i < 4; i++) head[i] = SNAPSHOT_MAGIC.charCodeAt(i);
  view.setUint16(4, SNAPSHOT_VERSION, true);
  view.setUint16(6, 0, true);
  view.setUint32(8, json.length, true);
  head.set(json, PREFIX_BYTES);
  const chunks: Uint8Array[] = [head];
  for (const frame of frames) {
    const bytes = new Uint8Array(frame);
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, bytes.length, true);
    chunks.push(length, bytes);
    const pad = align4(bytes.length) - bytes.length;
    if (pad > 0) chunks.push(new Uint8Array(pad));
  }
  return chunks;
}

function parseHeader(bytes: Uint8Array, where: string): { header: SnapshotHeader; end: number } {
  if (bytes.length < PREFIX_BYTES) throw new SnapshotError(`${where} is truncated (${bytes.length} bytes, the prefix alone is ${PREFIX_BYTES})`);
  const magic = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  if (magic !== SNAPSHOT_MAGIC) throw new SnapshotError(`${where} is not an activation snapshot (magic ${JSON.stringify(magic)}, expected "${SNAPSHOT_MAGIC}")`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== SNAPSHOT_VERSION) throw new SnapshotError(`${where} has snapshot format ${version}; this version of the lab reads format ${SNAPSHOT_VERSION} (open it with a newer lab)`);
  const length = view.getUint32(8, true);
  if (PREFIX_BYTES + length > bytes.length) throw new SnapshotError(`${where} is truncated (its header of ${length} bytes is cut off)`);
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + length)));
  } catch (error) {
    throw new SnapshotError(`${where} has a damaged header (${(error as Error).message})`);
  }
  const h = json as Partial<SnapshotHeader> | null;
  const ints = (xs: unknown) => Array.isArray(xs) && xs.every((x) => Number.isInteger(x) && x >= 0);
  const strings = (xs: unknown) => Array.isArray(xs) && xs.every((x) => typeof x === 'string');
  if (
    h === null ||
    typeof h !== 'object' ||
    !Number.isInteger(h.step) ||
    !Number.isInteger(h.epoch) ||
    !Number.isInteger(h.frames) ||
    !ints(h.probes) ||
    !strings(h.probeLabels) ||
    !strings(h.layers) ||
    (h.layers as string[]).length !== h.frames
  ) {
    throw new SnapshotError(`${where} has a header that does not describe a snapshot`);
  }
  return { header: { ...(h as SnapshotHeader), capturedAt: typeof h.capturedAt === 'number' ? h.capturedAt : 0 }, end: align4(PREFIX_BYTES + length) };
}

/** Reads a whole snapshot file's bytes: its header and its frames (views into `bytes`), each checked as an activation frame. */
export function decodeSnapshot(bytes: Uint8Array, where = 'the snapshot'): { header: SnapshotHeader; frames: Uint8Array[] } {
  const { header, end } = parseHeader(bytes, where);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: Uint8Array[] = [];
  let at = end;
  for (let i = 0; i < header.frames; i++) {
    if (at + 4 > bytes.length) throw new SnapshotError(`${where} is truncated (frame ${i + 1} of ${header.frames} is missing)`);
    const length = view.getUint32(at, true);
    if (at + 4 + length > bytes.length) throw new SnapshotError(`${where} is truncated (frame ${i + 1} of ${header.frames} is cut off)`);
    const frame = bytes.subarray(at + 4, at + 4 + length);
    try {
      decodeFrame(frame);
    } catch (error) {
      throw new SnapshotError(`${where} has a damaged frame ${i + 1} (${(error as Error).message})`);
    }
    frames.push(frame);
    at = align4(at + 4 + length);
  }
  if (at !== bytes.length) throw new SnapshotError(`${where} has ${bytes.length - at} unexpected bytes after its last frame`);
  return { header, frames };
}

// ---------------------------------------------------------------------------
// Files

/** The snapshot files of a run, by step ascending. */
export async function listSnapshotFiles(runDir: string): Promise<{ step: number; file: string; path: string }[]> {
  const dir = join(runDir, SNAPSHOTS_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
  const out: { step: number; file: string; path: string }[] = [];
  for (const name of names) {
    const match = FILE.exec(name);
    if (match) out.push({ step: Number(match[1]), file: `${SNAPSHOTS_DIR}/${name}`, path: join(dir, name) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** Reads only a snapshot file's header (a few hundred bytes, whatever the file's size). */
export async function readSnapshotHeader(path: string): Promise<SnapshotHeader> {
  const handle = await open(path, 'r');
  try {
    const prefix = new Uint8Array(PREFIX_BYTES);
    const { bytesRead } = await handle.read(prefix, 0, PREFIX_BYTES, 0);
    const length = bytesRead === PREFIX_BYTES ? new DataView(prefix.buffer).getUint32(8, true) : 0;
    if (length > 16 * 1024 * 1024) throw new SnapshotError(`${path} has an implausible header length (${length} bytes)`);
    const bytes = new Uint8Array(PREFIX_BYTES + length);
    bytes.set(prefix.subarray(0, bytesRead));
    const rest = length > 0 ? (await handle.read(bytes, PREFIX_BYTES, length, PREFIX_BYTES)).bytesRead : 0;
    return parseHeader(bytes.subarray(0, bytesRead + rest), path).header;
  } finally {
    await handle.close();
  }
}

/** The snapshots a run recorded, by step. A file that cannot be read is left out and its problem returned in `problems`. */
export async function listSnapshots(runDir: string): Promise<{ snapshots: SnapshotInfo[]; problems: string[] }> {
  const snapshots: SnapshotInfo[] = [];
  const problems: string[] = [];
  for (const file of await listSnapshotFiles(runDir)) {
    try {
      const [header, info] = await Promise.all([readSnapshotHeader(file.path), stat(file.path)]);
      if (header.step !== file.step) throw new SnapshotError(`${file.path} holds the snapshot of step ${header.step}, not ${file.step} (was it renamed?)`);
      snapshots.push({
        step: header.step,
        epoch: header.epoch,
        layers: [...header.layers],
        probes: header.probes.length,
        bytes: info.size,
        ...(header.inspection ? { inspection: { data: header.inspection.data, at: header.inspection.at } } : {}),
      });
    } catch (error) {
      problems.push(`${file.file}: ${(error as Error).message}`);
    }
  }
  return { snapshots, problems };
}

/** One snapshot of a run, or null when the run has none at that step. */
export async function readSnapshot(runDir: string, step: number): Promise<{ header: SnapshotHeader; frames: Uint8Array[] } | null> {
  const path = join(runDir, SNAPSHOTS_DIR, snapshotFileName(step));
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const snapshot = decodeSnapshot(bytes, path);
  if (snapshot.header.step !== step) throw new SnapshotError(`${path} holds the snapshot of step ${snapshot.header.step}, not ${step} (was it renamed?)`);
  return snapshot;
}

/** Writes <run>/snapshots/step-N.fclf atomically (the folder is made if needed). */
export async function writeSnapshot(runDir: string, header: Omit<SnapshotHeader, 'frames' | 'layers'>, frames: readonly ArrayBuffer[]): Promise<{ file: string; bytes: number }> {
  const dir = join(runDir, SNAPSHOTS_DIR);
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new SnapshotError(`${dir} is a file, not a folder: move it away so that snapshots can be saved there`);
    throw writeError(error, dir) ?? error;
  }
  const chunks = encodeSnapshot(header, frames);
  const name = snapshotFileName(header.step);
  await writeFileAtomic(join(dir, name), chunks);
  return { file: `${SNAPSHOTS_DIR}/${name}`, bytes: chunks.reduce((n, c) => n + c.length, 0) };
}

/**
 * On resume from the checkpoint of `step`: deletes the snapshots of later steps (they belong
 * to the abandoned timeline, like the metrics rows after it) and the temp files a killed
 * writer left. Only the run's owner may call it. Returns the removed files.
 */
export async function pruneSnapshotsAfter(runDir: string, step: number): Promise<string[]> {
  const dir = join(runDir, SNAPSHOTS_DIR);
  const removed: string[] = [];
  for (const file of await listSnapshotFiles(runDir)) {
    if (file.step > step) {
      await rm(file.path, { force: true });
      removed.push(file.file);
    }
  }
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith('.') && name.endsWith('.tmp')) {
      await rm(join(dir, name), { force: true });
      removed.push(`${SNAPSHOTS_DIR}/${name}`);
    }
  }
  return removed;
}
