/**
 * GPU top-k retrieval (`kernels/topk.wgsl`): the k best gallery items of every query, chunked over
 * queries and gallery like `evaluateRetrieval`, so galleries larger than one GPU buffer work.
 * Only the result lists are read back, once.
 *
 * @example
 * ```ts
 * import { initGpu } from "../gpu/runtime.ts";
 * import { topK } from "./topk.ts";
 * await initGpu();
 * const gallery = new Float32Array([1, 0, 0, 1, 0.7, 0.7]); // 3 items, dim 2
 * const r = await topK(new Float32Array([1, 0.1]), gallery, 2, { dim: 2 });
 * console.log(r.indices, r.scores); // [0, 2] and their cosines
 * ```
 *
 * @module
 */

import { TOPK } from "../gpu/kernels.ts";
import { rt } from "../gpu/runtime.ts";
import {
  asMatrix,
  chooseChunks,
  ChunkRows,
  type Embeddings,
  recordScores,
  Throttle,
} from "./retrieval.ts";

export type { Embeddings } from "./retrieval.ts";

/** Options of {@link topK}. */
export interface TopKOptions {
  /** Row width of host-array inputs (both sides). */
  dim?: number;
  /** L2-normalise both sides first, so scores are cosines (default true). */
  normalize?: boolean;
  /** Queries per chunk (default: as many as keep one block of scores within 32 MiB). */
  queryChunk?: number;
  /** Gallery rows per chunk (default: up to 8192, within 32 MiB per chunk). */
  galleryChunk?: number;
}

/** The k best gallery items of each query, best first. */
export interface TopKResult {
  /** Items per query. */
  k: number;
  /** Queries. */
  numQueries: number;
  /** `numQueries × k` gallery indices, row-major. */
  indices: Int32Array;
  /** Their scores (cosines by default). */
  scores: Float32Array;
}

const CALLER = "topK";

/**
 * The `k` best gallery rows of every query row by score (cosine unless `normalize: false`), best
 * first; among equal scores the lower gallery index comes first.
 */
export async function topK(
  queries: Embeddings,
  gallery: Embeddings,
  k: number,
  options: TopKOptions = {},
): Promise<TopKResult> {
  const q = asMatrix(CALLER, "queries", queries, options.dim);
  const g = asMatrix(CALLER, "gallery", gallery, options.dim);
  if (q.dim !== g.dim) {
    throw new RangeError(`${CALLER}: queries have ${q.dim} dims, gallery ${g.dim}`);
  }
  if (g.rows === 0) throw new RangeError(`${CALLER}: the gallery is empty`);
  if (!Number.isInteger(k) || k < 1 || k > g.rows) {
    throw new RangeError(`${CALLER}: k = ${k} must be an integer in 1..${g.rows} (gallery rows)`);
  }
  const nq = q.rows;
  if (nq === 0) {
    return { k, numQueries: 0, indices: new Int32Array(0), scores: new Float32Array(0) };
  }
  const normalize = options.normalize ?? true;
  const plan = chooseChunks(CALLER, g, q, options.galleryChunk, options.queryChunk);
  const pool = rt().pool;
  const out = pool.acquire(nq * k * 8, "top-k lists");
  const qChunk = new ChunkRows(q, plan.queries.size, normalize);
  const gChunk = new ChunkRows(g, plan.gallery.size, normalize);
  const block = pool.acquire(plan.gallery.size * plan.queries.size * 4, "score block");
  try {
    const throttle = new Throttle();
    for (let c = 0; c < plan.queries.count; c++) {
      const q0 = c * plan.queries.size;
      const nqc = Math.min(plan.queries.size, nq - q0);
      qChunk.load(q0, nqc);
      for (let b = 0; b < plan.gallery.count; b++) {
        const g0 = b * plan.gallery.size;
        const ngc = Math.min(plan.gallery.size, g.rows - g0);
        if (c === 0 || plan.gallery.count > 1) gChunk.load(g0, ngc);
        recordScores(gChunk, qChunk, q.dim, block);
        const params = { nq: nqc, ng: ngc, g0, k, row0: q0, total: nq };
        TOPK.launch("topk_merge", { block, out }, params, nqc);
        await throttle.step();
      }
    }
    const raw = await rt().read(out, nq * k * 8);
    return {
      k,
      numQueries: nq,
      scores: new Float32Array(raw, 0, nq * k),
      indices: new Int32Array(raw, nq * k * 4, nq * k),
    };
  } finally {
    qChunk.release();
    gChunk.release();
    pool.release(out);
    pool.release(block);
  }
}
