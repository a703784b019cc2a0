/**
 * The context-aware listwise reranker of allRank (Pobrotyn et al. 2020, "Context-Aware
 * Learning to Rank with Self-Attention"; `allrank/models/model.py`, `transformer.py`): each list's
 * items are scored together, so an item's score can depend on the other candidates.
 *
 * Architecture (allRank's, pre-norm as in its `SublayerConnection`):
 * ```
 * x = dropout(act(features · W_in + b_in))                       input projection [rows, d_model]
 * x = √d_model · x + PE[position]                                 if positional encoding ≠ none
 * N × { x = x + dropout(MHA(LN₁(x), mask))                        padded items masked as keys
 *       x = x + dropout(W₂ · dropout(act(W₁ · LN₂(x) + b₁)) + b₂) }
 * scores = (LN(x) · w_out + b_out) ⊙ mask                         [lists, n]
 * ```
 * MHA is Q/K/V projections ({@link matmul}), the {@link attention} kernel per (list, head), and an
 * output projection. Differences from allRank, on purpose: layer norm is PyTorch's
 * (`(x − μ)/√(σ² + 1e-5)`, biased variance) where allRank divides by `std + 1e-6`; there is no
 * dropout on the attention probabilities; biases start at zero (allRank keeps PyTorch's default
 * uniform bias init; both use Xavier/Glorot-uniform weights); padded items' scores are set to 0 and
 * receive no gradient (allRank leaves them to the loss's padding mask — a loss must still ignore
 * them); and no output activation (allRank's example config uses a sigmoid).
 *
 * @example
 * ```ts
 * import { initGpu } from "../gpu/runtime.ts";
 * import { Reranker } from "./reranker.ts";
 * import { scope, Tensor } from "../autodiff/tensor.ts";
 * await initGpu();
 * const model = new Reranker({ inputDim: 8, dModel: 16, layers: 1, heads: 2 }, 42);
 * const features = Tensor.from(new Float32Array(2 * 5 * 8).map(Math.random), [10, 8]);
 * const mask = new Float32Array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]); // list 1 has 3 real items
 * const scores = scope(() => model.forward(features, mask, 2, 5, { train: false })); // [2, 5]
 * ```
 *
 * @module
 */

import { isGradEnabled } from "../autodiff/tape.ts";
import { lowbias32, seededRandom } from "../util/random.ts";
import { scope, shapeString, Tensor, untracked } from "../autodiff/tensor.ts";
import { rt } from "../gpu/runtime.ts";
import { formatBytes } from "../gpu/device.ts";
import { SizeLimitError } from "../util/limits.ts";
import { dims2 } from "../ops/common.ts";
import { addBias } from "../ops/reduce.ts";
import { axpby, gelu, mul, relu, reshape } from "../ops/elementwise.ts";
import { matmul } from "../ops/matmul.ts";
import { gatherRows } from "../ops/gather.ts";
import { layerNorm } from "../ops/layernorm.ts";
import { attention, ATTENTION_MAX_HEAD_DIM } from "../ops/attention.ts";
import { dropout } from "../ops/dropout.ts";
import type { ParamSpec } from "../optim/adamw.ts";
import type { Activation } from "./heads.ts";

export { rerankFeatureDim, rerankFeatures } from "../ops/rerank_features.ts";

/** Positional encoding over the position in the first-stage ranking, as in allRank. */
export type PositionalEncoding = "none" | "fixed" | "learned";

/** Reranker hyper-parameters, in allRank's terms where it has them. */
export interface RerankerOptions {
  /** Per-item input feature width (e.g. {@link rerankFeatureDim} of the embedding width). */
  inputDim: number;
  /** Model width d_model (allRank: the FC input layer's output size). Default 64. */
  dModel?: number;
  /** Encoder layers N. Default 2. */
  layers?: number;
  /**
   * Attention heads h; must divide dModel with d_head = dModel/h ≤ 128. d_head ≤ 16 uses the
   * attention kernels that are 2–4× faster on llvmpipe. Default 4.
   */
  heads?: number;
  /** Feed-forward hidden width d_ff. Default 2·dModel. */
  dFF?: number;
  /** Dropout probability (input projection, sublayer outputs, feed-forward hidden). Default 0.1. */
  dropout?: number;
  /** `none` (default; the model is then permutation-equivariant), `fixed` (sinusoidal) or `learned`. */
  positionalEncoding?: PositionalEncoding;
  /** Positions the encoding covers (0 … maxPositions − 1). Default 128. */
  maxPositions?: number;
  /** Feed-forward activation. Default `relu` (allRank). */
  activation?: Activation;
  /** Input projection activation. Default `relu`. */
  inputActivation?: Activation | "none";
}

