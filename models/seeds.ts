// Seeds derived from names: one 32-bit seed per (model or run seed, layer name[, step]).
// Initial weights (layerSeed in lightcnn.ts) and the per-step randomness of dropout and
// RReLU (stepSeed in step-random.ts) both come from here, so the same name and seed give
// the same numbers in every module. Changing anything here changes every initial weight
// and every mask: runs would no longer reproduce (or resume) as they were trained.

/** FNV-1a (32-bit) of the string's UTF-16 code units. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** An avalanching finalizer (xorshift-multiply, as lowbias32): every input bit moves every output bit. */
export function finalizeHash(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The seed for `name`'s randomness under `seed` (taken modulo 2^32), and in training step
 * `step` when given: a different name, seed or step gives an unrelated seed in [0, 2^32).
 */
export function mixSeed(seed: number, name: string, step?: number): number {
  const stepPart = step === undefined ? 0 : Math.imul(step + 1, 0xc2b2ae35);
  return finalizeHash(Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ stepPart ^ hashString(name));
}
