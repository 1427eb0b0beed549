// Chance level, the yardstick of a classifier's first steps: a network that gives each of C
// identities the same probability has a loss of ln C and an accuracy of 1/C, and every
// well-initialised run starts there. The charts draw it; the Train view says when a run is
// still there long after its warm-up. The thresholds are the protocol's
// (protocol/chance-level.ts), the ones the trainer's loss watch warns by, so the two agree.
import { AT_CHANCE_FRACTION, chanceLoss, LEARNING_GRACE_STEPS, LEARNING_WINDOW } from '#protocol/chance-level';
import type { ReferenceLine } from '../draw/reference-lines';

export { AT_CHANCE_FRACTION, LEARNING_GRACE_STEPS, LEARNING_WINDOW };

/** Whether `classes` is a number of identities chance level can be drawn for. */
export function isClassCount(classes: unknown): classes is number {
  return typeof classes === 'number' && Number.isInteger(classes) && classes >= 2;
}

/** 1/C as text: 0.025 for 40 identities, 9.5e-5 for 10,575. */
function formatFraction(value: number): string {
  return value >= 1e-3 ? String(Number(value.toPrecision(2))) : value.toExponential(1);
}

/**
 * The chance lines of the loss and accuracy charts for runs over these identity counts (the
 * unknown ones left out): one per distinct count, named by it when the runs differ.
 */
export function chanceLines(classCounts: readonly unknown[]): { loss: ReferenceLine[]; accuracy: ReferenceLine[] } {
  const counts = [...new Set(classCounts.filter(isClassCount))].sort((a, b) => a - b);
  const named = counts.length > 1;
  const prefix = (c: number) => (named ? `chance, ${c.toLocaleString('en')} identities` : 'chance');
  return {
    loss: counts.map((c) => ({ label: `${prefix(c)} (ln ${c} = ${chanceLoss(c).toFixed(2)})`, value: chanceLoss(c) })),
    accuracy: counts.map((c) => ({ label: `${prefix(c)} (1/${c} = ${formatFraction(1 / c)})`, value: 1 / c })),
  };
}

/** The mean loss of a run's latest steps (LiveRun.recentLoss). */
export interface RecentLoss {
  /** The newest step. */
  step: number;
  /** Mean of the finite losses of the last `window` steps; null when there were none. */
  mean: number | null;
  /** Whether the stored steps reach back over the whole window. */
  full: boolean;
}

export interface NotLearning {
  step: number;
  mean: number;
  chance: number;
  classes: number;
  warmupSteps: number;
}

/**
 * The trainer's "has not started learning" test, held for as long as it is true: from
 * LEARNING_GRACE_STEPS after the warm-up, the mean loss of the last LEARNING_WINDOW steps is
 * still at least AT_CHANCE_FRACTION x ln C. null when the run has left chance level, has not
 * been going long enough to say, or C is not known.
 */
export function notLearning(recent: RecentLoss | null, classes: number | null, warmupSteps: number): NotLearning | null {
  if (recent === null || recent.mean === null || !recent.full || !isClassCount(classes)) return null;
  if (recent.step < warmupSteps + LEARNING_GRACE_STEPS) return null;
  const chance = chanceLoss(classes);
  if (recent.mean < AT_CHANCE_FRACTION * chance) return null;
  return { step: recent.step, mean: recent.mean, chance, classes, warmupSteps };
}
