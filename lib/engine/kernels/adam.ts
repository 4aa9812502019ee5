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
 * `p ← p − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)`, computed as
 * `(lr / (1 − β1ᵗ)) · m / (√v · (1/√(1 − β2ᵗ)) + ε)`.
 *
 * One of three Adam updates in the project, kept apart because they round
 * differently (same formula, different bytes): this one serves the LM trainer
 * (a `tf.Optimizer`, default ε = 1e-7 as `tf.train.adam`) and computes each
 * element in float64 before storing float32; `lib/sae/adam.ts` (the SAE
 * trainer) uses float32 tensor ops throughout; `lib/toy/fused_state.ts` keeps
 * float64 parameters and moments. On wasm, 50 steps of this update and of
 * `AdamPerInstance` on the same gradients leave about 22% of the float32
 * parameters different (max relative 1.8e-5); see `lib/sae/adam.ts`.
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
  m: tf.Tensor;
  v: tf.Tensor;
}

/** Arguments of {@link adamUpdate}. */
export interface AdamUpdateArgs {
  /** The parameter; replaced through `assign` (never changed in place). */
  variable: tf.Variable;
  /** Its gradient (same shape). */
  grad: tf.Tensor;
  /** First moment, or null when β1 = 0 (then m = g). Owned by the caller's optimiser. */
  m: tf.Tensor | null;
  /** Second moment. Owned by the caller's optimiser. */
  v: tf.Tensor;
  /** Learning rate: one number, or one per entry of the leading axis (per-instance rates). */
  lr: number | readonly number[];
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 1-based step number t (bias corrections 1 − βᵗ). */
  step: number;
  /** Optimise log(variable) (variable > 0): g ← g·p, p ← p·exp(−Δ). */
  logSpace?: boolean;
}

/**
 * One Adam update of one parameter (torch's rule, no weight decay):
 * `m ← β1 m + (1 − β1) g`, `v ← β2 v + (1 − β2) g²`,
 * `p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)`.
 * Returns the moments to keep: on wasm the same tensors, updated in place in
 * one JS pass over the heap; elsewhere new tensors (the old ones are disposed).
 * Returned moments are `tf.keep`-ed, so the update may run inside `tf.tidy`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { adamUpdate } from "./adam.ts";
 * const w = tf.variable(tf.ones([2, 3]));
 * let v: tf.Tensor = tf.zerosLike(w);
 * ({ v } = adamUpdate({ variable: w, grad: tf.onesLike(w), m: null, v, lr: [1e-3, 1e-2],
 *   beta1: 0, beta2: 0.999, epsilon: 1e-8, step: 1 }));
 * ```
 */
