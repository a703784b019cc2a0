/**
 * GPU retrieval ranks (`kernels/retrieval.wgsl`): per-pair ranks in both directions, chunked over
 * texts and images, and the chunk machinery `topK` (`./topk.ts`) shares: embedding inputs (host
 * arrays or tensors), chunk planning, row preparation (L2 normalisation and padding, on the GPU)
 * and blocks of similarity scores (through the matmul kernel, `./matmul.ts`).
 *
 * A collection larger than one GPU buffer is handled a chunk of rows at a time: rows are uploaded
 * (host arrays) or read in place (tensors), prepared into a chunk buffer, and scored against a
 * chunk of the other side, so at most one block of the score matrix exists at a time.
 *
 * How {@link retrievalRanks} works, on the graded relation (`src/data/relation.ts`; ungraded data
 * is its one-pair-per-text case): the score of every relevant (text, image) pair is computed first
 * (the diagonal of the matmul over the pairs' gathered rows, bit for bit its block entry). Then one
 * sweep over blocks of (image chunk × text chunk) computes each block of cosine scores once and,
 * from it, both directions' counts: for each pair of the block's texts, the images ranking above
 * its image in the text's ranking (`count_t2i`), and for each pair of the block's images, the
 * texts ranking above its text in the image's ranking (`count_i2t`). Counts accumulate over
 * blocks; only they are read back, once. Tie rule: see `TIE_RULE` in `src/eval/metrics.ts`
 * (pessimistic: a tied item of lower grade, or of equal grade and lower index, ranks above).
 *
 * @example
 * ```ts
 * import { initGpu } from "../gpu/runtime.ts";
 * import { retrievalRanks } from "./retrieval.ts";
 * await initGpu();
 * const r = await retrievalRanks({
 *   texts: new Float32Array([1, 0, 0, 1]), textDim: 2,
 *   images: new Float32Array([1, 0.1, 0.1, 1]), imageDim: 2,
 *   textToImage: new Int32Array([0, 1]),
 * });
 * console.log(r.t2i, r.i2t); // [1, 1] and [1, 1]
 * ```
 *
 * @module
 */

import { BANK_NORM, RETRIEVAL } from "../gpu/kernels.ts";
import { rt } from "../gpu/runtime.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import {
  checkRelation,
  type GradedRelation,
  oneToOne,
  pairsByImage,
  pairTexts,
  type RetrievalRanks,
} from "../data/relation.ts";
import { matmulNtInto, type MatmulOptions, rowDotsInto } from "./matmul.ts";
import { MAX_LOOP_ITERATIONS } from "./common.ts";

/** Embeddings: a row-major host array (with its row width given separately) or a 2-D tensor. */
export type Embeddings = Float32Array | Tensor;

/** Byte budget of one chunk buffer and of one block of scores (32 MiB). */
export const CHUNK_BYTES = 32 * 2 ** 20;

/** Default cap on the rows of a chunk of gallery rows (further capped by {@link CHUNK_BYTES}). */
export const MAX_CHUNK_ROWS = 8192;

/**
 * The most rows of a chunk that one invocation loops over: half of llvmpipe's loop limit
 * ({@link MAX_LOOP_ITERATIONS}), since the bank statistics pass over a block's line twice.
 */
export const MAX_LINE = Math.floor((MAX_LOOP_ITERATIONS - 1) / 2);

/** A resolved embedding matrix. */
export interface Matrix {
  /** Name for messages (`texts`, `images`, `queries`, …). */
  what: string;
  /** Row count. */
  rows: number;
  /** Row width. */
  dim: number;
  /** Host data, when given as an array. */
  data?: Float32Array;
  /** GPU data, when given as a tensor. */
  tensor?: Tensor;
}

/**
 * Resolves `value` into a {@link Matrix}: a tensor must be 2-D; a host array needs `dim`, a positive
 * integer dividing its length, and finite values (the first bad value is named). `caller` prefixes
 * every message.
 */
