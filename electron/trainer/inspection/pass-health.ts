// The numbers of a whole inspection pass, from its batches' LayerStats (plain data).
//
// The dead counts need no combining: the pass sets the tracker's window to its number of
// batches, so the last batch's counts already say "dead on every image of the pass" (a unit
// alive for one image of one batch is alive). What is per batch is the health: mean, std and
// the fractions are each batch's, and are combined here weighted by the batch's images (every
// image has the same number of entries, so the weights are exact); the std is pooled from each
// batch's mean and std (E[y^2] = std^2 + mean^2). The inputs were rounded to 4 significant
// digits by the tracker, so the pass's numbers carry that much error.
//
// What an inference pass cannot measure, because nothing flows backwards and nothing is
// updated: gradOutputMeanAbs, gradWeightMeanAbs and updateRatio stay null. died and revived
// are 0 (one pass has no "before"); neverFired is the same as dead (the pass is the whole
// history looked at).
import type { LayerStats } from '#protocol/messages';

/** One batch's numbers and how many images it had. */
export interface BatchStats {
  readonly count: number;
  readonly layers: readonly LayerStats[];
}

/** Every layer's numbers over the pass: the last batch's dead counts, the health combined over every batch. */
export function passLayerStats(batches: readonly BatchStats[]): LayerStats[] {
  const last = batches.at(-1);
  if (last === undefined) return [];
  return last.layers.map((final) => {
    const seen = batches.flatMap((b) => {
      const stats = b.layers.find((l) => l.layer === final.layer);
      return stats ? [{ count: b.count, stats }] : [];
    });
    return combine(final, seen);
  });
}

function combine(final: LayerStats, seen: readonly { count: number; stats: LayerStats }[]): LayerStats {
  const total = seen.reduce((sum, s) => sum + s.count, 0);
  const weighted = (pick: (s: LayerStats) => number | null | undefined): number | null => {
    let sum = 0;
    for (const { count, stats } of seen) {
      const v = pick(stats);
      if (v === null || v === undefined || !Number.isFinite(v)) return null;
      sum += v * count;
    }
    return total > 0 ? sum / total : null;
  };
  const mean = weighted((s) => s.mean);
  const square = weighted((s) => s.std * s.std + s.mean * s.mean);
  const std = mean !== null && square !== null ? Math.sqrt(Math.max(0, square - mean * mean)) : final.std;
  const rates = final.pieceWinRates?.map((_, i) => weighted((s) => s.pieceWinRates?.[i]));
  return {
    ...final,
    died: 0,
    revived: 0,
    mean: round(mean ?? final.mean),
    std: round(std),
    zeroFraction: round(weighted((s) => s.zeroFraction) ?? final.zeroFraction),
    saturatedFraction: orNull(weighted((s) => s.saturatedFraction)),
    negativeFraction: orNull(weighted((s) => s.negativeFraction)),
    gradOutputMeanAbs: null,
    gradWeightMeanAbs: null,
    updateRatio: null,
    ...(rates && rates.every((r) => r !== null) ? { pieceWinRates: (rates as number[]).map(round) } : {}),
  };
}

function orNull(v: number | null): number | null {
  return v === null ? null : round(v);
}

/** Four significant digits, as the tracker rounds. */
function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(4)) : v;
}
