// Reads canvases' pixels in the page: is a map drawn (more than one colour), and has it changed?
import type { Locator } from 'playwright-core';
import type { PageCanvas, PageGlobals } from './page-globals';

export interface CanvasPixels {
  width: number;
  height: number;
  /** Distinct RGBA values, counted up to 256. */
  colours: number;
  /** Variance of the pixels' luminance (0: one flat colour). */
  variance: number;
  /** FNV-1a of the RGBA bytes. */
  hash: string;
}

/** One entry per canvas the locator matches, in document order. */
export function canvasPixels(canvases: Locator): Promise<CanvasPixels[]> {
  return canvases.evaluateAll((elements) =>
    elements.map((element) => {
      const { document } = globalThis as unknown as PageGlobals;
      const canvas = element as unknown as PageCanvas;
      const { width, height } = canvas;
      if (width === 0 || height === 0) return { width, height, colours: 0, variance: 0, hash: 'empty' };
      // Copy into a 2D canvas: works whatever context the view drew with.
      const copy = document.createElement('canvas');
      copy.width = width;
      copy.height = height;
      const context = copy.getContext('2d', { willReadFrequently: true })!;
      context.drawImage(canvas, 0, 0);
      const data = context.getImageData(0, 0, width, height).data;
      const colours = new Set<number>();
      let hash = 0x811c9dc5;
      let sum = 0;
      let sumSq = 0;
      for (let i = 0; i < data.length; i += 4) {
        const r = data[i]!, g = data[i + 1]!, b = data[i + 2]!, a = data[i + 3]!;
        if (colours.size < 256) colours.add(((r << 24) | (g << 16) | (b << 8) | a) >>> 0);
        const y = ((0.299 * r + 0.587 * g + 0.114 * b) * a) / 255;
        sum += y;
        sumSq += y * y;
        for (const byte of [r, g, b, a]) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
      }
      const n = data.length / 4;
      const mean = sum / n;
      return { width, height, colours: colours.size, variance: sumSq / n - mean * mean, hash: hash.toString(16) };
    }),
  );
}

/** A canvas shows a picture, not one flat colour. */
export const drawn = (pixels: CanvasPixels): boolean => pixels.colours > 1;