/** Options of one {@link Reranker.forward} call. */
export interface RerankerForwardOptions {
  /** Training mode: dropout on. Default false. */
  train?: boolean;
  /** Dropout step (u32); default an internal counter that advances on each training forward. */
  step?: number;
  /**
   * Each item's position in the first-stage ranking (`lists·n` integers in 0 … maxPositions − 1),
   * used by positional encodings; default the slot index `r mod n`.
   */
  positions?: ArrayLike<number>;
}

/** Mixes two u32 values into one (lowbias32 of a combination), for per-site dropout seeds. */
function mixSeed(a: number, b: number): number {
  return lowbias32(Math.imul(a >>> 0, 0x9e3779b1) ^ (b >>> 0));
}

/** Sinusoidal table `[positions, d]`: sin at even columns, cos at odd (Vaswani et al.). */
export function sinusoidalTable(positions: number, d: number): Float32Array {
  const out = new Float32Array(positions * d);
  for (let pos = 0; pos < positions; pos++) {
    for (let i = 0; i < d; i += 2) {
      const angle = pos * Math.exp(-(i * Math.log(10000)) / d);
      out[pos * d + i] = Math.sin(angle);
      if (i + 1 < d) out[pos * d + i + 1] = Math.cos(angle);
    }
  }
  return out;
}

interface Layer {
  norm1: [Tensor, Tensor];
  wq: Tensor;
  bq: Tensor;
  wk: Tensor;
  bk: Tensor;
  wv: Tensor;
  bv: Tensor;
  wo: Tensor;
  bo: Tensor;
  norm2: [Tensor, Tensor];
  w1: Tensor;
  b1: Tensor;
  w2: Tensor;
  b2: Tensor;
}

/** allRank's context-aware scoring model on the GPU. See the module docs for the architecture. */
export class Reranker {
  /** Resolved options (serialisable: store them with a checkpoint). */
  readonly options: Required<RerankerOptions>;
  /** The initialisation and dropout seed. */
  readonly seed: number;
  #params = new Map<string, Tensor>();
  #layers: Layer[] = [];
  #fixedTable: Tensor | null = null;
  #step = 0;

