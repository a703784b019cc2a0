/**
 * The chunk machinery shared by `evaluateRetrieval` (./retrieval.ts) and `topK` (./topk.ts), over
 * `kernels/retrieval.wgsl`: embedding inputs (host arrays or tensors), chunk planning, row
 * preparation (L2 normalisation and padding, on the GPU) and blocks of similarity scores.
 *
 * A collection larger than one GPU buffer is handled a chunk of rows at a time: rows are uploaded
 * (host arrays) or read in place (tensors), prepared into a chunk buffer, and scored against a
 * chunk of the other side, so at most one block of the score matrix exists at a time.
 *
 * @module
 */

import { RETRIEVAL } from "../gpu/kernels.ts";
import { PRELUDE } from "../gpu/prelude.ts";
import { MAX_GROUPS, rt } from "../gpu/runtime.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";

/** Embeddings: a row-major host array (with its row width given separately) or a 2-D tensor. */
export type Embeddings = Float32Array | Tensor;

/** Byte budget of one chunk buffer and of one block of scores (32 MiB). */
export const CHUNK_BYTES = 32 * 2 ** 20;

/** Default cap on the rows of a chunk of gallery rows (further capped by {@link CHUNK_BYTES}). */
export const MAX_CHUNK_ROWS = 8192;

/** Norm floor of cosine preparation: rows with a smaller norm are divided by it (zero stays 0). */
export const NORM_EPS: number = PRELUDE.NORM_EPS;

/** Rows of the uniform side per workgroup of `scores` / `scores_t` (`kernels/retrieval.wgsl`). */
const SCORE_UNIFORM = 32;
/** Rows of the lane side per workgroup (8 invocations × 32). */
const SCORE_LANES = 256;

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
  const cells = CHUNK_BYTES / 4;
  const g = galleryChunk ?? Math.min(gallery.rows, rowsPerChunk(gallery.dim), MAX_CHUNK_ROWS);
  const gPlan = planChunks(gallery.rows, g);
  const q = queryChunk ??
    Math.min(queries.rows, rowsPerChunk(queries.dim), Math.max(1, Math.floor(cells / gPlan.size)));
  const qPlan = planChunks(queries.rows, q);
  // Workgroup grid limit of the block kernels: 65535 groups of 32 rows on the uniform side.
  const most = MAX_GROUPS * SCORE_UNIFORM;
  if (gPlan.size > most || qPlan.size > most) {
    throw new RangeError(
      `${caller}: chunks of ${gPlan.size} × ${qPlan.size} rows exceed the block kernel's ` +
        `${most} rows; pass smaller chunks`,
    );
  }
  return { gallery: gPlan, queries: qPlan };
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
      { a: src, b4: index ?? undefined, o: this.buffer },
      { rows: count, cols: this.#m.dim, d4: vec4s(this.#m.dim), row0, flags },
      count,
    );
    this.rows = count;
  }
}

/** The two block kernels: gallery rows read uniformly (`scores`) or queries (`scores_t`). */
export type ScoreEntry = "scores" | "scores_t";

/**
 * The block kernel with less padded work for `ng` gallery rows × `nq` queries: each workgroup
 * covers 32 rows of the uniform side × 256 of the other, so few queries call for `scores_t`.
 */
export function scoreEntry(ng: number, nq: number): ScoreEntry {
  const pad = (n: number, m: number) => Math.ceil(n / m) * m;
  return pad(ng, SCORE_LANES) * pad(nq, SCORE_UNIFORM) <
      pad(nq, SCORE_LANES) * pad(ng, SCORE_UNIFORM)
    ? "scores_t"
    : "scores";
}

/**
 * Records `out[j * q.rows + c] = <gallery row j, query row c>` for the prepared chunks `g` and `q`
 * (same row width `dim`): one block of scores, row-major, gallery rows × queries. Both kernels
 * give the same values bit for bit; `entry` picks one (default {@link scoreEntry}).
 */
export function recordScores(
  g: ChunkRows,
  q: ChunkRows,
  dim: number,
  out: GPUBuffer,
  entry: ScoreEntry = scoreEntry(g.rows, q.rows),
): void {
  const [lanes, uniform] = entry === "scores" ? [q.rows, g.rows] : [g.rows, q.rows];
  RETRIEVAL.dispatch(
    entry,
    { a: g.buffer, b4: q.buffer, o: out },
    { rows: g.rows, cols: q.rows, d4: vec4s(dim), stride: q.rows },
    [Math.ceil(lanes / SCORE_LANES), Math.ceil(uniform / SCORE_UNIFORM)],
  );
}

/**
 * Records `rel[col0 + c] = <own row c, query row c>` for c < q.rows: the score of each query with
 * its own gallery item (`own` holds those items, gathered), equal bit for bit to that entry of a
 * {@link recordScores} block.
 */
export function recordPairScores(
  own: ChunkRows,
  q: ChunkRows,
  dim: number,
  col0: number,
  rel: GPUBuffer,
): void {
  RETRIEVAL.launch(
    "pair_scores",
    { a: own.buffer, b4: q.buffer, o: rel },
    { cols: q.rows, d4: vec4s(dim), col0 },
    q.rows,
  );
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
