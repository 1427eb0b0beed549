// Where a run's loss stands against chance level, ln(classes): the loss of a classifier that
// gives every identity the same probability, where every well-initialised run starts. The
// trainer's loss watch (electron/trainer/training/loss-watch.ts) says "has not started
// learning" by these numbers, and a viewer draws chance on its charts and says the same.

/** ln(classes): the loss of uniform predictions. */
export function chanceLoss(classes: number): number {
  return Math.log(classes);
}

/**
 * Steps after the warm-up before "has not started learning" is said, and the steps it averages.
 * LightCNN-9's recipe run on ORL leaves chance between steps 40 and 80 (bench/NOTES.md).
 */
export const LEARNING_GRACE_STEPS = 100;
export const LEARNING_WINDOW = 20;
/** Still "at chance" while the recent mean loss is above this fraction of ln(classes). */
export const AT_CHANCE_FRACTION = 0.97;
