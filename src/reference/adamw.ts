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
