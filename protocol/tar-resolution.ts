// Whether a TAR at a fixed FAR can be read from this many mismatched pairs, and whether it is
// rough: one rule for the app (Evaluate, Compare) and the command line (`lab eval`). Plain
// TypeScript with no imports, so that the renderer bundles it too.

/**
 * False accepts a TAR @ FAR point must rest on to be shown. FAR f over n mismatched pairs
 * allows n·f false accepts: below one, the threshold cannot be placed at that FAR at all (0.1%
 * of 770 pairs is 0.77 of a pair), so the number would only repeat the TAR at FAR 0. One is
 * the hard floor; a point resting on fewer than ROUGH_BELOW is shown but flagged as rough.
 */
export const MIN_FALSE_ACCEPTS = 1;
/** Below this many false accepts a TAR @ FAR point is set by a handful of impostor scores: shown, flagged rough. */
export const ROUGH_BELOW = 10;

export interface TarResolution {
  /** Whether there are enough mismatched pairs to read a TAR at this FAR. */
  resolvable: boolean;
  /** False accepts the FAR allows over these mismatched pairs (mismatched × FAR). */
  falseAccepts: number;
  /** Mismatched pairs needed for MIN_FALSE_ACCEPTS false accepts. */
  neededPairs: number;
  /** Resolvable, but resting on fewer than ROUGH_BELOW false accepts. */
  rough: boolean;
  /** Why the point is hidden or rough (for a title), or '' when it is neither. */
  note: string;
}

export function tarResolution(mismatchedPairs: number, far: number): TarResolution {
  const falseAccepts = mismatchedPairs * far;
  // 1e-9: FARs are decimal fractions (0.001 * 1000 is 1.0000000000000002 or 0.9999999999999999).
  const neededPairs = far > 0 ? Math.ceil(MIN_FALSE_ACCEPTS / far - 1e-9) : Infinity;
  const resolvable = far > 0 && falseAccepts >= MIN_FALSE_ACCEPTS - 1e-9;
  const rough = resolvable && falseAccepts < ROUGH_BELOW - 1e-9;
  const allows = `${Number(falseAccepts.toPrecision(3))} false accept${falseAccepts === 1 ? '' : 's'}`;
  const note = !resolvable
    ? `needs at least ${Number.isFinite(neededPairs) ? neededPairs.toLocaleString('en') : 'more'} mismatched pairs: at this FAR, ${mismatchedPairs.toLocaleString('en')} allow ${allows}, less than one`
    : rough
      ? `rough: at this FAR, ${mismatchedPairs.toLocaleString('en')} mismatched pairs allow only ${allows}`
      : '';
  return { resolvable, falseAccepts, neededPairs, rough, note };
}
