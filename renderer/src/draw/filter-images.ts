// The first convolution's filters as small images (what a first layer learns: edges, blobs,
// colour opponents). One colour scale for all of them, symmetric around 0: mid-grey is a weight
// of 0, black -s and white +s, where s is the largest |weight| of any filter, so filters compare
// with each other and the sign reads at a glance. One input channel is greyscale, three are
// RGB (each channel on the same scale), any other count the mean over the input channels.
// Pixels are scaled up by whole numbers with nearest neighbour (each weight a crisp square).
// Plain TypeScript on RGBA buffers: components putImageData the result; tests read the pixels.
import type { FirstFilters } from '#protocol/messages';

export type FilterColourMode = 'grey' | 'rgb' | 'mean';

export function filterMode(inChannels: number): FilterColourMode {
  return inChannels === 1 ? 'grey' : inChannels === 3 ? 'rgb' : 'mean';
}

/** Filter f's weight at (y, x) of input channel c (tfjs' [height, width, inChannels, count] layout). */
export function filterWeight(f: FirstFilters, filter: number, y: number, x: number, c: number): number {
  return f.values[((y * f.width + x) * f.inChannels + c) * f.count + filter] ?? 0;
}

/**
 * The colour scale's reach: the largest |value| shown, over every filter (in 'mean' mode, of
 * the channel means, which is what is drawn). 0 when every weight is 0.
 */
export function filterScale(f: FirstFilters): number {
  let s = 0;
  if (filterMode(f.inChannels) === 'mean') {
    for (let filter = 0; filter < f.count; filter++)
      for (let y = 0; y < f.height; y++) for (let x = 0; x < f.width; x++) s = Math.max(s, Math.abs(meanWeight(f, filter, y, x)));
    return s;
  }
  for (const v of f.values) if (Number.isFinite(v)) s = Math.max(s, Math.abs(v));
  return s;
}

function meanWeight(f: FirstFilters, filter: number, y: number, x: number): number {
  let sum = 0;
  for (let c = 0; c < f.inChannels; c++) sum += filterWeight(f, filter, y, x, c);
  return sum / f.inChannels;
}

/** A weight as a byte on the symmetric scale: -scale 0, 0 128 (mid-grey), +scale 255. */
export function weightByte(v: number, scale: number): number {
  if (!(scale > 0) || !Number.isFinite(v)) return 128;
  return Math.max(0, Math.min(255, Math.round(127.5 + (127.5 * v) / scale)));
}

export interface FilterGridLayout {
  columns: number;
  rows: number;
  /** Screen pixels per weight. */
  zoom: number;
  /** A tile's size in pixels (the filter's size times zoom). */
  tileWidth: number;
  tileHeight: number;
  /** Pixels between tiles. */
  gap: number;
  width: number;
  height: number;
}

/** Tiles at least `minTile` pixels wide (a whole-number zoom), in rows of at most `maxColumns`. */
export function filterGridLayout(f: Pick<FirstFilters, 'height' | 'width' | 'count'>, { maxColumns = 16, minTile = 24, gap = 2 }: { maxColumns?: number; minTile?: number; gap?: number } = {}): FilterGridLayout {
  const zoom = Math.max(1, Math.ceil(minTile / Math.max(1, f.height, f.width)));
  const columns = Math.max(1, Math.min(f.count, maxColumns));
  const rows = Math.max(1, Math.ceil(f.count / columns));
  const tileWidth = f.width * zoom;
  const tileHeight = f.height * zoom;
  return { columns, rows, zoom, tileWidth, tileHeight, gap, width: columns * (tileWidth + gap) + gap, height: rows * (tileHeight + gap) + gap };
}

/** Where filter i's tile starts, in pixels. */
export function filterTileOrigin(layout: FilterGridLayout, filter: number): { x: number; y: number } {
  return { x: layout.gap + (filter % layout.columns) * (layout.tileWidth + layout.gap), y: layout.gap + Math.floor(filter / layout.columns) * (layout.tileHeight + layout.gap) };
}

/** Filter i's colour at weight pixel (y, x), as RGB bytes. */
export function filterColour(f: FirstFilters, filter: number, y: number, x: number, scale: number): [number, number, number] {
  const mode = filterMode(f.inChannels);
  if (mode === 'rgb') return [0, 1, 2].map((c) => weightByte(filterWeight(f, filter, y, x, c), scale)) as [number, number, number];
  const v = weightByte(mode === 'grey' ? filterWeight(f, filter, y, x, 0) : meanWeight(f, filter, y, x), scale);
  return [v, v, v];
}

/** Every filter, scaled up, on a white ground: RGBA, layout.width x layout.height. */
export function paintFilterGrid(f: FirstFilters, layout: FilterGridLayout, scale = filterScale(f)): Uint8ClampedArray {
  const pixels = new Uint8ClampedArray(layout.width * layout.height * 4).fill(255);
  for (let filter = 0; filter < f.count; filter++) {
    const origin = filterTileOrigin(layout, filter);
    for (let y = 0; y < f.height; y++) {
      for (let x = 0; x < f.width; x++) {
        const [r, g, b] = filterColour(f, filter, y, x, scale);
        for (let dy = 0; dy < layout.zoom; dy++) {
          let at = ((origin.y + y * layout.zoom + dy) * layout.width + origin.x + x * layout.zoom) * 4;
          for (let dx = 0; dx < layout.zoom; dx++, at += 4) {
            pixels[at] = r;
            pixels[at + 1] = g;
            pixels[at + 2] = b;
          }
        }
      }
    }
  }
  return pixels;
}

/** The legend: what mid-grey, black and white (or each colour channel) stand for. */
export function filterLegend(f: FirstFilters, scale = filterScale(f)): string {
  const s = Number(scale.toPrecision(3));
  const mode = filterMode(f.inChannels);
  const reach = scale > 0 ? `black −${s}, white +${s}` : 'every weight is 0';
  const shared = `one scale for all ${f.count} filters (±${s}, the largest |${mode === 'mean' ? 'mean' : 'weight'}|)`;
  if (mode === 'rgb') return `Each of R, G, B is one input channel's weight: mid = 0, none −${s}, full +${s}; ${shared}.`;
  if (mode === 'grey') return `Mid-grey = 0, ${reach}; ${shared}.`;
  return `The mean over the ${f.inChannels} input channels: mid-grey = 0, ${reach}; ${shared}.`;
}