export function asMatrix(caller: string, what: string, value: Embeddings, dim?: number): Matrix {
  if (value instanceof Tensor) {
    if (value.shape.length !== 2) {
      throw new RangeError(
        `${caller}: ${what} must be a 2-D tensor, got ${shapeString(value.shape)}`,
      );
    }
    if (dim !== undefined && dim !== value.shape[1]) {
      throw new RangeError(
        `${caller}: ${what} tensor is ${shapeString(value.shape)} but ${what} dim is ${dim}`,
      );
    }
    return { what, rows: value.shape[0], dim: value.shape[1], tensor: value };
  }
  if (!(value instanceof Float32Array)) {
    throw new TypeError(`${caller}: ${what} must be a Float32Array or a Tensor`);
  }
  if (dim === undefined || !Number.isInteger(dim) || dim < 1) {
    throw new RangeError(`${caller}: ${what} dim must be a positive integer, got ${dim}`);
  }
  if (value.length % dim !== 0) {
    throw new RangeError(
      `${caller}: ${what} has ${value.length} values, not a multiple of its dim ${dim}`,
    );
  }
  for (let i = 0; i < value.length; i++) {
    if (!Number.isFinite(value[i])) {
      const row = Math.floor(i / dim);
      throw new RangeError(
        `${caller}: ${what} row ${row} has a non-finite value (${value[i]}) at column ${i % dim}`,
      );
    }
  }
  return { what, rows: value.length / dim, dim, data: value };
}

/** How a dimension of `n` rows is cut into `count` chunks of at most `size` rows. */
export interface ChunkPlan {
  /** Rows per chunk (the last may have fewer). */
  size: number;
  /** Number of chunks. */
  count: number;
}

/**
 * Cuts `n` rows into the fewest chunks of at most `max` rows, of balanced sizes (so the last chunk
 * is not a sliver).
 */
export function planChunks(n: number, max: number): ChunkPlan {
  const limit = Math.max(1, Math.floor(max));
  const count = Math.max(1, Math.ceil(n / limit));
  return { size: Math.max(1, Math.ceil(n / count)), count };
}

/** Vec4s per prepared row of width `dim`. */
export function vec4s(dim: number): number {
  return Math.ceil(dim / 4);
}

/** The most rows of width `dim` whose prepared chunk and raw upload fit {@link CHUNK_BYTES}. */
export function rowsPerChunk(dim: number): number {
  return Math.max(1, Math.floor(CHUNK_BYTES / (vec4s(dim) * 16)));
}

/**
 * Chunk sizes for a block sweep of `galleryRows` × `queryRows`: the gallery chunk first (at most
 * {@link MAX_CHUNK_ROWS} rows), then the query chunk so that one block of scores stays within
 * {@link CHUNK_BYTES}. Explicit sizes win; both are checked (`names` name them in messages).
 */
export function chooseChunks(
  caller: string,
  gallery: Matrix,
  queries: Matrix,
  galleryChunk?: number,
  queryChunk?: number,
  names: readonly [string, string] = ["galleryChunk", "queryChunk"],
): { gallery: ChunkPlan; queries: ChunkPlan } {
  for (const [name, v] of [[names[0], galleryChunk], [names[1], queryChunk]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
      throw new RangeError(`${caller}: ${name} must be a positive integer, got ${v}`);
    }
  }
  for (const [name, v] of [[names[0], galleryChunk], [names[1], queryChunk]] as const) {
    if (v !== undefined && v > MAX_LINE) {
      throw new RangeError(
        `${caller}: ${name} ${v} is over ${MAX_LINE}: the kernels loop over a chunk's rows in one ` +
          `invocation, and llvmpipe stops an invocation's loops after ${MAX_LOOP_ITERATIONS - 1} ` +
          "iterations (with a wrong result, not an error)",
      );
    }
  }
  const cells = CHUNK_BYTES / 4;
  const g = galleryChunk ?? Math.min(gallery.rows, rowsPerChunk(gallery.dim), MAX_CHUNK_ROWS);
  const gPlan = planChunks(gallery.rows, g);
  const q = queryChunk ??
    Math.min(
      queries.rows,
      rowsPerChunk(queries.dim),
      Math.max(1, Math.floor(cells / gPlan.size)),
      MAX_LINE,
    );
  return { gallery: gPlan, queries: planChunks(queries.rows, q) };
}

