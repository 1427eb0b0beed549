// Horizontal reference lines on a line chart (chance level, say): a value that is not data
// but a yardstick for it. uPlot has no such option; a series that is the same value at every
// x is its own way of drawing one, and gets what a reference needs for free: a legend entry,
// a place in the y range (so the line is always in view), and a toggle. Drawn thin, dashed
// and in the theme's muted colour so it never reads as a measured curve.
import type uPlot from 'uplot';

export interface ReferenceLine {
  /** The legend's text, e.g. "chance (ln 40 = 3.69)". */
  label: string;
  value: number;
}

/** The y values of a reference line over `points` x positions. */
export function referenceValues(line: ReferenceLine, points: number): number[] {
  return new Array<number>(points).fill(line.value);
}

/** uPlot's series options for a reference line. */
export function referenceSeries(line: ReferenceLine, colour: string): uPlot.Series {
  return { label: line.label, stroke: colour, width: 1, dash: [3, 5], points: { show: false }, spanGaps: true };
}

/** Only lines that can be drawn: a finite value (and a positive one on a log axis). */
export function drawableReferences(lines: readonly ReferenceLine[], logY: boolean): ReferenceLine[] {
  return lines.filter((line) => Number.isFinite(line.value) && (!logY || line.value > 0));
}

/** The lines in words, for the chart's text description: "reference: chance (ln 40 = 3.69)". */
export function describeReferences(lines: readonly ReferenceLine[]): string {
  return lines.length === 0 ? '' : `; reference: ${lines.map((line) => line.label).join(', ')}`;
}
