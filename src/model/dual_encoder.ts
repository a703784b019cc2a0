/**
 * The retrieval model: a projection head per modality, L2-normalised outputs, and a learnable
 * temperature. The in-batch similarity matrix is `exp(logitScale) · T̂·Îᵀ`.
 *
 * @module
 */

import { noGrad } from "../autodiff/tape.ts";
import { scope, shapeString, Tensor, untracked } from "../autodiff/tensor.ts";
import { exp, sub } from "../ops/elementwise.ts";
import { matmul } from "../ops/matmul.ts";
import { gatherRows } from "../ops/gather.ts";
import { broadcastCols, l2Normalize, mulScalar } from "../ops/reduce.ts";
import { Random } from "../util/random.ts";
import {
  type Activation,
  type HeadConfig,
  type HeadKind,
  headParamShapes,
  ProjectionHead,
} from "./heads.ts";
import { rt } from "../gpu/runtime.ts";

/** Upper clamp of the log temperature, as CLIP: the logit scale never exceeds 100. */
export const MAX_LOGIT_SCALE = Math.log(100);

/** Model configuration (stored in checkpoints; enough to rebuild the model). */
export interface DualEncoderConfig {
  /** Text head. */
  text: HeadConfig;
  /** Image head. */
  image: HeadConfig;
  /** Initial logit scale (similarities are multiplied by it). */
  initScale: number;
  /** Whether the scale is learned (clamped to [1, 100]) or fixed at `initScale`. */
  learnScale: boolean;
  /**
   * A final linear CCA on each side (`dcca` runs): the embedding is
   * `normalise((normalise(head(x)) − mean) · proj)` with the fixed, fitted tensors
   * `{text,image}.cca_mean` `[outDim]` and `{text,image}.cca_proj` `[outDim, outDim]` (identity and
   * 0 until fitted). Absent: no CCA.
   */
  cca?: boolean;
}

/** Options to derive a config from feature dimensions. */
export interface ModelOptions {
  /** Head kind, or `auto`: `adapter` when the two feature dims match, else `mlp`. */
  head?: HeadKind | "auto";
  /** Joint embedding dimension (ignored by `adapter`, which keeps the feature dim). Default 256. */
  embedDim?: number;
  /** Hidden width. Default 512. */
  hidden?: number;
  /** Default `gelu`. */
  activation?: Activation;
  /**
   * Initial logit scale. Default 1/0.07 (CLIP's initial value) for new heads, 100 (the scale CLIP
   * learned) for adapters on pretrained features.
   */
  initScale?: number;
  /** Learn the scale. Default true. */
  learnScale?: boolean;
  /** A final linear CCA projection on each side (see {@link DualEncoderConfig.cca}). */
  cca?: boolean;
}

/** Builds a {@link DualEncoderConfig} for features of the given dimensions. */
export function modelConfig(
  textDim: number,
  imageDim: number,
  o: ModelOptions = {},
): DualEncoderConfig {
  const kind = o.head === undefined || o.head === "auto"
    ? (textDim === imageDim ? "adapter" : "mlp")
    : o.head;
  if (kind === "adapter" && textDim !== imageDim) {
    throw new RangeError(
      `--head adapter needs equal feature dims; texts have ${textDim}, images ${imageDim}`,
    );
  }
  const embedDim = kind === "adapter" ? textDim : o.embedDim ?? 256;
  const common = {
    kind,
    outDim: embedDim,
    hidden: o.hidden ?? 512,
    activation: o.activation ?? "gelu",
  };
  return {
    text: { ...common, inDim: textDim },
    image: { ...common, inDim: imageDim },
    initScale: o.initScale ?? (kind === "adapter" ? 100 : 1 / 0.07),
    learnScale: o.learnScale ?? true,
    ...(o.cca ? { cca: true } : {}),
  };
}

/**
 * The parameter shapes of a model, by the names of {@link DualEncoder.namedParameters}
 * (`text.W1`, …, `logit_scale`), without creating it: what a checkpoint must hold.
 */
