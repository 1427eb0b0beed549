// Activation maps as colours: 256-entry colour tables (a perceptual sequential map for
// activations, a diverging one centred on zero for pre-activations and signed activations)
// and the one function that turns a frame's uint8 map (quantised against its own min and
// max, protocol/frames.ts) into RGBA pixels under a chosen colour scale. Plain TypeScript on
// raw buffers: components call it and putImageData the result; tests check the pixels.
import { FLAT_DARK, FLAT_LIGHT } from './visual-constants';
import { dequantize, STATS_PER_MAP } from '#protocol/frames';

export { canDraw2d } from './canvas';

/** A colour table: 256 RGB triples, 768 bytes. */
export type ColourTable = Uint8Array;
export type ColourMapName = 'viridis' | 'inferno' | 'diverging';
/** Whose min and max set the colours: each map its own, the layer's maps in this frame, or everything seen so far. */
export type ScaleMode = 'filter' | 'layer' | 'global';

export interface Range {
  min: number;
  max: number;
}

// Sequential maps: matplotlib's viridis and inferno (perceptually uniform, colour-blind
// safe, readable in grey) through their ten published sample colours (as R's viridisLite
// lists them), interpolated linearly: exact at the samples, within a few levels between.
const hex = (h: string): [number, number, number] => [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
const VIRIDIS_STOPS = ['440154', '482878', '3e4a89', '31688e', '26828e', '1f9e89', '35b779', '6dcd59', 'b4de2c', 'fde725'].map(hex);
const INFERNO_STOPS = ['000004', '1b0c42', '4b0c6b', '781c6d', 'a52c60', 'cf4446', 'ed6925', 'fb9a06', 'f7d03c', 'fcffa4'].map(hex);

/** ColorBrewer RdBu, reversed: dark blue (negative) through near-white (zero) to dark red (positive). */
const DIVERGING_STOPS: readonly (readonly [number, number, number])[] = [
  [5, 48, 97],
  [33, 102, 172],
  [67, 147, 195],
  [146, 197, 222],
  [209, 229, 240],
  [247, 247, 247],
  [253, 219, 199],
  [244, 165, 130],
  [214, 96, 77],
  [178, 24, 43],
  [103, 0, 31],
];

const clampByte = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));

function stopsTable(stops: readonly (readonly [number, number, number])[]): ColourTable {
  const table = new Uint8Array(256 * 3);
  const segments = stops.length - 1;
  for (let i = 0; i < 256; i++) {
    const at = (i / 255) * segments;
    const k = Math.min(segments - 1, Math.floor(at));
    const f = at - k;
    const a = stops[k]!;
    const b = stops[k + 1]!;
    for (let c = 0; c < 3; c++) table[i * 3 + c] = clampByte(a[c]! + (b[c]! - a[c]!) * f);
  }
  return table;
}

const TABLES: Record<ColourMapName, ColourTable> = {
  viridis: stopsTable(VIRIDIS_STOPS),
  inferno: stopsTable(INFERNO_STOPS),
  diverging: stopsTable(DIVERGING_STOPS),
};

export function colourTable(name: ColourMapName): ColourTable {
  return TABLES[name];
}

/** Diverging maps are centred on zero; sequential ones run from the scale's min to its max. */
export function isDiverging(name: ColourMapName): boolean {
  return name === 'diverging';
}

/** The CSS colour of table entry i (0..255): for legends and colour bars. */
export function cssColour(table: ColourTable, i: number): string {
  const at = Math.max(0, Math.min(255, Math.round(i))) * 3;
  return `rgb(${table[at]}, ${table[at + 1]}, ${table[at + 2]})`;
}

/** A CSS linear-gradient of a table (left = low), for a colour bar. */
export function cssGradient(table: ColourTable, stops = 9): string {
  const parts: string[] = [];
  for (let s = 0; s < stops; s++) {
    const t = s / (stops - 1);
    parts.push(`${cssColour(table, t * 255)} ${(t * 100).toFixed(1)}%`);
  }
  return `linear-gradient(to right, ${parts.join(', ')})`;
}

// ---------------------------------------------------------------------------
// Ranges

/** The range a map is drawn against for a colour map: diverging maps get one symmetric about zero. */
export function displayRange(scale: Range, colours: ColourMapName): Range {
  if (!isDiverging(colours)) return scale;
  const m = Math.max(Math.abs(scale.min), Math.abs(scale.max));
  return { min: -m, max: m };
}

/** Min and max over every map of a frame's stats block ([min, max, mean, maxAbs] per map). */
export function statsRange(stats: ArrayLike<number>): Range {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i + 1 < stats.length; i += STATS_PER_MAP) {
    const lo = stats[i]!;
    const hi = stats[i + 1]!;
    if (Number.isFinite(lo) && lo < min) min = lo;
    if (Number.isFinite(hi) && hi > max) max = hi;
  }
  return min <= max ? { min, max } : { min: 0, max: 0 };
}

/** A min and max that only widens: the 'global' colour scale, across layers and frames. */
export class RunningRange {
  private lo = Infinity;
  private hi = -Infinity;

  include(range: Range): void {
    if (Number.isFinite(range.min) && range.min < this.lo) this.lo = range.min;
    if (Number.isFinite(range.max) && range.max > this.hi) this.hi = range.max;
  }

  get empty(): boolean {
    return this.lo > this.hi;
  }

  get range(): Range {
    return this.empty ? { min: 0, max: 0 } : { min: this.lo, max: this.hi };
  }

  reset(): void {
    this.lo = Infinity;
    this.hi = -Infinity;
  }
}

