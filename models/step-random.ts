// Seeds for the random parts of a training step (dropout masks, RReLU slopes).
// They must differ from step to step yet be reproducible after a resume, so they
// derive from (run seed, step, layer), never from a generator whose state would
// have to be saved. The training loop sets the step before each forward pass;
// stochastic layers ask for their seed by name (mixed as in ./seeds, like the initial weights).
import { mixSeed } from './seeds';

let runSeed = 0;
let step = 0;

export function setTrainingStep(seed: number, stepIndex: number): void {
  runSeed = seed >>> 0;
  step = stepIndex;
}

/** A seed for `layerName`'s randomness in the current step. */
export function stepSeed(layerName: string): number {
  return mixSeed(runSeed, layerName, step);
}
