// Learning rate over a run, as a function of the (fractional) epoch and the step.
import type { TrainConfig } from './config';

export type ScheduleSettings = Pick<TrainConfig, 'lr' | 'schedule' | 'stepEpochs' | 'gamma' | 'epochs' | 'warmupSteps'>;

/**
 * The rate of the step that starts at `epoch` (fractional) as the `step`-th (0-based) of the run.
 * A linear warm-up over the first `warmupSteps` steps scales the schedule's rate from
 * 1/warmupSteps of it up to all of it, as Goyal et al. 2017 do and as the Light CNN's author
 * advises for runs that do not converge (AlfredXiangWu/LightCNN#12).
 */
export function learningRate(config: ScheduleSettings, epoch: number, step = Number.POSITIVE_INFINITY): number {
  const warmup = config.warmupSteps > 0 ? Math.min(1, (step + 1) / config.warmupSteps) : 1;
  return warmup * scheduled(config, epoch);
}

function scheduled(config: ScheduleSettings, epoch: number): number {
  switch (config.schedule) {
    case 'constant':
      return config.lr;
    case 'step':
      return config.lr * config.gamma ** Math.floor(epoch / config.stepEpochs);
    case 'cosine':
      return 0.5 * config.lr * (1 + Math.cos(Math.PI * Math.min(1, epoch / config.epochs)));
  }
}