  /**
   * Creates the parameters: Xavier/Glorot-uniform weights from a seeded host PRNG, zero biases,
   * layer norms γ = 1, β = 0.
   *
   * @param options see {@link RerankerOptions}
   * @param seed u32 seed of the initialisation and of dropout
   */
  constructor(options: RerankerOptions, seed = 0) {
    const dModel = options.dModel ?? 64;
    this.options = {
      dModel,
      layers: 2,
      heads: 4,
      dFF: 2 * dModel,
      dropout: 0.1,
      positionalEncoding: "none",
      maxPositions: 128,
      activation: "relu",
      inputActivation: "relu",
      ...options,
    };
    this.seed = seed >>> 0;
    this.#validate();
    const o = this.options;
    const rand = seededRandom(this.seed);
    const xavier = (name: string, rows: number, cols: number) => {
      const a = Math.sqrt(6 / (rows + cols));
      const data = new Float32Array(rows * cols);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rand() - 1) * a;
      return this.#add(name, data, [rows, cols]);
    };
    const fill = (name: string, size: number, value: number) =>
      this.#add(name, new Float32Array(size).fill(value), [size]);
    const d = o.dModel;
    xavier("input.weight", o.inputDim, d);
    fill("input.bias", d, 0);
    if (o.positionalEncoding === "learned") xavier("position.table", o.maxPositions, d);
    for (let l = 0; l < o.layers; l++) {
      const p = `layers.${l}`;
      this.#layers.push({
        norm1: [fill(`${p}.norm1.gamma`, d, 1), fill(`${p}.norm1.beta`, d, 0)],
        wq: xavier(`${p}.attn.wq`, d, d),
        bq: fill(`${p}.attn.bq`, d, 0),
        wk: xavier(`${p}.attn.wk`, d, d),
        bk: fill(`${p}.attn.bk`, d, 0),
        wv: xavier(`${p}.attn.wv`, d, d),
        bv: fill(`${p}.attn.bv`, d, 0),
        wo: xavier(`${p}.attn.wo`, d, d),
        bo: fill(`${p}.attn.bo`, d, 0),
        norm2: [fill(`${p}.norm2.gamma`, d, 1), fill(`${p}.norm2.beta`, d, 0)],
        w1: xavier(`${p}.ff.w1`, d, o.dFF),
        b1: fill(`${p}.ff.b1`, o.dFF, 0),
        w2: xavier(`${p}.ff.w2`, o.dFF, d),
        b2: fill(`${p}.ff.b2`, d, 0),
      });
    }
    fill("norm.gamma", d, 1);
    fill("norm.beta", d, 0);
    xavier("output.weight", d, 1);
    fill("output.bias", 1, 0);
    if (o.positionalEncoding === "fixed") {
      this.#fixedTable = untracked(() =>
        Tensor.from(sinusoidalTable(o.maxPositions, d), [o.maxPositions, d], {
          label: "position.fixed",
        })
      );
    }
  }

  #validate(): void {
    const o = this.options;
    const positiveInt = (name: string, v: number) => {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`Reranker: ${name} must be a positive integer, got ${v}`);
      }
    };
    positiveInt("inputDim", o.inputDim);
    positiveInt("dModel", o.dModel);
    positiveInt("heads", o.heads);
    positiveInt("dFF", o.dFF);
    positiveInt("maxPositions", o.maxPositions);
    if (!Number.isInteger(o.layers) || o.layers < 0) {
      throw new RangeError(`Reranker: layers must be a non-negative integer, got ${o.layers}`);
    }
    if (o.dModel % o.heads !== 0 || o.dModel / o.heads > ATTENTION_MAX_HEAD_DIM) {
      throw new RangeError(
        `Reranker: dModel ${o.dModel} must be divisible by heads ${o.heads} with at most ` +
          `${ATTENTION_MAX_HEAD_DIM} per head`,
      );
    }
    if (!(o.dropout >= 0 && o.dropout < 1)) {
      throw new RangeError(`Reranker: dropout must be in [0, 1), got ${o.dropout}`);
    }
    if (!["none", "fixed", "learned"].includes(o.positionalEncoding)) {
      throw new RangeError(
        `Reranker: positionalEncoding must be none, fixed or learned, got ${o.positionalEncoding}`,
      );
    }
    if (!["relu", "gelu"].includes(o.activation)) {
      throw new RangeError(`Reranker: activation must be relu or gelu, got ${o.activation}`);
    }
    if (!["relu", "gelu", "none"].includes(o.inputActivation)) {
      throw new RangeError(
        `Reranker: inputActivation must be relu, gelu or none, got ${o.inputActivation}`,
      );
    }
    // The largest weight matrix (input, attention, feed-forward or position table) must fit one
    // GPU buffer; the setting named is the width the user chose.
    const rows = Math.max(o.inputDim, o.dModel, o.dFF, o.maxPositions);
    const limit = rt().device.limits.maxStorageBufferBindingSize;
    if (rows * o.dModel * 4 > limit) {
      const [option, value] = o.dFF > o.dModel ? ["dFF", o.dFF] : ["dModel", o.dModel];
      throw new SizeLimitError(
        option,
        value,
        `the reranker's largest weight matrix would be ${rows} × ${o.dModel} floats ` +
          `(${formatBytes(rows * o.dModel * 4)}), over the ${formatBytes(limit)} one GPU buffer ` +
          "can hold",
      );
    }
  }

  #add(name: string, data: Float32Array, shape: number[]): Tensor {
    const t = Tensor.param(data, shape, name);
    this.#params.set(name, t);
    return t;
  }

  #param(name: string): Tensor {
    return this.#params.get(name)!;
  }

  /** The trainable parameters, in a fixed order. */
  parameters(): Tensor[] {
    return [...this.#params.values()];
  }

  /** The trainable parameters by name (`input.weight`, `layers.0.attn.wq`, …), in a fixed order. */
  namedParameters(): Record<string, Tensor> {
    return Object.fromEntries(this.#params);
  }

  /** Total number of trainable scalars. */
  get parameterCount(): number {
    let n = 0;
    for (const t of this.#params.values()) n += t.size;
    return n;
  }

  /**
   * The parameters for {@link AdamW}, with weight decay only on weight matrices (biases, layer
   * norms and the positional table get none), as is customary for Transformers.
   */
  optimizerParams(): ParamSpec[] {
    return [...this.#params].map(([name, tensor]) =>
      /\.(weight|w[qkvo12])$/.test(name) ? { tensor } : { tensor, weightDecay: 0 }
    );
  }

  /**
   * Reads every parameter back in one GPU wait (they are copied into one buffer first), as a
   * name → values map for a checkpoint.
   */
  async readState(): Promise<Record<string, Float32Array>> {
    const entries = [...this.#params];
    const total = entries.reduce((s, [, t]) => s + t.size, 0);
    const runtime = rt();
    const packed = runtime.pool.acquire(total * 4, "reranker state");
    try {
      let offset = 0;
      for (const [, t] of entries) {
        runtime.copy(t.buffer, 0, packed, offset * 4, t.bytes);
        offset += t.size;
      }
      const all = new Float32Array(await runtime.read(packed, total * 4));
      const out: Record<string, Float32Array> = {};
      offset = 0;
      for (const [name, t] of entries) {
        out[name] = all.slice(offset, offset + t.size);
        offset += t.size;
      }
      return out;
    } finally {
      runtime.pool.release(packed);
    }
  }

  /**
   * Overwrites the parameters from a name → values map (e.g. from {@link readState}). Every
   * parameter must be present with the right size, and no unknown name may appear.
   */
  loadState(state: Record<string, ArrayLike<number>>): void {
    for (const name of Object.keys(state)) {
      if (!this.#params.has(name)) {
        throw new RangeError(`Reranker.loadState: unknown parameter "${name}"`);
      }
    }
    for (const [name, t] of this.#params) {
      const values = state[name];
      if (values === undefined) {
        throw new RangeError(`Reranker.loadState: missing parameter "${name}"`);
      }
      if (values.length !== t.size) {
        throw new RangeError(
          `Reranker.loadState: "${name}" has ${values.length} values, expected ${t.size} ` +
            `(shape ${shapeString(t.shape)})`,
        );
      }
    }
    for (const [name, t] of this.#params) t.write(Float32Array.from(state[name]));
  }

  /**
   * Scores `lists` lists of `n` items each.
   *
   * When gradients are recorded (the default outside {@link noGrad}), the intermediate tensors
   * belong to the caller's {@link scope} (backward needs them): run forward, loss and backward in
   * one scope. Under `noGrad` the intermediates are disposed here and only the scores survive.
   *
   * @param features `[lists·n, inputDim]` per-item features, list after list
   * @param mask `lists·n` values, 1 = real item, 0 = padding (a host array, checked, or a tensor
   *   of exact 0/1 values, not checked: it also multiplies the scores)
   * @param lists number of lists
   * @param n items per list (padded length)
   * @returns scores `[lists, n]`; padded items score 0
   */
  forward(
    features: Tensor,
    mask: ArrayLike<number> | Tensor,
    lists: number,
    n: number,
    options: RerankerForwardOptions = {},
  ): Tensor {
    const o = this.options;
    const rows = this.#checkInputs(features, mask, lists, n);
    const positions = this.#positions(options.positions, rows, n);
    const train = options.train ?? false;
    let step = 0;
    if (train && o.dropout > 0) step = options.step ?? this.#step++;
    const run = () => this.#forward(features, mask, lists, n, positions, train, step);
    return isGradEnabled() ? run() : scope(run);
  }

  #checkInputs(
    features: Tensor,
    mask: ArrayLike<number> | Tensor,
    lists: number,
    n: number,
  ): number {
    for (const [name, v] of [["lists", lists], ["n", n]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`Reranker.forward: ${name} must be a positive integer, got ${v}`);
      }
    }
    const [rows, cols] = dims2(features, "Reranker.forward");
    const rowsExpected = lists * n;
    if (rows !== rowsExpected || cols !== this.options.inputDim) {
      throw new RangeError(
        `Reranker.forward: features ${shapeString(features.shape)}, expected ` +
          `[lists·n, inputDim] = [${rowsExpected}, ${this.options.inputDim}]`,
      );
    }
    const maskSize = mask instanceof Tensor ? mask.size : mask.length;
    if (maskSize !== rows) {
      throw new RangeError(`Reranker.forward: mask has ${maskSize} values for ${rows} items`);
    }
    if (!(mask instanceof Tensor)) {
      for (let r = 0; r < rows; r++) {
        if (mask[r] !== 0 && mask[r] !== 1) {
          throw new RangeError(`Reranker.forward: mask[${r}] = ${mask[r]} is not 0 or 1`);
        }
      }
    }
    return rows;
  }

  #positions(given: ArrayLike<number> | undefined, rows: number, n: number): Uint32Array | null {
    const o = this.options;
    if (o.positionalEncoding === "none") return null;
    const out = new Uint32Array(rows);
    if (given === undefined) {
      if (n > o.maxPositions) {
        throw new RangeError(
          `Reranker.forward: lists of ${n} items exceed maxPositions ${o.maxPositions}`,
        );
      }
      for (let r = 0; r < rows; r++) out[r] = r % n;
      return out;
    }
    if (given.length !== rows) {
      throw new RangeError(
        `Reranker.forward: positions has ${given.length} values for ${rows} items`,
      );
    }
    for (let r = 0; r < rows; r++) {
      const p = given[r];
      if (!Number.isInteger(p) || p < 0 || p >= o.maxPositions) {
        throw new RangeError(
          `Reranker.forward: positions[${r}] = ${p} is outside 0..${o.maxPositions - 1}`,
        );
      }
      out[r] = p;
    }
    return out;
  }

  #forward(
    features: Tensor,
    mask: ArrayLike<number> | Tensor,
    lists: number,
    n: number,
    positions: Uint32Array | null,
    train: boolean,
    step: number,
  ): Tensor {
    const o = this.options;
    const rows = lists * n;
    let site = 0;
    const drop = (t: Tensor) =>
      train && o.dropout > 0
        ? dropout(t, o.dropout, { seed: mixSeed(this.seed, site++), step })
        : t;
    const act = (t: Tensor, which: Activation | "none") =>
      which === "relu" ? relu(t) : which === "gelu" ? gelu(t) : t;
    const linear = (x: Tensor, w: Tensor, b: Tensor) => addBias(matmul(x, w), b);

    const maskT = mask instanceof Tensor ? mask : Tensor.from(mask, [rows], { label: "mask" });
    let x = drop(
      act(
        linear(features, this.#param("input.weight"), this.#param("input.bias")),
        o.inputActivation,
      ),
    );
    if (positions) {
      const table = this.#fixedTable ?? this.#param("position.table");
      x = axpby(Math.sqrt(o.dModel), x, 1, gatherRows(table, positions));
    }
    for (const layer of this.#layers) {
      const h = layerNorm(x, ...layer.norm1);
      const att = attention(
        linear(h, layer.wq, layer.bq),
        linear(h, layer.wk, layer.bk),
        linear(h, layer.wv, layer.bv),
        { lists, n, heads: o.heads, mask: maskT },
      );
      x = axpby(1, x, 1, drop(linear(att, layer.wo, layer.bo)));
      const h2 = layerNorm(x, ...layer.norm2);
      const hidden = drop(act(linear(h2, layer.w1, layer.b1), o.activation));
      x = axpby(1, x, 1, drop(linear(hidden, layer.w2, layer.b2)));
    }
    x = layerNorm(x, this.#param("norm.gamma"), this.#param("norm.beta"));
    const raw = reshape(
      linear(x, this.#param("output.weight"), this.#param("output.bias")),
      [lists, n],
    );
    const mask2d = maskT.shape.length === 2 && maskT.shape[0] === lists
      ? maskT
      : reshape(maskT, [lists, n]);
    return mul(raw, mask2d);
  }

  /** Frees every parameter (and gradient) and the fixed positional table. */
  dispose(): void {
    for (const t of this.#params.values()) {
      t.grad?.dispose();
      t.grad = null;
      t.dispose();
    }
    this.#fixedTable?.dispose();
  }
}
