// Taps on a model's activation layers: while armed, they hold on to each watched layer's
// input (the pre-activation) and output, and, in a training step, the mean |gradient|
// reaching the output. Nothing is computed or kept for layers nobody watches.
//
// A tap wraps the layer object's own `call` (tfjs' functional model calls it for every
// forward pass), so the model, its weights and its checkpoints are unchanged; `remove`
// puts the original back.
import * as tf from '@tensorflow/tfjs';

export interface Captured {
  /** The activation's input: the conv's or dense's output, [B, H, W, Cpre] or [B, Cpre]. */
  readonly x: tf.Tensor;
  /** The activation's output, [B, H, W, C] or [B, C]. */
  readonly y: tf.Tensor;
}

type Call = tf.layers.Layer['call'];

export class LayerTaps {
  private readonly originals = new Map<tf.layers.Layer, Call>();
  private watched = new Set<string>();
  private gradientsWanted = false;
  private captured = new Map<string, Captured>();
  private gradients = new Map<string, tf.Scalar>();

  constructor(model: tf.LayersModel, layerNames: readonly string[]) {
    for (const name of layerNames) {
      const layer = model.getLayer(name);
      const original = layer.call.bind(layer) as Call;
      this.originals.set(layer, layer.call);
      const tap = tf.customGrad(((y: tf.Tensor) => ({
        value: y.clone(),
        gradFunc: (dy: tf.Tensor) => {
          // Runs inside the backward pass's scope: keep the one scalar we want out of it.
          this.gradients.get(name)?.dispose();
          this.gradients.set(name, tf.keep(dy.abs().mean() as tf.Scalar));
          return dy;
        },
      })) as unknown as Parameters<typeof tf.customGrad>[0]);
      layer.call = (inputs, kwargs) => {
        const y = original(inputs, kwargs) as tf.Tensor;
        if (!this.watched.has(name)) return y;
        const x = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
        this.release(name);
        this.captured.set(name, { x: tf.keep(x.clone()), y: tf.keep(y.clone()) });
        return this.gradientsWanted ? (tap(y) as tf.Tensor) : y;
      };
    }
  }

  /**
   * Watch these layers in the forward passes until `disarm`; with `gradients`, a backward
   * pass also records the mean |d loss / d output| of each.
   */
  arm(layers: Iterable<string>, options: { gradients: boolean }): void {
    this.disposeCaptured();
    this.watched = new Set(layers);
    this.gradientsWanted = options.gradients;
  }

  disarm(): void {
    this.watched = new Set();
    this.gradientsWanted = false;
  }

  /** What the last forward pass captured for `layer` (owned by the taps until the next arm/dispose). */
  get(layer: string): Captured | undefined {
    return this.captured.get(layer);
  }

  gradientOf(layer: string): tf.Scalar | undefined {
    return this.gradients.get(layer);
  }

  /** Frees every captured tensor. */
  disposeCaptured(): void {
    for (const name of [...this.captured.keys()]) this.release(name);
    for (const g of this.gradients.values()) g.dispose();
    this.gradients.clear();
  }

  /** Puts each layer's own `call` back and frees what was captured. */
  remove(): void {
    this.disarm();
    this.disposeCaptured();
    for (const [layer, call] of this.originals) layer.call = call;
    this.originals.clear();
  }

  private release(name: string): void {
    const old = this.captured.get(name);
    if (!old) return;
    old.x.dispose();
    old.y.dispose();
    this.captured.delete(name);
  }
}
