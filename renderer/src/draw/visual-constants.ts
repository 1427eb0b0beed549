// The lab's visual constants in one place: the series palette and line patterns, the fixed
// colours of charts and of the flat-map hatch, and the tile sizes of the activation maps. The
// page's own colours (text, panels, accent, danger) are CSS variables in styles/lab.css, which
// follow the light or dark theme; these are what canvases and exported SVGs draw with, so they
// read on either. The colour maps themselves (viridis, inferno, diverging) are heatmap.ts'.

/** RGB, 0 to 255. */
export type Rgb = readonly [number, number, number];

/** A palette that reads on light and dark backgrounds (Okabe-Ito, colour-blind safe). */
export const SERIES_COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#999999'];

/**
 * Line patterns for each pass through the palette: solid, dashed, dotted, dash-dot. With the
 * 8 colours that is 32 distinct lines, enough for LightCNN-29's ~30 activation layers; past
 * that the combinations repeat (the legend still names each line).
 */
export const SERIES_DASHES: readonly (readonly number[] | null)[] = [null, [9, 4], [2, 3], [10, 3, 2, 3]];

/** A line chart's reference lines (a target, a level to beat): faint and dashed. */
export const REFERENCE_LINE_COLOUR = '#888888';
/** The chance level on the evaluation's charts (the ROC's diagonal). */
export const CHANCE_COLOUR = '#999999';

/** The two greys of the flat hatch: no colour map has greys, so a flat tile never reads as a value, nor as the red of "dead". */
export const FLAT_LIGHT: Rgb = [204, 204, 204];
export const FLAT_DARK: Rgb = [150, 150, 150];
/** The same hatch as a CSS background, for the legends' swatches. */
export const FLAT_HATCH_CSS = `repeating-linear-gradient(45deg, rgb(${FLAT_LIGHT.join(' ')}) 0 3px, rgb(${FLAT_DARK.join(' ')}) 3px 6px)`;

/** The ridgeline's ridges: TensorBoard's orange for the newest step, the oldest a pale tint of it. */
export const RIDGE_NEW_COLOUR: Rgb = [232, 113, 10];
export const RIDGE_OLD_COLOUR: Rgb = [250, 214, 176];

/** An activation map's tile on screen, in CSS pixels: smaller as a layer has more channels. */
export function activationTileSize(channels: number): number {
  return channels <= 16 ? 72 : channels <= 64 ? 54 : channels <= 160 ? 40 : 32;
}

/** A saved snapshot's map tile, about this many pixels wide (small maps pixelated up). */
export const SNAPSHOT_TILE = 48;

/** Below this many pixels on screen a tile is too small to carry a word (a flat map gets the hatch alone). */
export const MIN_WORDED_TILE = 24;
