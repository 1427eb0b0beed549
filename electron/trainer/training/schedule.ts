// Learning rate over a run, as a function of the (fractional) epoch.
import type { TrainConfig } from './config';

export function learningRate(config: Pick<TrainConfig, 'lr' | 'schedule' | 'stepEpochs' | 'gamma' | 'epochs'>, epoch: number): number {
  switch (config.schedule) {
    case 'constant':
      return config.lr;
    case 'step':
      return config.lr * config.gamma ** Math.floor(epoch / config.stepEpochs);
    case 'cosine':
      return 0.5 * config.lr * (1 + Math.cos(Math.PI * Math.min(1, epoch / config.epochs)));
  }
}
