// SGD with momentum and Adam, written out so that their semantics are PyTorch's
// (the Light CNN reference): weight decay is added to the gradient (L2), SGD's
// velocity is v = mu v + g (no dampening), Adam is bias-corrected. Their state is a
// list of named tensors so that a checkpoint holds it and a resume continues it.
import * as tf from '@tensorflow/tfjs';

export interface OptimizerSettings {
  readonly kind: 'sgd' | 'adam';
  readonly momentum: number;
  readonly weightDecay: number;
}

export interface NamedVariable {
  readonly name: string;
  readonly variable: tf.Variable;
  /** False for parameters weight decay must not pull to zero (PReLU slopes, as He et al. 2015). */
  readonly decay: boolean;
}

const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;
const ADAM_EPSILON = 1e-8;

export class Optimizer {
  private readonly slots = new Map<string, tf.Variable[]>();
  /** Updates applied so far (Adam's bias correction needs it). */
  private updates = 0;

  constructor(
    private readonly settings: OptimizerSettings,
    private readonly params: readonly NamedVariable[],
  ) {
    const perParam = settings.kind === 'adam' ? 2 : 1;
    for (const { name, variable } of params) {
      this.slots.set(name, Array.from({ length: perParam }, () => tf.tidy(() => tf.zerosLike(variable).variable(false))));
    }
  }

  /** Applies one update. `grads` maps a parameter's name to its gradient. */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    this.updates++;
    const t = this.updates;
    const { kind, momentum, weightDecay } = this.settings;
    tf.tidy(() => {
      for (const { name, variable, decay } of this.params) {
        const grad = grads.get(name);
        if (!grad) continue; // a parameter the loss does not reach
        const g = weightDecay > 0 && decay ? grad.add(variable.mul(weightDecay)) : grad;
        const slots = this.slots.get(name) as tf.Variable[];
        if (kind === 'sgd') {
          const velocity = slots[0] as tf.Variable;
          const v = t === 1 ? g : velocity.mul(momentum).add(g); // PyTorch starts the buffer at g
          velocity.assign(v);
          variable.assign(variable.sub(v.mul(lr)));
        } else {
          const [m, v] = slots as [tf.Variable, tf.Variable];
          const mNew = m.mul(ADAM_BETA1).add(g.mul(1 - ADAM_BETA1));
          const vNew = v.mul(ADAM_BETA2).add(g.square().mul(1 - ADAM_BETA2));
          m.assign(mNew);
          v.assign(vNew);
          const mHat = mNew.div(1 - ADAM_BETA1 ** t);
          const vHat = vNew.div(1 - ADAM_BETA2 ** t);
          variable.assign(variable.sub(mHat.div(vHat.sqrt().add(ADAM_EPSILON)).mul(lr)));
        }
      }
    });
  }

  get updateCount(): number {
    return this.updates;
  }

  /** The state a checkpoint needs, as named tensors (the optimizer's own: do not dispose). */
  stateTensors(): Array<{ name: string; tensor: tf.Tensor }> {
    const out: Array<{ name: string; tensor: tf.Tensor }> = [];
    for (const [name, slots] of this.slots) slots.forEach((slot, i) => out.push({ name: `optimizer/${name}/${i}`, tensor: slot }));
    return out;
  }

  loadState(tensors: ReadonlyMap<string, tf.Tensor>, updateCount: number): void {
    for (const [name, slots] of this.slots) {
      slots.forEach((slot, i) => {
        const saved = tensors.get(`optimizer/${name}/${i}`);
        if (!saved) throw new Error(`the checkpoint has no optimizer state for ${name}`);
        slot.assign(saved);
      });
    }
    this.updates = updateCount;
  }

  dispose(): void {
    for (const slots of this.slots.values()) for (const slot of slots) slot.dispose();
    this.slots.clear();
  }
}
