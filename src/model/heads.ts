/**
 * Projection heads: map one modality's features into the joint embedding space.
 *
 * - `linear`: `x·W + b`.
 * - `mlp`: `act(x·W1 + b1)·W2 + b2` (2 layers).
 * - `adapter`: `x + act(x·W1 + b1)·W2 + b2` with `W2 = 0, b2 = 0` at initialisation, so the head
 *   starts as the identity — for pretrained features (CLIP) whose dimensions already match and
 *   whose zero-shot alignment should be the starting point.
 *
 * Weights use a seeded Glorot-uniform initialiser; biases start at 0.
 *
 * @module
 */

import { Tensor } from "../autodiff/tensor.ts";
import { addBias } from "../ops/reduce.ts";
import { add, gelu, relu } from "../ops/elementwise.ts";
import { biasActivation, biasL2Normalize } from "../ops/fused.ts";
import { l2Normalize } from "../ops/reduce.ts";
import { matmul } from "../ops/matmul.ts";
import type { Random } from "../util/random.ts";
import { rt } from "../gpu/runtime.ts";
import { formatBytes } from "../gpu/device.ts";
import { SizeLimitError } from "../util/limits.ts";

/** Head architectures. */
export type HeadKind = "linear" | "mlp" | "adapter";

/** Hidden-layer activation. */
export type Activation = "relu" | "gelu";

/** Configuration of one head (stored in checkpoints). */
export interface HeadConfig {
  /** Architecture. */
  kind: HeadKind;
  /** Input feature dimension. */
  inDim: number;
  /** Output (joint embedding) dimension; must equal `inDim` for `adapter`. */
  outDim: number;
  /** Hidden width of `mlp` and `adapter`. */
  hidden: number;
  /** Hidden activation. */
  activation: Activation;
}

/**
 * The parameter shapes of a head, by name, in creation order: `W1 [in, out]`, `b1 [out]` for
 * `linear`; `W1 [in, hidden]`, `b1 [hidden]`, `W2 [hidden, out]`, `b2 [out]` otherwise.
 */
export function headParamShapes(config: HeadConfig): Record<string, number[]> {
  const { kind, inDim, outDim, hidden } = config;
  return kind === "linear"
    ? { W1: [inDim, outDim], b1: [outDim] }
    : { W1: [inDim, hidden], b1: [hidden], W2: [hidden, outDim], b2: [outDim] };
}

/**
 * Throws a {@link SizeLimitError} naming the setting (`hidden`, or `embedDim` for the output
 * width) when a weight matrix of the head would not fit one GPU buffer of `maxBytes`.
 */
export function checkHeadSize(config: HeadConfig, maxBytes: number, label = "head"): void {
  for (const [name, shape] of Object.entries(headParamShapes(config))) {
    const [rows, cols = 1] = shape;
    if (rows * cols * 4 <= maxBytes) continue;
    // Name the width the user chose (the hidden or the output width) and the other extent.
    const { kind, inDim, outDim, hidden } = config;
    const [option, value, other] = kind === "linear"
      ? ["embedDim", outDim, inDim]
      : name === "W1"
      ? ["hidden", hidden, inDim]
      : kind === "mlp" && outDim > hidden
      ? ["embedDim", outDim, hidden]
      : ["hidden", hidden, outDim];
    throw new SizeLimitError(
      option,
      value,
      `${label} ${name} would be ${rows} × ${cols} floats (${formatBytes(rows * cols * 4)}), ` +
        `over the ${formatBytes(maxBytes)} one GPU buffer can hold; ${option} ≤ ` +
        `${Math.floor(maxBytes / (4 * other))} fits`,
    );
  }
}

function glorot(rows: number, cols: number, random: Random): Float32Array {
  const limit = Math.sqrt(6 / (rows + cols));
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = (2 * random.uniform() - 1) * limit;
  return out;
}

/** A projection head with named parameters. */
export class ProjectionHead {
  /** Its configuration. */
  readonly config: HeadConfig;
  /** Parameters by name (`W1`, `b1`, `W2`, `b2`; `linear` has `W1`, `b1`). */
  readonly params: Map<string, Tensor>;

  /**
   * Creates a head with freshly initialised weights.
   *
   * @param config the architecture
   * @param random the seeded generator (consumed in a fixed order, so a seed fixes the weights)
   * @param label prefix of the parameter labels (for messages)
   */
  constructor(config: HeadConfig, random: Random, label = "head") {
    const { kind, inDim, outDim, hidden } = config;
    if (kind === "adapter" && inDim !== outDim) {
      throw new RangeError(
        `${label}: an adapter head needs equal input and output dims, got ${inDim} → ${outDim}`,
      );
    }
    for (const [name, v] of [["inDim", inDim], ["outDim", outDim], ["hidden", hidden]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`${label}: ${name} must be ≥ 1, got ${v}`);
      }
    }
    checkHeadSize(config, rt().device.limits.maxStorageBufferBindingSize, `${label} head`);
    this.config = config;
    this.params = new Map();
    for (const [name, shape] of Object.entries(headParamShapes(config))) {
      const [rows, cols] = shape;
      // Biases start at 0; so does an adapter's W2 (the head starts as the identity).
      const data = shape.length === 1 || (kind === "adapter" && name === "W2")
        ? new Float32Array(rows * (cols ?? 1))
        : glorot(rows, cols, random);
      this.params.set(name, Tensor.param(data, shape, `${label}.${name}`));
    }
  }

  /**
   * Whether {@link forward} uses the fused ops of `src/ops/fused.ts` (bias + activation in one
   * dispatch, bias + L2 normalisation in one): default true. False records the unfused chain
   * (`addBias`, `gelu`/`relu`, `l2Normalize`), which gives the same values to float32 rounding.
   */
  fused = true;

  /**
   * Maps `[rows, inDim]` features to `[rows, outDim]`; `normalize`: L2-normalised rows (what the
   * dual encoder embeds), fused with the last bias when {@link fused}.
   */
  forward(x: Tensor, normalize = false): Tensor {
    const { kind, activation } = this.config;
    const get = (name: string) => this.params.get(name)!;
    if (!this.fused) {
      const h = addBias(matmul(x, get("W1")), get("b1"));
      let y = h;
      if (kind !== "linear") {
        const a = activation === "gelu" ? gelu(h) : relu(h);
        y = addBias(matmul(a, get("W2")), get("b2"));
        if (kind === "adapter") y = add(x, y);
      }
      return normalize ? l2Normalize(y) : y;
    }
    // The last layer's product, before its bias: x·W1 (linear), a·W2 (mlp), x + a·W2 (adapter).
    const last = kind === "linear" ? "b1" : "b2";
    let z = matmul(x, get("W1"));
    if (kind !== "linear") {
      const a = biasActivation(z, get("b1"), activation);
      z = matmul(a, get("W2"));
      if (kind === "adapter") z = add(x, z);
    }
    return normalize ? biasL2Normalize(z, get(last)) : biasActivation(z, get(last), "none");
  }

  /** Frees the parameters. */
  dispose(): void {
    for (const t of this.params.values()) t.dispose();
  }
}
