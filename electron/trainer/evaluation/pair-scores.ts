// Checks and ordering of verification pair scores, shared by roc.ts and metrics.ts.
//
// `scores[i]` is pair i's cosine similarity and `matched[i]` is 1 for a same-identity
// pair, 0 otherwise; scores must be finite (see the conventions in metrics.ts).

/** Indices of `scores` in ascending score order (stable for ties). */
export function sortedOrder(scores: Float32Array): Uint32Array {
  const order = new Uint32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((x, y) => (scores[x] as number) - (scores[y] as number) || x - y);
  return order;
}

export function checkScoreArrays(scores: Float32Array, matched: Uint8Array, fn: string): { positives: number; negatives: number } {
  if (scores.length !== matched.length) {
    throw new Error(`${fn}: ${scores.length} scores but ${matched.length} matched flags; they must describe the same pairs.`);
  }
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i] as number)) throw new Error(`${fn}: the score of pair ${i} is ${scores[i]}; scores must be finite.`);
    const m = matched[i];
    if (m === 1) positives++;
    else if (m !== 0) throw new Error(`${fn}: matched[${i}] is ${m}; use 1 for a matched pair and 0 for a mismatched one.`);
  }
  return { positives, negatives: scores.length - positives };
}

export function checkScores(scores: Float32Array, matched: Uint8Array, fn: string): { positives: number; negatives: number } {
  const counts = checkScoreArrays(scores, matched, fn);
  if (counts.positives === 0) throw new Error(`${fn}: there are no matched pairs; verification needs both kinds of pair.`);
  if (counts.negatives === 0) throw new Error(`${fn}: there are no mismatched pairs; verification needs both kinds of pair.`);
  return counts;
}