export function dualEncoderParamShapes(config: DualEncoderConfig): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const side of ["text", "image"] as const) {
    for (const [k, shape] of Object.entries(headParamShapes(config[side]))) {
      out[`${side}.${k}`] = shape;
    }
  }
  out.logit_scale = [1];
  if (config.cca) {
    for (const side of ["text", "image"] as const) {
      const d = config[side].outDim;
      out[`${side}.cca_mean`] = [d];
      out[`${side}.cca_proj`] = [d, d];
    }
  }
  return out;
}

/** One side's fixed final CCA: the mean `[d]` subtracted and the projection `[d, d]`. */
export interface CcaSide {
  mean: Tensor;
  proj: Tensor;
}

function ccaSide(d: number, side: string): CcaSide {
  const eye = new Float32Array(d * d);
  for (let i = 0; i < d; i++) eye[i * d + i] = 1;
  return untracked(() => ({
    mean: Tensor.zeros([d], { label: `${side}.cca_mean` }),
    proj: Tensor.from(eye, [d, d], { label: `${side}.cca_proj` }),
  }));
}

/** The two heads and the temperature. */
export class DualEncoder {
  /** Configuration. */
  readonly config: DualEncoderConfig;
  /** Text projection. */
  readonly textHead: ProjectionHead;
  /** Image projection. */
  readonly imageHead: ProjectionHead;
  /** Log of the logit scale, shape `[1]`. */
  readonly logScale: Tensor;
  /** The fixed final CCA of each side (`config.cca`), else null. */
  readonly cca: { text: CcaSide; image: CcaSide } | null;

  /** Initialises a model from `config`, seeded. */
  constructor(config: DualEncoderConfig, seed: number) {
    this.config = config;
    const random = new Random(seed);
    this.textHead = new ProjectionHead(config.text, random, "text");
    this.imageHead = new ProjectionHead(config.image, random, "image");
    this.logScale = Tensor.param([Math.log(config.initScale)], [1], "logit_scale");
    this.logScale.requiresGrad = config.learnScale;
    this.cca = config.cca
      ? { text: ccaSide(config.text.outDim, "text"), image: ccaSide(config.image.outDim, "image") }
      : null;
  }

  /**
   * Whether the heads use the fused ops (bias + activation, bias + L2 normalisation; see
   * {@link ProjectionHead.fused}): default true; false keeps the unfused chain (same values to
   * float32 rounding).
   */
  get fused(): boolean {
    return this.textHead.fused;
  }
  set fused(on: boolean) {
    this.textHead.fused = on;
    this.imageHead.fused = on;
  }

