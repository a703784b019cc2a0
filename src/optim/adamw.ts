/**
 * AdamW on the GPU (`kernels/adamw.wgsl`): decoupled weight decay (toward zero or toward the
 * initial weights), bias correction, global-norm gradient clipping and per-parameter clamps, all
 * recorded into the open batch without a readback.
 *
 * Fused (the default): the optimiser keeps every parameter's weights, gradient, moments and anchor
 * in flat arrays (each parameter a segment padded to the kernel's chunk of 1024 elements); a step
 * copies the weights and gradients in, runs three dispatches for all parameters (the
 * squared-gradient sums per chunk, the clipping factor, the update, four elements per invocation)
 * and copies the weights out. Unfused (`fused: false`): per parameter a sum of squares and an
 * update dispatch, as before.
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
  /** Update every parameter in one dispatch over flat arrays (default true); see the module docs. */
  fused?: boolean;
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
  /** Moments (fused: made by stateTensors() as copies of the flat arrays' segments). */
  m: Tensor | null;
  v: Tensor | null;
  anchor: Tensor | null;
  /** Fused: first element of the segment in the flat arrays. */
  offset: number;
}

/** The fused path's flat arrays. */
interface Flat {
  /** Elements, every segment padded to a multiple of the workgroup size. */
  length: number;
  w: Tensor;
  g: Tensor;
  m: Tensor;
  v: Tensor;
  anchor: Tensor | null;
  /** Segment table and chunk map (see `kernels/adamw.wgsl`). */
  segs: Tensor;
  /** Squared-gradient sums, one per chunk. */
  partials: Tensor;
  /** Which parameters had a gradient when the table was last written. */
  activeKey: string;
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
  #flat: Flat | null;
  /** Fused: stateTensors() handed out copies that may have been written since. */
  #exported = false;

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
      fused: true,
      ...options,
    };
    const fused = this.options.fused;
    const chunk = ADAMW.constants.CHUNK;
    let offset = 0;
    this.#slots = untracked(() =>
      params.map((p) => {
        const spec = p instanceof Tensor ? { tensor: p } : p;
        const t = spec.tensor;
        const slot: Slot = { spec, m: null, v: null, anchor: null, offset };
        offset += Math.ceil(Math.max(t.size, 1) / chunk) * chunk;
        if (fused) return slot;
        slot.anchor = this.options.decayTo === "init"
          ? new Tensor(t.shape, { label: `${t.label} anchor` })
          : null;
        if (slot.anchor) rt().copy(t.buffer, 0, slot.anchor.buffer, 0, t.bytes);
        slot.m = Tensor.zeros(t.shape, { label: `${t.label} m` });
        slot.v = Tensor.zeros(t.shape, { label: `${t.label} v` });
        return slot;
      })
    );
    this.#flat = fused ? untracked(() => this.#makeFlat(offset)) : null;
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

  /**
   * Records one update of every parameter that has a gradient; a parameter without one is left
   * as it is (weights and moments neither decayed nor updated).
   */
  step(lr = this.options.lr): void {
    const o = this.options;
    const active = this.#slots.filter((s) => s.spec.tensor.grad !== null);
    if (active.length === 0) return;
    this.t++;
    const t = this.t;
    this.#stepBuf.write(
      new Float32Array([lr, 1 / (1 - o.beta1 ** t), 1 / (1 - o.beta2 ** t), t]),
    );
    if (this.#flat) this.#fusedStep(this.#flat);
    else this.#unfusedStep(active);
  }

  #unfusedStep(active: Slot[]): void {
    const o = this.options;
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
          m1: s.m!,
          m2: s.v!,
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

  /** Makes the flat arrays of `length` elements, the anchor copied from the initial weights. */
  #makeFlat(length: number): Flat {
    const chunk = ADAMW.constants.CHUNK;
    const flat: Flat = {
      length,
      w: Tensor.zeros([length], { label: "adamw weights" }),
      g: Tensor.zeros([length], { label: "adamw gradients" }),
      m: Tensor.zeros([length], { label: "adamw m" }),
      v: Tensor.zeros([length], { label: "adamw v" }),
      anchor: null,
      segs: new Tensor([this.#slots.length * ADAMW.constants.SEG_WORDS + length / chunk], {
        label: "adamw segments",
      }),
      partials: new Tensor([Math.max(length / chunk, 1) * 4], { label: "adamw partial sums" }),
      activeKey: "",
    };
    if (this.options.decayTo === "init") {
      flat.anchor = Tensor.zeros([length], { label: "adamw anchor" });
      for (const s of this.#slots) {
        const p = s.spec.tensor;
        rt().copy(p.buffer, 0, flat.anchor.buffer, s.offset * 4, p.bytes);
      }
    }
    return flat;
  }

  /** Writes the segment table and chunk map for the parameters that have a gradient. */
  #writeSegments(flat: Flat, key: string): void {
    const chunk = ADAMW.constants.CHUNK;
    const words = ADAMW.constants.SEG_WORDS;
    const table = new Uint32Array(flat.segs.size);
    const f = new Float32Array(1);
    const bits = (x: number) => (f[0] = x, new Uint32Array(f.buffer)[0]);
    this.#slots.forEach((s, i) => {
      const size = s.spec.tensor.size;
      const [lo, hi] = s.spec.clamp ?? [-3.4e38, 3.4e38];
      table.set([
        s.offset,
        size,
        key[i] === "1" ? 1 : 0,
        bits(s.spec.weightDecay ?? this.options.weightDecay),
        bits(lo),
        bits(hi),
      ], i * words);
      const chunks = Math.ceil(Math.max(size, 1) / chunk);
      table.fill(
        i,
        this.#slots.length * words + s.offset / chunk,
        this.#slots.length * words + s.offset / chunk + chunks,
      );
    });
    rt().upload(flat.segs.buffer, table);
    flat.activeKey = key;
  }

  #fusedStep(flat: Flat): void {
    const o = this.options;
    const r = rt();
    if (this.#exported) {
      // stateTensors() handed out copies (a checkpoint may have written them): take them back.
      for (const s of this.#slots) {
        const bytes = s.spec.tensor.bytes;
        r.copy(s.m!.buffer, 0, flat.m.buffer, s.offset * 4, bytes);
        r.copy(s.v!.buffer, 0, flat.v.buffer, s.offset * 4, bytes);
        if (s.anchor) r.copy(s.anchor.buffer, 0, flat.anchor!.buffer, s.offset * 4, bytes);
      }
      this.#exported = false;
    }
    const key = this.#slots.map((s) => (s.spec.tensor.grad ? "1" : "0")).join("");
    if (key !== flat.activeKey) this.#writeSegments(flat, key);
    for (const s of this.#slots) {
      const p = s.spec.tensor;
      if (!p.grad) continue;
      r.copy(p.buffer, 0, flat.w.buffer, s.offset * 4, p.bytes);
      r.copy(p.grad.buffer, 0, flat.g.buffer, s.offset * 4, p.bytes);
    }
    const chunks = flat.length / ADAMW.constants.CHUNK;
    const common = { step: this.#stepBuf, segs: flat.segs };
    const sizes = { n: flat.length, segments: this.#slots.length };
    ADAMW.launch(
      "sumsq_flat",
      { ...common, param: flat.partials, grad: flat.g, m1: this.#status },
      sizes,
      chunks,
    );
    ADAMW.dispatch(
      "clip_scale",
      { param: this.#scaleBuf, grad: flat.partials, m1: this.#status, step: this.#stepBuf },
      { n: chunks * 4, eps: o.maxGradNorm },
      [1],
    );
    ADAMW.launch(
      "adamw_flat",
      {
        ...common,
        param: flat.w,
        grad: flat.g,
        m1: flat.m,
        m2: flat.v,
        anchor: flat.anchor ?? undefined,
        scale: this.#scaleBuf,
      },
      {
        ...sizes,
        use_anchor: flat.anchor ? 1 : 0,
        beta1: o.beta1,
        beta2: o.beta2,
        eps: o.eps,
      },
      flat.length / 4,
    );
    for (const s of this.#slots) {
      const p = s.spec.tensor;
      if (p.grad) r.copy(flat.w.buffer, s.offset * 4, p.buffer, 0, p.bytes);
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

  /**
   * The non-finite guard's word that {@link firstNonFiniteStep} reads (element 0), for a caller
   * that reads it together with other tensors in one GPU wait (`readTensors`).
   */
  get guardStatus(): Tensor {
    return this.#status;
  }

  /**
   * The optimiser state tensors (moments, anchors) by name, for checkpoints: read them, or write
   * them before the next {@link step} (fused: they are copies of the flat arrays' segments, taken
   * now and taken back at the next step).
   */
  stateTensors(): Record<string, Tensor> {
    const flat = this.#flat;
    if (flat) {
      untracked(() => {
        for (const s of this.#slots) {
          const p = s.spec.tensor;
          s.m ??= new Tensor(p.shape, { label: `${p.label} m` });
          s.v ??= new Tensor(p.shape, { label: `${p.label} v` });
          if (flat.anchor) s.anchor ??= new Tensor(p.shape, { label: `${p.label} anchor` });
          rt().copy(flat.m.buffer, s.offset * 4, s.m.buffer, 0, p.bytes);
          rt().copy(flat.v.buffer, s.offset * 4, s.v.buffer, 0, p.bytes);
          if (s.anchor) rt().copy(flat.anchor!.buffer, s.offset * 4, s.anchor.buffer, 0, p.bytes);
        }
      });
      this.#exported = true;
    }
    const out: Record<string, Tensor> = {};
    this.#slots.forEach((s, i) => {
      out[`adam.${i}.m`] = s.m!;
      out[`adam.${i}.v`] = s.v!;
      if (s.anchor) out[`adam.${i}.anchor`] = s.anchor;
    });
    return out;
  }

  /** Frees the optimiser state. */
  dispose(): void {
    for (const s of this.#slots) {
      s.m?.dispose();
      s.v?.dispose();
      s.anchor?.dispose();
    }
    const f = this.#flat;
    if (f) { for (const t of [f.w, f.g, f.m, f.v, f.anchor, f.segs, f.partials]) t?.dispose(); }
    this.#stepBuf.dispose();
    this.#scaleBuf.dispose();
    this.#status.dispose();
  }
}
