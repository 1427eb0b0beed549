// Drawing a recorded snapshot: one layer's maps for one probe face as a mosaic of small
// heatmaps in a single canvas (one canvas per layer, not one per filter: a layer can have
// hundreds). The colours are the Train view's (draw/heatmap.ts): viridis, each map scaled to
// its own range ('filter') or to the layer's range for this probe ('layer'). A map with no
// signal is painted in the "dead" colour so it stands out: a spatial map that is constant for
// this probe (a ReLU filter that output 0 everywhere, say), or a 1x1 map (a fully connected
// unit) that is exactly 0. A 1x1 map has no range of its own, so it is always layer-scaled.
import { STATS_PER_MAP, type DecodedFrame } from '../../../../electron/trainer/protocol/frames';
import { canDraw2d, colourTable, renderMap, statsRange, type Range } from '../../draw/heatmap';

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

/** Filters whose map carries no signal for this probe: constant (spatial maps) or exactly 0 (1x1 maps). */
export function silentChannels(frame: DecodedFrame, probe: number): number[] {
  const pointwise = frame.header.width * frame.header.height === 1;
  const out: number[] = [];
  for (let c = 0; c < frame.header.channels; c++) {
    const { min, max } = frame.statsOf(probe, c);
    if (pointwise ? min === 0 && max === 0 : !(max > min)) out.push(c);
  }
  return out;
}

/** The range of one probe's maps in a frame. */
export function probeRange(frame: DecodedFrame, probe: number): Range {
  const per = frame.header.channels * STATS_PER_MAP;
  return statsRange(frame.stats.subarray(probe * per, (probe + 1) * per));
}

/** "#d92d20" (or "rgb(...)") as [r, g, b]; a fallback when it cannot be read. */
export function parseColour(css: string, fallback: [number, number, number] = [217, 45, 32]): [number, number, number] {
  const value = css.trim();
  const hex = /^#([0-9a-f]{6})$/i.exec(value);
  if (hex) {
    const n = parseInt(hex[1] as string, 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  const rgb = /^rgba?\((\d+)[ ,]+(\d+)[ ,]+(\d+)/i.exec(value);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  return fallback;
}

/** Paints one probe's maps of a frame into `pixels` (RGBA, layout.width x layout.height). */
export function paintMosaic(
  pixels: Uint8ClampedArray,
  frame: DecodedFrame,
  probe: number,
  layout: MosaicLayout,
  dead: [number, number, number],
  scale: SnapshotScale = 'filter',
): void {
  const { channels, height, width } = frame.header;
  const silent = new Set(silentChannels(frame, probe));
  const layer = probeRange(frame, probe);
  const byLayer = scale === 'layer' || width * height === 1;
  const table = colourTable('viridis');
  const tile = new Uint8ClampedArray(width * height * 4);
  pixels.fill(0); // gaps stay transparent
  for (let c = 0; c < channels; c++) {
    const x0 = (c % layout.columns) * (layout.tileWidth + layout.gap);
    const y0 = Math.floor(c / layout.columns) * (layout.tileHeight + layout.gap);
    if (silent.has(c)) {
      for (let i = 0; i < width * height; i++) tile.set([dead[0], dead[1], dead[2], 255], i * 4);
    } else {
      const own = frame.statsOf(probe, c);
      renderMap(tile, frame.map(probe, c), own, byLayer ? layer : own, table);
    }
    for (let y = 0; y < height; y++) pixels.set(tile.subarray(y * width * 4, (y + 1) * width * 4), ((y0 + y) * layout.width + x0) * 4);
  }
}

/** Draws the mosaic into a canvas sized to it; false where there is no 2D context (jsdom). */
export function drawMosaic(
  canvas: HTMLCanvasElement,
  frame: DecodedFrame,
  probe: number,
  layout: MosaicLayout,
  dead: [number, number, number],
  scale: SnapshotScale = 'filter',
): boolean {
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
  paintMosaic(image.data, frame, probe, layout, dead, scale);
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