  /** Every tensor of the model by a stable name (`text.W1`, …, `logit_scale`). */
  namedParameters(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [k, v] of this.textHead.params) out.set(`text.${k}`, v);
    for (const [k, v] of this.imageHead.params) out.set(`image.${k}`, v);
    out.set("logit_scale", this.logScale);
    if (this.cca) {
      for (const side of ["text", "image"] as const) {
        out.set(`${side}.cca_mean`, this.cca[side].mean);
        out.set(`${side}.cca_proj`, this.cca[side].proj);
      }
    }
    return out;
  }

  /** The L2-normalised head outputs (before any final CCA): the space `dcca` trains. */
  headEmbed(which: "texts" | "images", x: Tensor): Tensor {
    return (which === "texts" ? this.textHead : this.imageHead).forward(x, true);
  }

  /** The embedding of `x`: {@link headEmbed}, then the final CCA when the model has one. */
  embed(which: "texts" | "images", x: Tensor): Tensor {
    const u = this.headEmbed(which, x);
    if (!this.cca) return u;
    const { mean, proj } = this.cca[which === "texts" ? "text" : "image"];
    const [rows, d] = u.shape;
    return l2Normalize(matmul(sub(u, broadcastCols(mean, rows, d)), proj));
  }

  /** Text embeddings `[rows, embedDim]`, L2-normalised (see {@link embed}). */
  embedTexts(x: Tensor): Tensor {
    return this.embed("texts", x);
  }

  /** Image embeddings `[rows, embedDim]`, L2-normalised (see {@link embed}). */
  embedImages(x: Tensor): Tensor {
    return this.embed("images", x);
  }

  /** Sets the final CCA (row-major `[d]` means and `[d, d]` projections); needs `config.cca`. */
  setCca(text: { mean: Float32Array; proj: Float32Array }, image: typeof text): void {
    if (!this.cca) throw new Error("setCca: the model has no final CCA (config.cca)");
    for (const [side, v] of [["text", text], ["image", image]] as const) {
      this.cca[side].mean.write(v.mean);
      this.cca[side].proj.write(v.proj);
    }
  }

  /** Scaled similarities `exp(logScale) · t·iᵀ` of normalised embeddings: `[texts, images]`. */
  similarity(textEmb: Tensor, imageEmb: Tensor): Tensor {
    return mulScalar(matmul(textEmb, imageEmb, { transB: true }), exp(this.logScale));
  }

  /**
   * Embeds every row of a host feature matrix without gradients, in chunks of `chunk` rows, and
   * returns the embeddings on the host (`rows × embedDim`); `raw`: the head embeddings, before
   * any final CCA ({@link headEmbed}).
   */
  async embedAll(
    which: "texts" | "images",
    features: Float32Array,
    rows: number,
    chunk = 4096,
    raw = false,
  ): Promise<Float32Array> {
    const head = which === "texts" ? this.textHead : this.imageHead;
    const dim = head.config.inDim;
    if (features.length !== rows * dim) {
      throw new RangeError(
        `embedAll(${which}): ${features.length} values are not ${rows} rows of ${dim} features`,
      );
    }
    const outDim = head.config.outDim;
    const out = new Float32Array(rows * outDim);
    // Rows per chunk such that the widest activation fits one GPU buffer.
    const widest = 4 * Math.max(dim, head.config.hidden, outDim);
    chunk = Math.max(
      1,
      Math.min(chunk, Math.floor(rt().device.limits.maxStorageBufferBindingSize / widest)),
    );
    for (let start = 0; start < rows; start += chunk) {
      const n = Math.min(chunk, rows - start);
      const emb = noGrad(() =>
        scope(() => {
          const x = Tensor.from(features.subarray(start * dim, (start + n) * dim), [n, dim]);
          return raw ? this.headEmbed(which, x) : this.embed(which, x);
        })
      );
      out.set(await emb.read(), start * outDim);
      emb.dispose();
    }
    return out;
  }

  /** Reads every parameter back: name → shape and data (for checkpoints). */
  async stateDict(): Promise<Record<string, { shape: number[]; data: Float32Array }>> {
    const out: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, t] of this.namedParameters()) {
      out[name] = { shape: [...t.shape], data: await t.read() };
    }
    return out;
  }

  /** Overwrites every parameter from a state dict; throws naming a missing or misshapen tensor. */
  loadStateDict(
    state: Record<string, { shape: number[]; data: Float32Array }>,
    source = "checkpoint",
  ): void {
    for (const [name, t] of this.namedParameters()) {
      const entry = state[name];
      if (!entry) throw new Error(`${source}: tensor '${name}' is missing`);
      if (entry.data.length !== t.size) {
        throw new Error(
          `${source}: tensor '${name}' has shape ${shapeString(entry.shape)}, the model needs ` +
            shapeString(t.shape),
        );
      }
      t.write(new Float32Array(entry.data));
    }
  }

  /**
   * Gathers a batch's rows from resident feature tensors and returns the similarity matrix
   * `[texts, images]`: scaled by the learned temperature (`logits`, default) or the raw cosines
   * (`cosine`, for losses whose constants are in cosine units; the temperature then gets no
   * gradient).
   */
  batchSimilarity(
    texts: Tensor,
    textRows: number[],
    images: Tensor,
    imageRows: number[],
    scores: "logits" | "cosine" = "logits",
  ): Tensor {
    const t = this.embedTexts(gatherRows(texts, textRows));
    const i = this.embedImages(gatherRows(images, imageRows));
    return scores === "cosine" ? matmul(t, i, { transB: true }) : this.similarity(t, i);
  }

  /** Frees all parameters. */
  dispose(): void {
    this.textHead.dispose();
    this.imageHead.dispose();
    this.logScale.dispose();
    if (this.cca) {
      for (const side of [this.cca.text, this.cca.image]) {
        side.mean.dispose();
        side.proj.dispose();
      }
    }
  }
}
