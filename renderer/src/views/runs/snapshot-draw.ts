// Drawing a recorded snapshot: one layer's maps for one probe face as a mosaic of small
// heatmaps in a single canvas (one canvas per layer, not one per filter: a layer can have
// hundreds). The colours are the Train view's (draw/heatmap.ts): viridis, each map scaled to
// its own range ('filter') or to the layer's range for this probe ('layer'). A map with no
// picture for this face is drawn as the Train grid draws it, the grey "flat" hatch
// (draw/heatmap.ts renderFlat): a spatial map that is the same everywhere for this probe (a
// ReLU filter that output 0 everywhere, say), or a 1x1 map (a fully connected unit) that is
// exactly 0. Red stays the Train view's mark for "dead". A 1x1 map has no range of its own,
// so it is always layer-scaled.
import { STATS_PER_MAP, type DecodedFrame } from '#protocol/frames';
import { canDraw2d, colourTable, flatMaps, renderFlat, renderMap, statsRange, type Range } from '../../draw/heatmap';

export type SnapshotScale = 'filter' | 'layer';

export interface MosaicLayout {
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
  /** Pixels between tiles. */
  gap: number;
  width: number;
  height: number;
}

/** Tiles in rows of at most `maxColumns` (32 for 1x1 maps), with a 1-pixel gap (none between 1x1 maps). */
export function mosaicLayout(channels: number, tileWidth: number, tileHeight: number, maxColumns = tileWidth * tileHeight === 1 ? 32 : 16): MosaicLayout {
  const columns = Math.max(1, Math.min(channels, maxColumns));
  const rows = Math.max(1, Math.ceil(channels / columns));
  const gap = tileWidth * tileHeight === 1 ? 0 : 1;
  return { columns, rows, tileWidth, tileHeight, gap, width: columns * (tileWidth + gap) - gap, height: rows * (tileHeight + gap) - gap };
}

/** Filters whose map carries no picture for this probe: flat (spatial maps) or exactly 0 (1x1 maps); the Train grid's rule (draw/heatmap.ts flatKind). */
export function silentChannels(frame: DecodedFrame, probe: number): number[] {
  return [...flatMaps(frame.stats, probe, frame.header.channels, frame.header.width * frame.header.height).keys()];
}

/** Where tile `channel` sits in the mosaic, in pixels. */
export function tileOrigin(layout: MosaicLayout, channel: number): { x: number; y: number } {
  return { x: (channel % layout.columns) * (layout.tileWidth + layout.gap), y: Math.floor(channel / layout.columns) * (layout.tileHeight + layout.gap) };
}

/** The range of one probe's maps in a frame. */
export function probeRange(frame: DecodedFrame, probe: number): Range {
  const per = frame.header.channels * STATS_PER_MAP;
  return statsRange(frame.stats.subarray(probe * per, (probe + 1) * per));
}

/** Paints one probe's maps of a frame into `pixels` (RGBA, layout.width x layout.height). */
export function paintMosaic(pixels: Uint8ClampedArray, frame: DecodedFrame, probe: number, layout: MosaicLayout, scale: SnapshotScale = 'filter'): void {
  const { channels, height, width } = frame.header;
  const silent = new Set(silentChannels(frame, probe));
  const layer = probeRange(frame, probe);
  const byLayer = scale === 'layer' || width * height === 1;
  const table = colourTable('viridis');
  const tile = new Uint8ClampedArray(width * height * 4);
  pixels.fill(0); // gaps stay transparent
  for (let c = 0; c < channels; c++) {
    const { x: x0, y: y0 } = tileOrigin(layout, c);
    if (silent.has(c)) {
      renderFlat(tile, width, height);
    } else {
      const own = frame.statsOf(probe, c);
      renderMap(tile, frame.map(probe, c), own, byLayer ? layer : own, table);
    }
    for (let y = 0; y < height; y++) pixels.set(tile.subarray(y * width * 4, (y + 1) * width * 4), ((y0 + y) * layout.width + x0) * 4);
  }
}

/** Draws the mosaic into a canvas sized to it; false where there is no 2D context (jsdom). */
export function drawMosaic(canvas: HTMLCanvasElement, frame: DecodedFrame, probe: number, layout: MosaicLayout, scale: SnapshotScale = 'filter'): boolean {
  if (!canDraw2d()) return false;
  let context: CanvasRenderingContext2D | null = null;
  try {
    context = canvas.getContext('2d');
  } catch {
    context = null;
  }
  if (!context) return false;
  canvas.width = layout.width;
  canvas.height = layout.height;
  const image = context.createImageData(layout.width, layout.height);
  paintMosaic(image.data, frame, probe, layout, scale);
  context.putImageData(image, 0, 0);
  return true;
}

/** base64 (as loadSnapshot sends frames) to bytes. */
export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
