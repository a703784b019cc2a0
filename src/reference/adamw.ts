/**
 * CPU twin of `kernels/adamw.wgsl`, in float64.
 *
 * @module
 */

/** One parameter's AdamW state. */
export interface AdamWRefState {
  /** First moment. */
  m: Float64Array;
  /** Second moment. */
  v: Float64Array;
}

/** Settings of one {@link adamwRef} step (see `src/optim/adamw.ts` for their meaning). */
export interface AdamWRefOptions {
  /** Learning rate. */
  lr: number;
  /** First-moment decay. */
  beta1: number;
  /** Second-moment decay. */
  beta2: number;
  /** Denominator epsilon. */
  eps: number;
  /** Decoupled weight decay. */
  weightDecay: number;
  /** Step number, from 1. */
  t: number;
  /** Multiplier applied to the gradient (global-norm clipping). */
  gradScale?: number;
  /** Decay toward these values instead of zero. */
  anchor?: ArrayLike<number>;
  /** Value clamp after the update. */
  clamp?: [number, number];
}

/** Updates `w` in place, exactly as the kernel does. */
export function adamwRef(
  w: Float64Array,
  grad: ArrayLike<number>,
  state: AdamWRefState,
  o: AdamWRefOptions,
): void {
  const bc1 = 1 / (1 - o.beta1 ** o.t);
  const bc2 = 1 / (1 - o.beta2 ** o.t);
  const [lo, hi] = o.clamp ?? [-Infinity, Infinity];
  for (let i = 0; i < w.length; i++) {
    const g = grad[i] * (o.gradScale ?? 1);
    let x = w[i];
    x -= o.lr * o.weightDecay * (x - (o.anchor ? o.anchor[i] : 0));
    state.m[i] = o.beta1 * state.m[i] + (1 - o.beta1) * g;
    state.v[i] = o.beta2 * state.v[i] + (1 - o.beta2) * g * g;
    x -= o.lr * (state.m[i] * bc1) / (Math.sqrt(state.v[i] * bc2) + o.eps);
    w[i] = Math.min(hi, Math.max(lo, x));
  }
}

/** One parameter of {@link adamwStepRef}. */
export interface AdamWRefParam {
  /** Weights, updated in place. */
  w: Float64Array;
  /** Its gradient this step, or null (then it is left as it is). */
  grad: ArrayLike<number> | null;
  /** Its moments, updated in place. */
  state: AdamWRefState;
  /** Its weight decay. */
  weightDecay: number;
  /** Its value clamp. */
  clamp?: [number, number];
  /** Its decay target (decay toward the initial weights). */
  anchor?: ArrayLike<number>;
}

/**
 * One step of the whole optimiser, as the fused kernels (`sumsq_flat`, `clip_scale`,
 * `adamw_flat`) and the per-parameter path both do it: the global gradient norm over the
 * parameters that have a gradient, the clipping factor `min(1, maxGradNorm / (norm + 1e-6))`
 * (`maxGradNorm` 0: none; a non-finite norm skips the step), then {@link adamwRef} on each of them;
 * a parameter without a gradient keeps its weights and moments.
 */
export function adamwStepRef(
  params: AdamWRefParam[],
  o: Omit<AdamWRefOptions, "weightDecay" | "gradScale" | "anchor" | "clamp"> & {
    maxGradNorm: number;
  },
): void {
  let sum = 0;
  for (const p of params) {
    if (p.grad) {
      for (let i = 0; i < p.w.length; i++) sum += p.grad[i] ** 2;
    }
  }
  const norm = Math.sqrt(sum);
  if (!(norm <= 3.4e38)) return;
  const gradScale = o.maxGradNorm > 0 && norm > o.maxGradNorm ? o.maxGradNorm / (norm + 1e-6) : 1;
  for (const p of params) {
    if (!p.grad) continue;
    adamwRef(p.w, p.grad, p.state, {
      ...o,
      weightDecay: p.weightDecay,
      gradScale,
      anchor: p.anchor,
      clamp: p.clamp,
    });
  }
}
