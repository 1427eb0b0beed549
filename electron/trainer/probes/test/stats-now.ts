// A step's layer numbers read synchronously, as the cpu backend allows: the probe tests run
// their cases inside tf.tidy, which an `await` would leave. The trainer reads with `read`.
import type { LayerStats } from '#protocol/messages';
import type { Captured } from '../layer-taps';
import type { LayerStatsTracker, StepTensors } from '../layer-stats';

export function statsNow(tracker: LayerStatsTracker, step: number, captured: (layer: string) => Captured | undefined, tensors: StepTensors): LayerStats[] {
  const pending = tracker.pack(step, captured, tensors);
  try {
    return tracker.describeStep(pending, pending.packed.dataSync() as Float32Array);
  } finally {
    pending.packed.dispose();
  }
}
