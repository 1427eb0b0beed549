// Seeds for the random parts of a training step (dropout masks, RReLU slopes).
// They must differ from step to step yet be reproducible after a resume, so they
// derive from (run seed, step, layer), never from a generator whose state would
// have to be saved. The training loop sets the step before each forward pass;
// stochastic layers ask for their seed by name.

let runSeed = 0;
let step = 0;

export function setTrainingStep(seed: number, stepIndex: number): void {
  runSeed = seed >>> 0;
  step = stepIndex;
}

function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A seed for `layerName`'s randomness in the current step. */
export function stepSeed(layerName: string): number {
  let h = Math.imul(runSeed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35) ^ hashString(layerName);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}