/**
 * A GPU buffer of prepared rows (normalised, zero-padded to whole vec4s) for one chunk, reused for
 * every chunk of a matrix. Host rows go through a raw upload buffer; tensor rows are read in place.
 */
export class ChunkRows {
  /** Bytes uploaded from host arrays by all chunks so far (read by {@link Throttle}). */
  static uploadedBytes = 0;
  /** The prepared rows, `capacity × vec4s(dim)` vec4s. */
  readonly buffer: GPUBuffer;
  /** Rows it can hold. */
  readonly capacity: number;
  /** Rows currently prepared. */
  rows = 0;
  readonly #m: Matrix;
  readonly #normalize: boolean;
  #raw: GPUBuffer | null = null;
  #index: GPUBuffer | null = null;
  #released = false;

  /** Allocates a chunk of `capacity` rows of `m`, prepared with or without normalisation. */
  constructor(m: Matrix, capacity: number, normalize: boolean) {
    this.#m = m;
    this.#normalize = normalize;
    this.capacity = capacity;
    this.buffer = rt().pool.acquire(capacity * vec4s(m.dim) * 16, `${m.what} chunk`);
  }

  /** Records the preparation of rows `[start, start + count)` of the matrix. */
  load(start: number, count: number): void {
    this.#check(count);
    const m = this.#m;
    if (m.tensor) {
      this.#prepare(m.tensor.buffer, start, count, null);
    } else {
      const raw = this.#rawBuffer();
      rt().upload(raw, m.data!.subarray(start * m.dim, (start + count) * m.dim));
      ChunkRows.uploadedBytes += count * m.dim * 4;
      this.#prepare(raw, 0, count, null);
    }
  }

