/**
 * Bank-normalised retrieval: three well-established corrections for hubness (a few gallery items
 * ranking high for many queries), each turned into a per-gallery-item bias that a query subtracts
 * from its raw scores, `s(q, g) − bias[g]`. The bias comes from a **bank** of queries that are not
 * the evaluated ones (for a trained run, its training part; `--bank DIR` otherwise): per-item
 * statistics computed on the GPU over bank chunks (`src/ops/bank_norm.ts`), never a bank × gallery
 * matrix. Each is the logarithm of the paper's normalised score divided by a positive constant,
 * which orders every query's gallery the same way:
 *
 * - `invsoftmax` — QB-Norm (Bogolin et al., CVPR 2022) with its dynamic inverted softmax, as the
 *   official code (`ioanacroi/qb-norm`, `dynamic_inverted_softmax.py`) does it: the normalised
 *   score `exp(β s(q, g)) / Σ_b exp(β s(b, g))` over the query bank b, applied only to queries
 *   whose raw top-1 item is in the activation set (the items in the raw top `k` of at least one
 *   bank query); other queries keep their raw scores. Defaults `beta` 20, `k` 1 (the code's).
 *   Bias: `LSE_b(β s(b, g)) / β`, for the activated queries.
 * - `dbnorm` — DBNorm (Wang et al., EMNLP 2023, "Balance Act") with its dual inverted softmax as
 *   the official code (`yimuwangcs/Better_Cross_Modal_Retrieval`, `DBNorm/dbnorm.py`, `db_norm`
 *   with its default `dynamic_normalized=False`) defines it: the product of the inverted softmax
 *   over the query bank (`beta1`, default 1/1.99) and the inverted softmax over the gallery bank
 *   (`beta2`, default 3), the gallery bank being bank items of the gallery's modality scored
 *   against the gallery items (image–image for text → image). Bias:
 *   `(LSE_b(β1 s(b, g)) + LSE_h(β2 s(h, g))) / (β1 + β2)`. (The released code passes the gallery
 *   bank's matrix where the test matrix belongs in both calls; this follows the paper's intent.)
 * - `nnn` — Nearest Neighbor Normalization (Chowdhury et al., EMNLP 2024): `s(q, g) − α ·` the mean
 *   of the `k` largest `s(b, g)` over the query bank. Defaults `alpha` 0.75, `k` 16.
 *
 * In the text → image direction the query bank holds texts and the gallery is the images; in the
 * image → text direction the bank holds images and the gallery is the texts (DBNorm's gallery
 * banks the other way round). Relevance (graded or not) is untouched: only scores change.
 *
 * @example
 * ```ts
 * import { bankNorms } from "./bank_norm.ts";
 * const norm = await bankNorms("nnn", { alpha: 0.75, k: 16 }, {
 *   texts, images, bankTexts, bankImages, dim: 512,
 * });
 * const ranks = await retrievalRanks({ texts, images, textDim: 512, imageDim: 512, textToImage }, { norm });
 * ```
 *
 * @module
 */

import { bankLogSumExp, bankTopK } from "../ops/bank_norm.ts";
import { topK } from "../ops/topk.ts";
import type { DirectionNorm, Embeddings, RetrievalOptions } from "../ops/retrieval.ts";

/** The normalisations (`none`: raw scores). */
export const NORM_METHODS = ["none", "invsoftmax", "dbnorm", "nnn"] as const;

/** One of {@link NORM_METHODS}. */
export type NormMethod = typeof NORM_METHODS[number];

/** Hyper-parameters of a normalisation (the keys its method uses). */
export type NormParams = Record<string, number>;

/** Each method's parameters and their defaults (the papers' / official code's). */
export const NORM_DEFAULTS: Readonly<Record<Exclude<NormMethod, "none">, Readonly<NormParams>>> = {
  invsoftmax: { beta: 20, k: 1 },
  dbnorm: { beta1: 1 / 1.99, beta2: 3 },
  nnn: { alpha: 0.75, k: 16 },
};

/** The grids `--norm-tune` searches (every combination; the defaults are included). */
export const NORM_GRIDS: Readonly<
  Record<Exclude<NormMethod, "none">, Readonly<Record<string, readonly number[]>>>
> = {
  invsoftmax: { beta: [20, 5, 10, 40, 80], k: [1, 2, 5] },
  dbnorm: { beta1: [1 / 1.99, 1, 2, 5, 10], beta2: [3, 1, 10, 20] },
  nnn: { alpha: [0.75, 0.25, 0.5, 1], k: [16, 4, 8, 32] },
};

/** Integer parameters (the rest are positive reals; `alpha` is ≥ 0). */
const INTEGER_KEYS = new Set(["k"]);

/**
 * The parameters of `method`: its defaults overridden by `given` (numbers or numeric strings).
 * Throws a RangeError naming the key for an unknown key or a bad value.
 */
export function normParams(
  method: Exclude<NormMethod, "none">,
  given: Record<string, unknown> = {},
): NormParams {
  const defaults = NORM_DEFAULTS[method];
  const out: NormParams = { ...defaults };
  for (const [key, raw] of Object.entries(given)) {
    if (!(key in defaults)) {
      throw new RangeError(
        `${method} has no parameter '${key}' (its parameters: ${Object.keys(defaults).join(", ")})`,
      );
    }
    const v = typeof raw === "number" ? raw : Number(String(raw).trim() || NaN);
    const ok = INTEGER_KEYS.has(key)
      ? Number.isInteger(v) && v >= 1
      : Number.isFinite(v) && (key === "alpha" ? v >= 0 : v > 0);
    if (!ok) {
      const want = INTEGER_KEYS.has(key)
        ? "an integer ≥ 1"
        : key === "alpha"
        ? "a number ≥ 0"
        : "a positive number";
      throw new RangeError(`${method} ${key} must be ${want}, got ${JSON.stringify(raw)}`);
    }
    out[key] = v;
  }
  return out;
}