export function adamUpdate(args: AdamUpdateArgs): { m: tf.Tensor | null; v: tf.Tensor } {
  const { variable, grad, m, v, beta1, beta2, epsilon, step } = args;
  const shape = variable.shape;
  for (const [what, t] of [["grad", grad], ["m", m], ["v", v]] as const) {
    if (t !== null && !tf.util.arraysEqual(t.shape, shape)) {
      throw new Error(`adamUpdate: ${what} of "${variable.name}" has shape [${t.shape}], variable has [${shape}]`);
    }
  }
  if ((beta1 > 0) !== (m !== null)) {
    throw new Error(`adamUpdate: m must be given exactly when beta1 > 0 (beta1 = ${beta1})`);
  }
  const lead = shape.length > 0 ? shape[0]! : 1;
  const lrs = typeof args.lr === "number" ? null : args.lr;
  if (lrs !== null && lrs.length !== lead) {
    throw new Error(`adamUpdate: ${lrs.length} learning rates for a leading axis of ${lead} ("${variable.name}")`);
  }
  const c1 = 1 - Math.pow(beta1, step), invSqrtC2 = 1 / Math.sqrt(1 - Math.pow(beta2, step));
  const rates = lrs === null ? [args.lr as number] : [...lrs];
  if (tf.getBackend() === "wasm" && variable.dtype === "float32" && grad.dtype === "float32") {
    const backend = tf.backend() as unknown as BackendWasm;
    // Moments are written in place: take private copies first if anything else shares their memory
    // (a clone shares memory on wasm, see identity.ts).
    const own = (x: tf.Tensor): tf.Tensor => {
      if (backend.refCount(x.dataId) <= 1) return x;
      const info = backend.makeOutput([...x.shape], "float32");
      (backend.typedArrayFromHeap(info) as Float32Array).set(backend.typedArrayFromHeap(x) as Float32Array);
      x.dispose();
      return tf.keep(tf.engine().makeTensorFromTensorInfo(info));
    };
    const mOwn = m === null ? null : own(m), vOwn = own(v);
    // The new parameter goes to fresh memory: the stock wasm matmul caches packed weights by tensor id, so a
    // parameter must never change in place. The moments are private to the optimiser and update in place.
    const outInfo = backend.makeOutput([...shape], "float32");
    const out = tf.engine().makeTensorFromTensorInfo(outInfo);
    const q = backend.typedArrayFromHeap(outInfo) as Float32Array; // views after the allocation
    const p = backend.typedArrayFromHeap(variable) as Float32Array;
    const g = backend.typedArrayFromHeap(grad) as Float32Array;
    const mm = mOwn === null ? null : backend.typedArrayFromHeap(mOwn) as Float32Array;
    const vv = backend.typedArrayFromHeap(vOwn) as Float32Array;
    const a1 = 1 - beta1, a2 = 1 - beta2;
    const per = rates.length === 1 ? p.length : p.length / lead;
    for (let r = 0; r < rates.length; r++) {
      const step1 = rates[r]! / c1;
      const end = (r + 1) * per;
      for (let i = r * per; i < end; i++) {
        const pi = p[i]!;
        const gi = args.logSpace ? g[i]! * pi : g[i]!;
        let mi = gi;
        if (mm !== null) {
          mi = beta1 * mm[i]! + a1 * gi;
          mm[i] = mi;
        }
        const vi = beta2 * vv[i]! + a2 * gi * gi;
        vv[i] = vi;
        const delta = (step1 * mi) / (Math.sqrt(vi) * invSqrtC2 + epsilon);
        q[i] = args.logSpace ? pi * Math.exp(-delta) : pi - delta;
      }
    }
    variable.assign(out);
    out.dispose();
    return { m: mOwn, v: vOwn };
  }
  const next = tf.tidy((): { m?: tf.Tensor; v: tf.Tensor } => {
    const g = args.logSpace ? tf.mul(grad, variable) : grad;
    const newV = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
    const newM = m === null ? null : tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
    const lrT = rates.length === 1
      ? tf.scalar(rates[0]! / c1)
      : tf.tensor(rates.map((x) => x / c1), [lead, ...new Array<number>(shape.length - 1).fill(1)]);
    const delta = tf.mul(lrT, tf.div(newM ?? g, tf.add(tf.mul(tf.sqrt(newV), invSqrtC2), epsilon)));
    variable.assign(args.logSpace ? tf.mul(variable, tf.exp(tf.neg(delta))) : tf.sub(variable, delta));
    return newM === null ? { v: newV } : { m: newM, v: newV };
  });
  m?.dispose();
  v.dispose();
  // Kept: the moments outlive any tf.tidy the update runs in.
  return { m: next.m ? tf.keep(next.m) : null, v: tf.keep(next.v) };
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
          m: tf.keep(tf.zerosLike(value)),
          v: tf.keep(tf.zerosLike(value)),
        };
        this.slots.set(name, slot);
      }
      const next = adamUpdate({
        variable: value,
        grad,
        m: slot.m,
        v: slot.v,
        lr: this.learningRate,
        beta1: this.beta1,
        beta2: this.beta2,
        epsilon: this.epsilon,
        step: this.step,
      });
      slot.m = next.m as tf.Tensor;
      slot.v = next.v;
    }
    this.incrementIterations();
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
      this.slots.set(name, { name, m: m.tensor.clone(), v: v.tensor.clone() });
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
