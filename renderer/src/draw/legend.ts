// What a line chart's legend shows beside each series (components/LineChart.svelte, on uPlot):
// the value under the cursor while the mouse is over the plot, and otherwise each series'
// latest value, not uPlot's "--". A series may carry a note per point (the count behind a
// percentage: "4 of 32 filters"), shown after the value.

/** The index of the last point with a value, or -1. */
export function lastIndexWithValue(values: readonly (number | null | undefined)[]): number {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v !== null && v !== undefined && Number.isFinite(v)) return i;
  }
  return -1;
}

/**
 * The legend's text for one series: at `idx` (the cursor's point) when there is one, else at
 * its latest point; "—" where it has no value.
 */
export function legendText(
  values: readonly (number | null | undefined)[],
  idx: number | null | undefined,
  format: (v: number) => string,
  notes?: readonly (string | null | undefined)[],
): string {
  const at = idx === null || idx === undefined ? lastIndexWithValue(values) : idx;
  const v = at >= 0 ? values[at] : null;
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const note = notes?.[at];
  return note ? `${format(v)} (${note})` : format(v);
}
