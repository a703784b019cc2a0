/**
 * AdamW on the GPU (`kernels/adamw.wgsl`): decoupled weight decay (toward zero or toward the
 * initial weights), bias correction, global-norm gradient clipping and per-parameter clamps, all
 * recorded into the open batch without a readback.
 *
 * @module
 */

import { ADAMW } from "../gpu/kernels.ts";
import { rt } from "../gpu/runtime.ts";
import { noGrad } from "../autodiff/tape.ts";
import { scope, Tensor, untracked } from "../autodiff/tensor.ts";
import { mul } from "../ops/elementwise.ts";
import { sumAll } from "../ops/reduce.ts";

/** Optimiser settings; defaults follow PyTorch's `AdamW` except `weightDecay`. */
export interface AdamWOptions {
  /** Learning rate used when {@link AdamW.step} is called without one. Default 1e-3. */
  lr?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay. Default 0.01. */
  weightDecay?: number;
  /** Decay toward zero (default) or toward each parameter's initial value. */
  decayTo?: "zero" | "init";
  /** Clip the global gradient norm to this value; 0 (default) disables clipping. */
  maxGradNorm?: number;
}

/** A parameter with per-parameter overrides. */
export interface ParamSpec {
  /** The trainable tensor. */
  tensor: Tensor;
  /** Weight decay for this parameter (e.g. 0 for biases and temperatures). */
  weightDecay?: number;
  /** Keep the value within `[min, max]` after each update (e.g. a log temperature). */
  clamp?: [number, number];
}

interface Slot {
  spec: ParamSpec;
  m: Tensor;
  v: Tensor;
  anchor: Tensor | null;
}

/**
 * AdamW over a fixed list of parameters.
 *
 * @example
 * ```ts
 * import { AdamW } from "./adamw.ts";
 * import { Tensor } from "../autodiff/tensor.ts";
 * const w = Tensor.param([1, 2], [2]);
 * const opt = new AdamW([w], { lr: 0.1 });
 * // … backward(loss) …
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
export class AdamW {
  /** Resolved options. */
  readonly options: Required<AdamWOptions>;
  /** Updates taken so far. */
  t = 0;
  #slots: Slot[];
  #stepBuf: Tensor;
  #scaleBuf: Tensor;
  #status: Tensor;

  /** @param params tensors or {@link ParamSpec}s; @param options see {@link AdamWOptions} */
  constructor(params: (Tensor | ParamSpec)[], options: AdamWOptions = {}) {
    this.options = {
      lr: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.01,
      decayTo: "zero",
      maxGradNorm: 0,
      ...options,
    };
    this.#slots = untracked(() =>
      params.map((p) => {
        const spec = p instanceof Tensor ? { tensor: p } : p;
        const t = spec.tensor;
        const anchor = this.options.decayTo === "init"
          ? new Tensor(t.shape, { label: `${t.label} anchor` })
          : null;
        if (anchor) rt().copy(t.buffer, 0, anchor.buffer, 0, t.bytes);
        return {
          spec,
          m: Tensor.zeros(t.shape, { label: `${t.label} m` }),
          v: Tensor.zeros(t.shape, { label: `${t.label} v` }),
          anchor,
        };
      })
    );
    [this.#stepBuf, this.#scaleBuf, this.#status] = untracked(() => [
      Tensor.zeros([4], { label: "adamw step" }),
      Tensor.full([1], 1, { label: "grad scale" }),
      Tensor.zeros([4], { label: "adamw status" }),
    ]);
  }

  /** The parameters, in order. */
  get params(): Tensor[] {
    return this.#slots.map((s) => s.spec.tensor);
  }

  /** Records one update of every parameter that has a gradient. */
  step(lr = this.options.lr): void {
    const o = this.options;
    const active = this.#slots.filter((s) => s.spec.tensor.grad !== null);
    if (active.length === 0) return;
    this.t++;
    const t = this.t;
    this.#stepBuf.write(
      new Float32Array([lr, 1 / (1 - o.beta1 ** t), 1 / (1 - o.beta2 ** t), t]),
    );
    noGrad(() =>
      scope(() => {
        // Sum of squares of every gradient → one scale factor (1 unless clipping) on the GPU.
        const sums = new Tensor([active.length], { label: "grad sumsq" });
        active.forEach((s, i) => {
          const g = s.spec.tensor.grad!;
          const part = sumAll(mul(g, g));
          rt().copy(part.buffer, 0, sums.buffer, i * 4, 4);
        });
        ADAMW.dispatch(
          "clip_scale",
          { param: this.#scaleBuf, grad: sums, m1: this.#status, step: this.#stepBuf },
          { n: active.length, eps: o.maxGradNorm },
          [1],
        );
      })
    );
    for (const s of active) {
      const p = s.spec.tensor;
      const [lo, hi] = s.spec.clamp ?? [-3.4e38, 3.4e38];
      ADAMW.launch(
        "adamw",
        {
          param: p,
          grad: p.grad!,
          m1: s.m,
          m2: s.v,
          anchor: s.anchor ?? undefined,
          step: this.#stepBuf,
          scale: this.#scaleBuf,
        },
        {
          n: p.size,
          use_anchor: s.anchor ? 1 : 0,
          beta1: o.beta1,
          beta2: o.beta2,
          eps: o.eps,
          weight_decay: s.spec.weightDecay ?? o.weightDecay,
          clamp_min: lo,
          clamp_max: hi,
        },
        p.size,
      );
    }
  }

  /** Disposes every parameter's gradient. */
  zeroGrad(): void {
    for (const s of this.#slots) {
      s.spec.tensor.grad?.dispose();
      s.spec.tensor.grad = null;
    }
  }

  /**
   * Reads the non-finite guard: the first step whose gradient norm was NaN or ±∞ (that step's
   * update was skipped), or 0 if none. A GPU wait; call it every N steps.
   */
  async firstNonFiniteStep(): Promise<number> {
    return (await this.#status.read())[0];
  }

  /** The optimiser state tensors (moments, anchors) by name, for checkpoints. */
  stateTensors(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    this.#slots.forEach((s, i) => {
      out[`adam.${i}.m`] = s.m;
      out[`adam.${i}.v`] = s.v;
      if (s.anchor) out[`adam.${i}.anchor`] = s.anchor;
    });
    return out;
  }

  /** Frees the optimiser state. */
  dispose(): void {
    for (const s of this.#slots) {
      s.m.dispose();
      s.v.dispose();
      s.anchor?.dispose();
    }
    this.#stepBuf.dispose();
    this.#scaleBuf.dispose();
    this.#status.dispose();
  }
}
