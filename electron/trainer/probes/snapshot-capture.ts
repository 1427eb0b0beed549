// The capture half of activation-map snapshots (snapshots.ts has the file format and the
// files): tensors in, encoded frames out, no Node imports, because the compute core holds
// it and must also bundle for a browser page (the app's GPU host).
import * as tf from '@tensorflow/tfjs';
import type { BuiltModel } from '../../../models/lightcnn';
import { frameChannel } from '#protocol/frames';
import { encodeActivationFrame } from './activation-frames';

/** Probe faces kept in a snapshot at most (the first ones of the run's probe list). */
export const MAX_SNAPSHOT_PROBES = 4;
/** Largest side of a map in a snapshot (larger maps are block-averaged, as in the live view). */
export const SNAPSHOT_MAX_SIDE = 32;

/**
 * Takes the maps of every activation layer of a model for a few probe faces: one inference
 * pass through a model that shares the training model's layers and weights and outputs
 * each activation layer (made once), then the same encoding as the live frames.
 */
export class SnapshotCapture {
  private probeModel: tf.LayersModel | null = null;

  constructor(
    private readonly built: BuiltModel,
    private readonly maxSide = SNAPSHOT_MAX_SIDE,
  ) {}

  get layers(): readonly string[] {
    return this.built.activationLayers;
  }

  /** One frame per activation layer, in the model's order, for the probe faces' crops `xs` (not kept) of `probes` (dataset image indices) at `step`. */
  async capture(xs: tf.Tensor4D, probes: readonly number[], step: number): Promise<ArrayBuffer[]> {
    if (probes.length === 0) throw new RangeError('a snapshot needs at least one probe face');
    let outputs: tf.Tensor[] = [];
    try {
      const model = this.model();
      outputs = tf.tidy(() => {
        const out = model.apply(xs, { training: false });
        return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
      });
      const layers = this.built.activationLayers;
      const frames: ArrayBuffer[] = [];
      for (const [i, maps] of outputs.entries()) {
        const layer = layers[i] as string;
        frames.push(await encodeActivationFrame(maps, { layer, kind: 'activation', channel: frameChannel(layer, 'activation'), step, probes, maxSide: this.maxSide }));
      }
      return frames;
    } finally {
      for (const t of outputs) t.dispose();
    }
  }

  private model(): tf.LayersModel {
    if (this.probeModel === null) {
      const source = this.built.model;
      const outputs = this.built.activationLayers.map((name) => source.getLayer(name).output as tf.SymbolicTensor);
      // Shares the layers (and so the weights) of `source`: never dispose it.
      this.probeModel = tf.model({ inputs: source.inputs, outputs, name: `${source.name}_snapshot` });
    }
    return this.probeModel;
  }
}
