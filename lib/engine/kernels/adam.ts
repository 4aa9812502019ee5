/**
 * A fused Adam optimiser: a drop-in replacement for `tf.train.adam` whose
 * update is one pass over each parameter instead of a dozen tensor ops.
 *
 * On the wasm backend the update runs in JS directly on the wasm heap: the
 * moments in place, the parameter into fresh memory (the stock wasm matmul
 * caches packed weights by tensor id, so a parameter must not change in
 * place); for a 768 × 24576 matrix that is one ≈ 40 ms loop where
 * `tf.train.adam` spends several hundred ms in element-wise kernels and
 * allocations. On other backends it falls back to the same formula in tensor
 * ops. The formula is `tf.train.adam`'s:
 * `m ← β1 m + (1 − β1) g`, `v ← β2 v + (1 − β2) g²`,
 * `p ← p − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fusedAdam } from "./adam.ts";
 * const w = tf.variable(tf.randomNormal([4, 3]));
 * const opt = fusedAdam(1e-3);
 * opt.minimize(() => tf.sum(tf.square(w)) as tf.Scalar);
 * opt.learningRate = 5e-4; // schedules may change it between steps
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

/** A tensor with a name (tfjs's `NamedTensor`, not exported from the package root). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

interface Slot {
  name: string;
  m: tf.Variable;
  v: tf.Variable;
}

/** Adam with a fused per-parameter update (see the module docs). */
export class FusedAdamOptimizer extends tf.Optimizer {
  /** Serialisation name. */
  static get className(): string {
    return "FusedAdam";
  }

  /** Step size; may be changed between steps (learning-rate schedules). */
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private slots = new Map<string, Slot>();
  private step = 0;

  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7) {
    super();
    for (const [k, v] of Object.entries({ learningRate, beta1, beta2, epsilon })) {
      if (!Number.isFinite(v) || v < 0) throw new Error(`fusedAdam: ${k} must be a finite number ≥ 0, got ${v}`);
    }
    if (beta1 >= 1 || beta2 >= 1) throw new Error(`fusedAdam: betas must be < 1, got ${beta1}, ${beta2}`);
    this.learningRate = learningRate;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.epsilon = epsilon;
  }

  /** Applies one Adam step to the named variables. */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const pairs: [string, tf.Tensor][] = Array.isArray(variableGradients)
      ? variableGradients.map((v) => [v.name, v.tensor])
      : Object.entries(variableGradients);
    this.step += 1;
    const c1 = 1 - Math.pow(this.beta1, this.step), c2 = 1 - Math.pow(this.beta2, this.step);
    for (const [name, grad] of pairs) {
      if (grad == null) continue;
      const value = tf.engine().registeredVariables[name];
      if (value === undefined) throw new Error(`fusedAdam: no registered variable named "${name}"`);
      if (!tf.util.arraysEqual(value.shape, grad.shape)) {
        throw new Error(`fusedAdam: gradient of "${name}" has shape [${grad.shape}], variable has [${value.shape}]`);
      }
      let slot = this.slots.get(name);
      if (slot === undefined) {
        slot = {
          name,
          m: tf.tidy(() => tf.zerosLike(value).variable(false)),
          v: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        this.slots.set(name, slot);
      }
      if (tf.getBackend() === "wasm" && value.dtype === "float32" && grad.dtype === "float32") {
        this.updateOnHeap(value, grad, slot, c1, c2);
      } else {
        this.updateWithOps(value, grad, slot, c1, c2);
      }
    }
    this.incrementIterations();
  }

  private updateOnHeap(value: tf.Variable, grad: tf.Tensor, slot: Slot, c1: number, c2: number): void {
    const backend = tf.backend() as unknown as BackendWasm;
    // The new parameter goes to fresh memory: the stock wasm matmul caches packed weights by tensor id, so
    // a parameter must never change in place. The moments are private to the optimiser and update in place.
    const outInfo = backend.makeOutput([...value.shape], "float32");
    const out = tf.engine().makeTensorFromTensorInfo(outInfo);
    const q = backend.typedArrayFromHeap(outInfo) as Float32Array; // views after the allocation
    const p = backend.typedArrayFromHeap(value) as Float32Array;
    const g = backend.typedArrayFromHeap(grad) as Float32Array;
    const m = backend.typedArrayFromHeap(slot.m) as Float32Array;
    const v = backend.typedArrayFromHeap(slot.v) as Float32Array;
    const b1 = this.beta1, b2 = this.beta2, a1 = 1 - b1, a2 = 1 - b2;
    const lr1 = this.learningRate / c1, inv2 = 1 / c2, eps = this.epsilon;
    const n = p.length;
    for (let i = 0; i < n; i++) {
      const gi = g[i]!;
      const mi = b1 * m[i]! + a1 * gi;
      const vi = b2 * v[i]! + a2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      q[i] = p[i]! - (lr1 * mi) / (Math.sqrt(vi * inv2) + eps);
    }
    value.assign(out);
    out.dispose();
  }

  private updateWithOps(value: tf.Variable, grad: tf.Tensor, slot: Slot, c1: number, c2: number): void {
    tf.tidy(() => {
      const m = tf.add(tf.mul(slot.m, this.beta1), tf.mul(grad, 1 - this.beta1));
      const v = tf.add(tf.mul(slot.v, this.beta2), tf.mul(tf.square(grad), 1 - this.beta2));
      slot.m.assign(m);
      slot.v.assign(v);
      const step = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.epsilon));
      value.assign(tf.sub(value, tf.mul(step, this.learningRate)));
    });
  }

  /** Frees the moment estimates. */
  override dispose(): void {
    for (const s of this.slots.values()) tf.dispose([s.m, s.v]);
    this.slots.clear();
  }

  /** Iterations, then first and then second moments (the layout `tf.train.adam` uses). */
  override async getWeights(): Promise<NamedTensor[]> {
    const slots = [...this.slots.values()];
    return [
      await this.saveIterations(),
      ...slots.map((s) => ({ name: `${s.name}/m`, tensor: s.m })),
      ...slots.map((s) => ({ name: `${s.name}/v`, tensor: s.v })),
    ];
  }

  /** Restores what {@link getWeights} returned. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    if (rest.length % 2 !== 0) throw new Error(`fusedAdam.setWeights: expected pairs of moments, got ${rest.length}`);
    this.dispose();
    const half = rest.length / 2;
    for (let i = 0; i < half; i++) {
      const m = rest[i]!, v = rest[half + i]!;
      const name = m.name.replace(/\/m$/, "");
      if (v.name !== `${name}/v`) throw new Error(`fusedAdam.setWeights: "${m.name}" has no matching "${name}/v"`);
      this.slots.set(name, { name, m: m.tensor.variable(false), v: v.tensor.variable(false) });
    }
    this.step = this.iterations_;
  }

  /** Serialisable configuration. */
  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}

/**
 * Creates a {@link FusedAdamOptimizer} (same arguments and defaults as
 * `tf.train.adam`, ε = 1e-7 as on the wasm and cpu backends).
 *
 * @example
 * ```ts
 * import { fusedAdam } from "./adam.ts";
 * const opt = fusedAdam(3e-4, 0.9, 0.999);
 * ```
 */
export function fusedAdam(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7): FusedAdamOptimizer {
  return new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon);
}