/** `beta=20, k=1`: parameters for people (4 significant digits). */
export function formatNormParams(params: NormParams): string {
  return Object.entries(params).map(([k, v]) => `${k}=${Number(v.toPrecision(4))}`).join(", ");
}

/** What a normalisation needs: the evaluated items and the bank (texts and images). */
export interface NormInputs {
  /** Evaluated texts (text → image queries, image → text gallery). */
  texts: Embeddings;
  /** Evaluated images (image → text queries, text → image gallery). */
  images: Embeddings;
  /** Bank texts (never the evaluated texts). */
  bankTexts: Embeddings;
  /** Bank images (never the evaluated images). */
  bankImages: Embeddings;
  /** Row width of host arrays. */
  dim?: number;
  /** L2-normalise rows first (default true; false for embeddings a model already normalised). */
  normalize?: boolean;
}

/**
 * Statistics shared by several parameter settings (`--norm-tune`): log-sum-exps per beta, the
 * largest top-k lists, activation lists and top-1 items. Pass the same object to successive
 * {@link bankNorms} calls on the same inputs.
 */
export class NormStatsCache {
  readonly #values = new Map<string, unknown>();

  /** The value under `key`, computed by `make` the first time. */
  async get<T>(key: string, make: () => Promise<T>): Promise<T> {
    if (!this.#values.has(key)) this.#values.set(key, await make());
    return this.#values.get(key) as T;
  }
}

/** One direction's data: queries rank the gallery; banks of the queries' and gallery's modality. */
interface Side {
  name: "t2i" | "i2t";
  queries: Embeddings;
  gallery: Embeddings;
  queryBank: Embeddings;
  galleryBank: Embeddings;
}

async function directionNorm(
  method: Exclude<NormMethod, "none">,
  params: NormParams,
  side: Side,
  opts: { dim?: number; normalize?: boolean },
  cache: NormStatsCache,
): Promise<DirectionNorm> {
  const lse = (bank: "q" | "g", beta: number) =>
    cache.get(
      `${side.name}:lse:${bank}:${beta}`,
      () =>
        bankLogSumExp(bank === "q" ? side.queryBank : side.galleryBank, side.gallery, beta, opts),
    );
  if (method === "invsoftmax") {
    const { beta, k } = params;
    const z = await lse("q", beta);
    // The activation set: the gallery items in the raw top k of some bank query.
    const activated = await cache.get(`${side.name}:activation:${k}`, async () => {
      const top = await topK(side.queryBank, side.gallery, k, opts);
      const set = new Uint8Array(z.length);
      for (const g of top.indices) set[g] = 1;
      return set;
    });
    const top1 = await cache.get(
      `${side.name}:top1`,
      async () => (await topK(side.queries, side.gallery, 1, opts)).indices,
    );
    return {
      bias: z.map((v) => v / beta),
      active: Uint8Array.from(top1, (g) => activated[g]),
    };
  }
  if (method === "dbnorm") {
    const { beta1, beta2 } = params;
    const q = await lse("q", beta1);
    const h = await lse("g", beta2);
    return { bias: q.map((v, g) => (v + h[g]) / (beta1 + beta2)) };
  }
  const { alpha, k } = params;
  // One top-k sweep serves every smaller k (the lists are sorted, largest first).
  const cached = await cache.get<{ k: number; values: Float32Array }>(
    `${side.name}:topk`,
    async () => ({ k, values: await bankTopK(side.queryBank, side.gallery, k, opts) }),
  );
  const top = cached.k >= k
    ? cached
    : { k, values: await bankTopK(side.queryBank, side.gallery, k, opts) };
  const ng = top.values.length / top.k;
  const bias = new Float64Array(ng);
  for (let g = 0; g < ng; g++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += top.values[g * top.k + j];
    bias[g] = alpha * sum / k;
  }
  return { bias };
}

/**
 * Both directions' normalisations of `method` with `params` (see the module documentation), as
 * `retrievalRanks`' `norm` option: the statistics are computed on the GPU, chunked over the bank
 * and the gallery. `none` gives `undefined` (raw scores).
 */
export async function bankNorms(
  method: NormMethod,
  params: NormParams,
  inputs: NormInputs,
  cache: NormStatsCache = new NormStatsCache(),
): Promise<RetrievalOptions["norm"]> {
  if (method === "none") return undefined;
  const opts = { dim: inputs.dim, normalize: inputs.normalize };
  const t2i: Side = {
    name: "t2i",
    queries: inputs.texts,
    gallery: inputs.images,
    queryBank: inputs.bankTexts,
    galleryBank: inputs.bankImages,
  };
  const i2t: Side = {
    name: "i2t",
    queries: inputs.images,
    gallery: inputs.texts,
    queryBank: inputs.bankImages,
    galleryBank: inputs.bankTexts,
  };
  return {
    t2i: await directionNorm(method, params, t2i, opts, cache),
    i2t: await directionNorm(method, params, i2t, opts, cache),
  };
}

/** Every combination of `method`'s grid, the defaults first. */
export function normGrid(method: Exclude<NormMethod, "none">): NormParams[] {
  let out: NormParams[] = [{}];
  for (const [key, values] of Object.entries(NORM_GRIDS[method])) {
    out = out.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  }
  return out;
}