/**
 * The scale one map is drawn against: its own range ('filter'), the layer's range in this
 * frame ('layer'), or the running range ('global', which falls back to the layer's before
 * it has seen anything).
 */
export function scaleFor(mode: ScaleMode, own: Range, layer: Range, global: Range | null): Range {
  if (mode === 'filter') return own;
  if (mode === 'layer') return layer;
  return global && global.max >= global.min && !(global.min === 0 && global.max === 0) ? global : layer;
}

// ---------------------------------------------------------------------------
// Flat maps

/**
 * Why a map carries no picture for this face: 'flat', a map of more than one pixel with the same
 * value everywhere (min == max; a ReLU filter that gave 0 all over this face, say), or 'zero',
 * a 1x1 map (a fully connected unit) at exactly 0. Both views draw these the same way (renderFlat),
 * which is not how they mark a dead filter (a red outline: dead is about the gradient over a
 * window of steps, flat about one face's map now).
 */
export type FlatKind = 'flat' | 'zero';

export function flatKind(own: Range, pixels: number): FlatKind | null {
  if (pixels <= 1) return own.min === 0 && own.max === 0 ? 'zero' : null;
  return own.max > own.min ? null : 'flat';
}

/** The flat maps among one probe's maps of a frame's stats block ([min, max, mean, maxAbs] per map, probe-major): channel -> kind. */
export function flatMaps(stats: ArrayLike<number>, probe: number, channels: number, pixels: number): Map<number, FlatKind> {
  const out = new Map<number, FlatKind>();
  for (let c = 0; c < channels; c++) {
    const at = (probe * channels + c) * STATS_PER_MAP;
    const kind = flatKind({ min: stats[at]!, max: stats[at + 1]! }, pixels);
    if (kind) out.set(c, kind);
  }
  return out;
}

/** A flat map as diagonal stripes of two greys, two pixels wide (a 1x1 map is one light grey pixel). */
export function renderFlat(out: Uint8ClampedArray | Uint8Array, width: number, height: number): void {
  if (out.length < width * height * 4) throw new RangeError(`renderFlat: ${out.length} bytes cannot hold ${width * height} RGBA pixels`);
  for (let y = 0, o = 0; y < height; y++) {
    for (let x = 0; x < width; x++, o += 4) {
      const c = (x + y) % 4 < 2 ? FLAT_LIGHT : FLAT_DARK;
      out[o] = c[0];
      out[o + 1] = c[1];
      out[o + 2] = c[2];
      out[o + 3] = 255;
    }
  }
}

// ---------------------------------------------------------------------------
// Pixels

/**
 * For one map, the colour-table index of each of its 256 byte values: a byte stands for
 * dequantize(byte, own.min, own.max), placed on `scale` (already symmetric for diverging
 * maps). Values outside the scale are clamped to its ends. A degenerate scale (max <= min)
 * puts everything at the low end, or at the centre for a diverging map.
 */
export function byteToIndex(own: Range, scale: Range, diverging: boolean, out = new Uint8Array(256)): Uint8Array {
  const span = scale.max - scale.min;
  if (!(span > 0) || !Number.isFinite(span)) {
    out.fill(diverging ? 128 : 0);
    return out;
  }
  for (let v = 0; v < 256; v++) {
    const x = dequantize(v, own.min, own.max);
    const t = (x - scale.min) / span;
    out[v] = t <= 0 ? 0 : t >= 1 ? 255 : Math.round(t * 255);
  }
  return out;
}

/**
 * Draws one uint8-quantised map into RGBA pixels (opaque): `out` holds at least
 * map.length * 4 bytes (an ImageData's data). `own` is the map's min and max from the
 * frame's stats, `scale` the range to colour against (see scaleFor, displayRange).
 */
export function renderMap(
  out: Uint8ClampedArray | Uint8Array,
  map: ArrayLike<number>,
  own: Range,
  scale: Range,
  table: ColourTable,
  diverging = false,
): void {
  if (out.length < map.length * 4) throw new RangeError(`renderMap: ${out.length} bytes cannot hold ${map.length} RGBA pixels`);
  const index = byteToIndex(own, scale, diverging);
  for (let i = 0, o = 0; i < map.length; i++, o += 4) {
    const c = index[map[i]! & 255]! * 3;
    out[o] = table[c]!;
    out[o + 1] = table[c + 1]!;
    out[o + 2] = table[c + 2]!;
    out[o + 3] = 255;
  }
}

/** One pixel buffer per canvas, reused frame after frame (a grid repaints hundreds of tiles a second). */
const images = new WeakMap<HTMLCanvasElement, ImageData>();

/**
 * Draws `map` (height x width) into a canvas, when the page can draw: jsdom and headless pages
 * without a 2D context are skipped. `flat` draws the flat hatch instead (renderFlat).
 */
export function paintCanvas(
  canvas: HTMLCanvasElement,
  map: ArrayLike<number>,
  width: number,
  height: number,
  own: Range,
  scale: Range,
  table: ColourTable,
  diverging: boolean,
  flat = false,
): boolean {
  if (width <= 0 || height <= 0) return false;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  let context: CanvasRenderingContext2D | null = null;
  try {
    context = canvas.getContext('2d');
  } catch {
    context = null;
  }
  if (!context || typeof ImageData === 'undefined') return false;
  let image = images.get(canvas);
  if (!image || image.width !== width || image.height !== height) {
    image = new ImageData(width, height);
    images.set(canvas, image);
  }
  if (flat) renderFlat(image.data, width, height);
  else renderMap(image.data, map, own, scale, table, diverging);
  context.putImageData(image, 0, 0);
  return true;
}
