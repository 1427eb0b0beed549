// Reads the training loss against chance level, ln(classes): the loss of a classifier that
// gives every identity the same probability, where every well-initialised run starts.
//   - far above chance means the logits are large and confidently wrong: the run is
//     diverging, even while every number is still finite (SGD at lr 30 reaches 1.6e11 at
//     step 2). A checkpoint taken then is not a good one to resume from.
//   - still at chance long after the warm-up means the network has not started learning.
// Plain arithmetic on the numbers each step already reads back: no tensors.

import { AT_CHANCE_FRACTION, chanceLoss, LEARNING_GRACE_STEPS, LEARNING_WINDOW } from '#protocol/chance-level';

export { AT_CHANCE_FRACTION, chanceLoss, LEARNING_GRACE_STEPS, LEARNING_WINDOW } from '#protocol/chance-level';

/**
 * Above this the loss is "high" (or above 1.5 x the run's first loss, when that is higher): no checkpoint is taken (the last good one stays the one to
 * resume from). 3 x chance, and at least chance + 3 (for 2 classes, ln 2 = 0.69 is so small that
 * an ordinary wrong guess of a young network reaches 3 x chance).
 */
export function highLoss(classes: number): number {
  const chance = chanceLoss(classes);
  return Math.max(3 * chance, chance + 3);
}

/** At once "exploded" above this (or above 5 x the run's first loss): 10 x chance, and at least chance + 20 (p(true class) < e^-20). */
export function explodedLoss(classes: number): number {
  const chance = chanceLoss(classes);
  return Math.max(10 * chance, chance + 20);
}

/** Steps in a row above `highLoss` that count as a divergence even below `explodedLoss`. */
export const HIGH_STREAK_LIMIT = 5;

export type LossVerdict =
  | { readonly kind: 'ok' }
  /** Above `highLoss`: say so once per streak, take no checkpoint. */
  | { readonly kind: 'high'; readonly first: boolean; readonly streak: number }
  | { readonly kind: 'exploded'; readonly reason: string };

export class LossWatch {
  readonly chance: number;
  high: number;
  exploded: number;
  private streak = 0;
  private streakStart = 0;
  private readonly recent: number[] = [];
  private notLearningSaid = false;

  private started = false;

  /** `advice`: what to try when the run has not started learning (it depends on the run's settings). */
  constructor(
    readonly classes: number,
    private readonly warmupSteps: number,
    private readonly advice = 'try a lower learning rate, a longer warm-up, or a smaller model or input',
  ) {
    this.chance = chanceLoss(classes);
    this.high = highLoss(classes);
    this.exploded = explodedLoss(classes);
  }

  /**
   * The first loss seen sets a floor under both thresholds: an initialisation that starts above
   * chance (He-normal LightCNN-9 at 128 px: 16.4 on 40 classes, 4.4 x chance) is a start, not a
   * divergence; what counts is how far the loss climbs from there.
   */
  private baseline(loss: number): void {
    if (this.started) return;
    this.started = true;
    this.high = Math.max(this.high, 1.5 * loss);
    this.exploded = Math.max(this.exploded, 5 * loss);
  }

  /** Whether the loss is high now: checkpoints wait until it is back down. */
  get isHigh(): boolean {
    return this.streak > 0;
  }

  /** The step where the current high streak began (0 when none). */
  get highSince(): number {
    return this.streak > 0 ? this.streakStart : 0;
  }

  /** The verdict on step `step`'s (finite) loss. */
  observe(step: number, loss: number): LossVerdict {
    this.baseline(loss);
    this.recent.push(loss);
    if (this.recent.length > LEARNING_WINDOW) this.recent.shift();
    if (loss <= this.high) {
      this.streak = 0;
      return { kind: 'ok' };
    }
    if (this.streak === 0) this.streakStart = step;
    this.streak++;
    const times = (loss / this.chance).toFixed(loss / this.chance < 10 ? 1 : 0);
    if (loss > this.exploded) return { kind: 'exploded', reason: `the loss reached ${formatLoss(loss)}, ${times} x chance level (ln ${this.classes} = ${this.chance.toFixed(2)})` };
    if (this.streak >= HIGH_STREAK_LIMIT) {
      return { kind: 'exploded', reason: `the loss stayed above ${formatLoss(this.high)} (${(this.high / this.chance).toFixed(1)} x chance level, ln ${this.classes} = ${this.chance.toFixed(2)}) for ${this.streak} steps, now ${formatLoss(loss)}` };
    }
    return { kind: 'high', first: this.streak === 1, streak: this.streak };
  }

  /**
   * Once, LEARNING_GRACE_STEPS after the warm-up: a message when the mean loss of the last
   * LEARNING_WINDOW steps is still at chance level; otherwise undefined.
   */
  notLearning(step: number): string | undefined {
    if (this.notLearningSaid || step !== this.warmupSteps + LEARNING_GRACE_STEPS || this.recent.length < LEARNING_WINDOW) return undefined;
    const mean = this.recent.reduce((a, b) => a + b, 0) / this.recent.length;
    if (mean < AT_CHANCE_FRACTION * this.chance) return undefined;
    this.notLearningSaid = true;
    return (
      `the network has not started learning: ${step} steps in${this.warmupSteps > 0 ? ` (${this.warmupSteps} of warm-up)` : ''}, the loss of the last ${LEARNING_WINDOW} steps is ${mean.toFixed(3)}, ` +
      `still chance level (ln ${this.classes} = ${this.chance.toFixed(3)}). Deep nets from PyTorch's initialisation can sit there a while; ` +
      `if it stays, ${this.advice}`
    );
  }
}

function formatLoss(loss: number): string {
  return Math.abs(loss) >= 1e5 ? loss.toExponential(2) : loss.toFixed(2);
}