  /** Records the preparation of the rows listed in `index` (row r ← matrix row index[r]). */
  gather(index: Uint32Array<ArrayBuffer>): void {
    const count = index.length;
    this.#check(count);
    const m = this.#m;
    if (m.tensor) {
      this.#index ??= rt().pool.acquire(this.capacity * 4, `${m.what} chunk index`);
      rt().upload(this.#index, index);
      this.#prepare(m.tensor.buffer, 0, count, this.#index);
    } else {
      const raw = this.#rawBuffer();
      const rows = new Float32Array(count * m.dim);
      const data = m.data!;
      for (let r = 0; r < count; r++) {
        rows.set(data.subarray(index[r] * m.dim, (index[r] + 1) * m.dim), r * m.dim);
      }
      rt().upload(raw, rows);
      ChunkRows.uploadedBytes += rows.byteLength;
      this.#prepare(raw, 0, count, null);
    }
  }

  /** Returns the buffers to the pool (once; later calls do nothing). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const pool = rt().pool;
    pool.release(this.buffer);
    if (this.#raw) pool.release(this.#raw);
    if (this.#index) pool.release(this.#index);
  }

  #check(count: number): void {
    if (count < 1 || count > this.capacity) {
      throw new RangeError(`${this.#m.what} chunk: ${count} rows do not fit ${this.capacity}`);
    }
  }

  #rawBuffer(): GPUBuffer {
    this.#raw ??= rt().pool.acquire(this.capacity * this.#m.dim * 4, `${this.#m.what} upload`);
    return this.#raw;
  }

  #prepare(src: GPUBuffer, row0: number, count: number, index: GPUBuffer | null): void {
    const flags = (this.#normalize ? 1 : 0) | (index ? 2 : 0);
    RETRIEVAL.launch(
      "prepare_rows",
      { a: src, bu: index ?? undefined, o: this.buffer },
      { rows: count, cols: this.#m.dim, d4: vec4s(this.#m.dim), row0, flags },
      count,
    );
    this.rows = count;
  }
}

/**
 * Records `out[j * q.rows + c] = <gallery row j, query row c>` for the prepared chunks `g` and `q`
 * (same row width `dim`): one block of scores, row-major, gallery rows × queries, through the
 * matmul kernel's planner (`A·Bᵀ` of the prepared rows); `plan` forces one (tests).
 */
export function recordScores(
  g: ChunkRows,
  q: ChunkRows,
  dim: number,
  out: GPUBuffer,
  plan?: MatmulOptions["plan"],
): void {
  matmulNtInto(out, g.buffer, q.buffer, g.rows, q.rows, vec4s(dim) * 4, plan);
}

/**
 * Records `rel[col0 + c] = <own row c, query row c>` for c < q.rows: the score of each query with
 * its own gallery item (`own` holds those items, gathered), equal bit for bit to that entry of a
 * {@link recordScores} block (so an exact tie between it and another item stays a tie).
 */
export function recordPairScores(
  own: ChunkRows,
  q: ChunkRows,
  dim: number,
  col0: number,
  rel: GPUBuffer,
): void {
  rowDotsInto(rel, own.buffer, q.buffer, q.rows, vec4s(dim) * 4, col0);
}

/**
 * Bounds the work queued by a sweep without waiting more than needed: the recorded work is
 * submitted every {@link CHUNK_BYTES} of host uploads or every 256 blocks (submitting recycles the
 * pool's upload buffers), and after an upload-heavy submission the sweep waits for the previous
 * one, so at most about two chunks of uploads are queued. Sweeps over tensors or small chunks
 * never wait (each wait costs ~11 ms on llvmpipe).
 */
export class Throttle {
  #seen = ChunkRows.uploadedBytes;
  #blocks = 0;
  #inflight: Promise<void> | null = null;

  /** Call after recording each block. */
  async step(): Promise<void> {
    this.#blocks++;
    const bytes = ChunkRows.uploadedBytes - this.#seen;
    if (bytes < CHUNK_BYTES && this.#blocks < 256) return;
    rt().submit();
    this.#seen = ChunkRows.uploadedBytes;
    this.#blocks = 0;
    if (bytes < CHUNK_BYTES) return;
    const done = rt().device.queue.onSubmittedWorkDone();
    if (this.#inflight) await this.#inflight;
    this.#inflight = done;
  }
}

/** What to evaluate: text and image embeddings and the text → image relation. */
export interface RetrievalInput {
  /** Text embeddings, `numTexts × dim` (host array with `textDim`, or a 2-D tensor). */
  texts: Embeddings;
  /** Image embeddings, `numImages × dim`. */
  images: Embeddings;
  /** The (primary) image of each text (`0 ≤ textToImage[t] < numImages`). */
  textToImage: ArrayLike<number>;
  /**
   * Graded relevance, as a dataset's `relevance` (absent: each text relevant to its image alone,
   * grade 1; see `src/data/relation.ts`).
   */
  relevance?: GradedRelation;
  /** Row width of `texts` when it is a host array. */
  textDim?: number;
  /** Row width of `images` when it is a host array. */
  imageDim?: number;
}

/** How to evaluate. */
export interface RetrievalOptions {
  /** L2-normalise both sides first, so scores are cosines (default true). */
  normalize?: boolean;
  /** Images per chunk (default: up to 8192, within 32 MiB per chunk). */
  imageChunk?: number;
  /** Texts per chunk (default: as many as keep one block of scores within 32 MiB). */
  textChunk?: number;
  /** Called after each score block with blocks done and blocks in all (progress of large galleries). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Bank normalisation of each direction's scores (absent: raw scores): a query ranks gallery
   * item g by `s − bias[g]` (see `src/eval/bank_norm.ts` for the methods that make the biases).
   */
  norm?: { t2i?: DirectionNorm; i2t?: DirectionNorm };
}

/**
 * One direction's normalised scores: a normalised query ranks gallery item g by `s − bias[g]`
 * (in float32, the same expression for the relevant pairs and the score blocks, so exact ties
 * stay ties), the other queries by `s`.
 */
export interface DirectionNorm {
  /** One finite value per gallery item (images for text → image, texts for image → text). */
  bias: ArrayLike<number>;
  /** Per query (texts for text → image, images for image → text): falsy keeps its raw scores; absent: all normalised. */
  active?: ArrayLike<number | boolean>;
}

const CALLER = "evaluateRetrieval";

function u32Buffer(values: Uint32Array<ArrayBuffer>, label: string): GPUBuffer {
  const buffer = rt().pool.acquire(Math.max(values.byteLength, 4), label);
  if (values.length > 0) rt().upload(buffer, values);
  return buffer;
}

function checkTextToImage(
  textToImage: ArrayLike<number>,
  texts: Matrix,
  images: Matrix,
): Int32Array<ArrayBuffer> {
  if (textToImage.length !== texts.rows) {
    throw new RangeError(
      `${CALLER}: textToImage has ${textToImage.length} entries, texts have ${texts.rows} rows`,
    );
  }
  const out = new Int32Array(texts.rows);
  for (let t = 0; t < texts.rows; t++) {
    const i = textToImage[t];
    if (!Number.isInteger(i) || i < 0 || i >= images.rows) {
      throw new RangeError(
        `${CALLER}: textToImage[${t}] = ${i} is not an image index (0..${images.rows - 1})`,
      );
    }
    out[t] = i;
  }
  return out;
}

/** A direction's normalisation, checked: the bias, the active flags and the kernel flags. */
interface CheckedNorm {
  bias: Float32Array<ArrayBuffer>;
  active?: Uint32Array<ArrayBuffer>;
  flags: number;
}

function checkNorm(
  norm: DirectionNorm | undefined,
  dir: "t2i" | "i2t",
  gallery: number,
  queries: number,
): CheckedNorm | null {
  if (!norm) return null;
  const [gWhat, qWhat] = dir === "t2i" ? ["images", "texts"] : ["texts", "images"];
  if (norm.bias.length !== gallery) {
    throw new RangeError(
      `${CALLER}: norm.${dir}.bias has ${norm.bias.length} values, one per gallery item ` +
        `(${gallery} ${gWhat}) expected`,
    );
  }
  const bias = new Float32Array(gallery);
  for (let g = 0; g < gallery; g++) {
    bias[g] = norm.bias[g];
    if (!Number.isFinite(bias[g])) {
      throw new RangeError(`${CALLER}: norm.${dir}.bias[${g}] = ${norm.bias[g]} is not finite`);
    }
  }
  const out: CheckedNorm = { bias, flags: dir === "i2t" ? 1 : 0 };
  if (norm.active !== undefined) {
    if (norm.active.length !== queries) {
      throw new RangeError(
        `${CALLER}: norm.${dir}.active has ${norm.active.length} values, one per query ` +
          `(${queries} ${qWhat}) expected`,
      );
    }
    out.active = Uint32Array.from({ length: queries }, (_, q) => (norm.active![q] ? 1 : 0));
    out.flags |= 2;
  }
  return out;
}

/** A checked normalisation on the GPU. */
interface NormBuffers {
  bias: GPUBuffer;
  active?: GPUBuffer;
  flags: number;
}

function uploadNorm(n: CheckedNorm | null, dir: string): NormBuffers | null {
  if (!n) return null;
  const bias = rt().pool.acquire(n.bias.byteLength, `${dir} norm bias`);
  rt().upload(bias, n.bias);
  const active = n.active ? u32Buffer(n.active, `${dir} norm active`) : undefined;
  return { bias, active, flags: n.flags };
}

/**
 * Per-pair ranks in both directions (see {@link RetrievalRanks}), computed on the GPU: every
 * relevant (text, image) pair of the graded relation gets the rank of its image in the text's
 * ranking and of its text in the image's ranking. Throws a RangeError naming the field for empty
 * inputs, different dims, non-finite host values or a bad relation.
 */
export async function retrievalRanks(
  input: RetrievalInput,
  options: RetrievalOptions = {},
): Promise<RetrievalRanks> {
  const texts = asMatrix(CALLER, "texts", input.texts, input.textDim);
  const images = asMatrix(CALLER, "images", input.images, input.imageDim);
  if (texts.rows === 0 || images.rows === 0) {
    throw new RangeError(
      `${CALLER}: nothing to evaluate (${texts.rows} texts, ${images.rows} images)`,
    );
  }
  if (texts.dim !== images.dim) {
    throw new RangeError(
      `${CALLER}: texts have ${texts.dim} dims, images ${images.dim}: similarity needs equal dims`,
    );
  }
  const textToImage = checkTextToImage(input.textToImage, texts, images);
  const relevance = input.relevance ?? oneToOne(textToImage);
  checkRelation(relevance, textToImage, images.rows, `${CALLER}: relevance`);
  const checkedNorms = {
    t2i: checkNorm(options.norm?.t2i, "t2i", images.rows, texts.rows),
    i2t: checkNorm(options.norm?.i2t, "i2t", texts.rows, images.rows),
  };
  const numTexts = texts.rows;
  const numPairs = relevance.images.length;
  const dim = texts.dim;
  const normalize = options.normalize ?? true;
  const plan = chooseChunks(CALLER, images, texts, options.imageChunk, options.textChunk, [
    "imageChunk",
    "textChunk",
  ]);
  const pairText = pairTexts(relevance);
  const byImage = pairsByImage(relevance, images.rows);
  const packed = new Uint32Array(3 * numPairs);
  for (let q = 0; q < numPairs; q++) {
    packed.set([pairText[q], relevance.images[q], relevance.grades[q]], 3 * q);
  }

  const pool = rt().pool;
  const pairsBuf = u32Buffer(packed, "relevant pairs");
  const offsetsBuf = u32Buffer(Uint32Array.from(relevance.offsets), "pairs by text");
  const orderBuf = u32Buffer(byImage.order, "pairs by image");
  const rel = pool.acquire(numPairs * 4, "relevant scores");
  const counts = pool.acquire(numPairs * 8, "rank counts");
  rt().upload(counts, new Uint32Array(numPairs * 2));
  const norms = {
    t2i: uploadNorm(checkedNorms.t2i, "t2i"),
    i2t: uploadNorm(checkedNorms.i2t, "i2t"),
  };
  const normBufs = [norms.t2i, norms.i2t].flatMap((n) => n ? [n.bias, n.active] : []);
  let normed: GPUBuffer | null = null;
  const normedRel = { t2i: rel, i2t: rel };
  const pairSize = plan.queries.size;
  const pairTextRows = new ChunkRows(texts, pairSize, normalize);
  const pairImageRows = new ChunkRows(images, pairSize, normalize);
  let textChunk: ChunkRows | null = null;
  let imageChunk: ChunkRows | null = null;
  let block: GPUBuffer | null = null;
  const throttle = new Throttle();
  try {
    // 1. The score of each pair, with the arithmetic of the block kernel.
    for (let q0 = 0; q0 < numPairs; q0 += pairSize) {
      const n = Math.min(pairSize, numPairs - q0);
      pairTextRows.gather(Uint32Array.from(pairText.subarray(q0, q0 + n)));
      pairImageRows.gather(Uint32Array.from(relevance.images.subarray(q0, q0 + n)));
      recordPairScores(pairImageRows, pairTextRows, dim, q0, rel);
      await throttle.step();
    }
    pairTextRows.release();
    pairImageRows.release();
    // Normalised pair scores, per direction (the same expression as the normalised blocks).
    for (const dir of ["t2i", "i2t"] as const) {
      const n = norms[dir];
      if (!n) continue;
      const out = pool.acquire(numPairs * 4, `${dir} normalised relevant scores`);
      normBufs.push(out);
      const bindings = { a: rel, bias: n.bias, on: n.active, pairs: pairsBuf, out };
      BANK_NORM.launch("norm_pairs", bindings, { count: numPairs, flags: n.flags }, numPairs);
      normedRel[dir] = out;
    }

    // 2. One sweep over blocks: scores, then counts in both directions.
    textChunk = new ChunkRows(texts, plan.queries.size, normalize);
    imageChunk = new ChunkRows(images, plan.gallery.size, normalize);
    block = pool.acquire(plan.gallery.size * plan.queries.size * 4, "score block");
    if (norms.t2i || norms.i2t) {
      normed = pool.acquire(plan.gallery.size * plan.queries.size * 4, "normalised score block");
    }
    const relation = { pairs: pairsBuf, offsets: offsetsBuf, counts };
    // The block a direction counts on: the raw block, or its normalised copy.
    const scored = (dir: "t2i" | "i2t", common: Record<string, number>): GPUBuffer => {
      const n = norms[dir];
      if (!n) return block!;
      const { rows, cols, row0, col0 } = common;
      const bindings = { a: block!, bias: n.bias, on: n.active, out: normed! };
      const params = { rows, cols, row0, col0, flags: n.flags };
      BANK_NORM.launch("norm_block", bindings, params, rows * cols);
      return normed!;
    };
    for (let g = 0; g < plan.gallery.count; g++) {
      const i0 = g * plan.gallery.size;
      const ni = Math.min(plan.gallery.size, images.rows - i0);
      imageChunk.load(i0, ni);
      for (let c = 0; c < plan.queries.count; c++) {
        const t0 = c * plan.queries.size;
        const nt = Math.min(plan.queries.size, numTexts - t0);
        if (g === 0 || plan.queries.count > 1) textChunk.load(t0, nt);
        recordScores(imageChunk, textChunk, dim, block);
        const common = { rows: ni, cols: nt, stride: nt, row0: i0, col0: t0 };
        // Pairs of the block's texts (contiguous: by text), then of its images (by image).
        const t2iStart = relevance.offsets[t0];
        const t2iCount = relevance.offsets[t0 + nt] - t2iStart;
        const params = { ...common, start: t2iStart, count: t2iCount, offset: 0 };
        if (t2iCount > 0) {
          const a = scored("t2i", common);
          RETRIEVAL.launch("count_t2i", { a, rel: normedRel.t2i, ...relation }, params, t2iCount);
        }
        const start = byImage.offsets[i0];
        const count = byImage.offsets[i0 + ni] - start;
        if (count > 0) {
          const i2t = { ...common, start, count, offset: numPairs };
          const bindings = { a: scored("i2t", common), rel: normedRel.i2t, order: orderBuf };
          RETRIEVAL.launch("count_i2t", { ...bindings, ...relation }, i2t, count);
        }
        await throttle.step();
        options.onProgress?.(
          g * plan.queries.count + c + 1,
          plan.gallery.count * plan.queries.count,
        );
      }
    }
    const raw = new Uint32Array(await rt().read(counts, numPairs * 8));
    const t2i = raw.slice(0, numPairs);
    const i2t = raw.slice(numPairs);
    for (let q = 0; q < numPairs; q++) {
      t2i[q] += 1;
      i2t[q] += 1;
    }
    return { numImages: images.rows, textToImage, relevance, t2i, i2t };
  } finally {
    pairTextRows.release();
    pairImageRows.release();
    textChunk?.release();
    imageChunk?.release();
    for (const b of [pairsBuf, offsetsBuf, orderBuf, rel, counts, block, normed, ...normBufs]) {
      if (b) pool.release(b);
    }
  }
}
