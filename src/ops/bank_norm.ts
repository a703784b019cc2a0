/**
 * Per-gallery-item statistics of a bank of queries (`kernels/bank_norm.wgsl`), the ingredients of
 * bank-normalised retrieval (`src/eval/bank_norm.ts`): for every gallery item g, the log-sum-exp
 * `ln Σ_b exp(β · s(b, g))` over the bank rows b, or the k largest `s(b, g)`. The bank is swept in
 * chunks against chunks of the gallery, through the same chunk machinery and score blocks as the
 * retrieval ranks (`./retrieval.ts`): at most one ≤ 32 MiB block of bank × gallery scores exists at
 * a time, and only the per-item statistics (2 or k numbers per gallery item) are read back, so a
 * bank of 100 000 queries needs no 100 000 × gallery matrix anywhere.
 *
 * The normalised scores themselves (`s − bias[g]`) are recorded by `retrievalRanks`
 * (`./retrieval.ts`, entries `norm_block` and `norm_pairs` of the same kernel file).
 *
 * @example
 * ```ts
 * import { initGpu } from "../gpu/runtime.ts";
 * import { bankLogSumExp, bankTopK } from "./bank_norm.ts";
 * await initGpu();
 * const bank = new Float32Array([1, 0, 0, 1, 1, 1]); // 3 rows, dim 2
 * const gallery = new Float32Array([1, 0, 0, 1]); // 2 rows
 * await bankLogSumExp(bank, gallery, 20, { dim: 2 }); // ≈ [20 + ln(1 + e^-20 + e^(20(0.707-1))), …]
 * await bankTopK(bank, gallery, 2, { dim: 2 }); // [1, 0.707…, 1, 0.707…]
 * ```
 *
 * @module
 */

import { BANK_NORM } from "../gpu/kernels.ts";
import { PRELUDE } from "../gpu/prelude.ts";
import { rt } from "../gpu/runtime.ts";
import { formatBytes } from "../gpu/device.ts";
import {
  asMatrix,
  chooseChunks,
  ChunkRows,
  type Embeddings,
  type Matrix,
  MAX_LINE,
  recordScores,
  Throttle,
} from "./retrieval.ts";
import { MAX_LOOP_ITERATIONS } from "./common.ts";

export type { Embeddings } from "./retrieval.ts";

/** Largest finite float32 (the statistics start at its negative). */
const { F32_MAX } = PRELUDE;

/**
 * The largest k of {@link bankTopK}. Each gallery item's list is kept sorted by insertion, up to k
 * steps per bank row, so bank chunks shrink as k grows (llvmpipe's loop limit, `MAX_LOOP_ITERATIONS`):
 * 63 bank rows per dispatch at k = 1024. Tested exact up to 1024 with rising scores (every
 * insertion shifts the whole list). The statistics (gallery rows × k floats) must also fit one
 * storage binding.
 */
export const MAX_BANK_TOPK = 1024;

/** Options of the bank statistics. */
export interface BankStatsOptions {
  /** Row width of host-array inputs (both sides). */
  dim?: number;
  /** L2-normalise both sides first, so scores are cosines (default true). */
  normalize?: boolean;
  /** Gallery rows per chunk (default: up to 8192, within 32 MiB per chunk). */
  galleryChunk?: number;
  /** Bank rows per chunk (default: as many as keep one block of scores within 32 MiB). */
  bankChunk?: number;
}

function matrices(
  caller: string,
  bank: Embeddings,
  gallery: Embeddings,
  dim?: number,
): { b: Matrix; g: Matrix } {
  const b = asMatrix(caller, "bank", bank, dim);
  const g = asMatrix(caller, "gallery", gallery, dim);
  if (b.dim !== g.dim) {
    throw new RangeError(`${caller}: the bank has ${b.dim} dims, the gallery ${g.dim}`);
  }
  if (b.rows === 0) throw new RangeError(`${caller}: the bank is empty`);
  if (g.rows === 0) throw new RangeError(`${caller}: the gallery is empty`);
  return { b, g };
}

/**
 * Sweeps every (gallery chunk × bank chunk) block once, calling `record` after each block's scores
 * are recorded (gallery rows `g0 ..`, `ng` of them, × `nb` bank rows), then reads back `stBytes` of
 * the statistics buffer, which `init` fills first.
 */
async function sweep(
  caller: string,
  b: Matrix,
  g: Matrix,
  options: BankStatsOptions,
  init: Float32Array<ArrayBuffer>,
  record: (block: GPUBuffer, st: GPUBuffer, g0: number, ng: number, nb: number) => void,
  maxBankChunk = MAX_LINE,
): Promise<Float32Array> {
  const normalize = options.normalize ?? true;
  const names = ["galleryChunk", "bankChunk"] as const;
  let plan = chooseChunks(caller, g, b, options.galleryChunk, options.bankChunk, names);
  if (plan.queries.size > maxBankChunk) {
    // The kernel's loops over one block line would pass llvmpipe's limit (a wrong result, no error).
    if (options.bankChunk !== undefined) {
      throw new RangeError(
        `${caller}: bankChunk ${options.bankChunk} is over ${maxBankChunk} here: llvmpipe stops ` +
          `an invocation's loops after ${MAX_LOOP_ITERATIONS - 1} iterations`,
      );
    }
    plan = chooseChunks(caller, g, b, options.galleryChunk, maxBankChunk, names);
  }
  const pool = rt().pool;
  const st = pool.acquire(init.byteLength, "bank statistics");
  rt().upload(st, init);
  const gChunk = new ChunkRows(g, plan.gallery.size, normalize);
  const bChunk = new ChunkRows(b, plan.queries.size, normalize);
  const block = pool.acquire(plan.gallery.size * plan.queries.size * 4, "bank score block");
  try {
    const throttle = new Throttle();
    for (let gc = 0; gc < plan.gallery.count; gc++) {
      const g0 = gc * plan.gallery.size;
      const ng = Math.min(plan.gallery.size, g.rows - g0);
      gChunk.load(g0, ng);
      for (let bc = 0; bc < plan.queries.count; bc++) {
        const b0 = bc * plan.queries.size;
        const nb = Math.min(plan.queries.size, b.rows - b0);
        if (gc === 0 || plan.queries.count > 1) bChunk.load(b0, nb);
        recordScores(gChunk, bChunk, g.dim, block);
        record(block, st, g0, ng, nb);
        await throttle.step();
      }
    }
    return new Float32Array(await rt().read(st, init.byteLength));
  } finally {
    gChunk.release();
    bChunk.release();
    pool.release(block);
    pool.release(st);
  }
}

/**
 * `ln Σ_b exp(β · s(b, g))` over the bank rows b, for every gallery row g (cosine scores unless
 * `normalize: false`), accumulated on the GPU as a running (max, scaled sum) pair per item and
 * finished in float64. `beta` must be positive and finite.
 */
export async function bankLogSumExp(
  bank: Embeddings,
  gallery: Embeddings,
  beta: number,
  options: BankStatsOptions = {},
): Promise<Float64Array> {
  const caller = "bankLogSumExp";
  if (!(beta > 0 && Number.isFinite(beta))) {
    throw new RangeError(`${caller}: beta must be a positive number, got ${beta}`);
  }
  const { b, g } = matrices(caller, bank, gallery, options.dim);
  const init = new Float32Array(2 * g.rows);
  for (let j = 0; j < g.rows; j++) init[2 * j] = -F32_MAX;
  const st = await sweep(caller, b, g, options, init, (block, st, row0, rows, cols) => {
    BANK_NORM.launch("bank_lse", { a: block, st }, { rows, cols, row0, beta }, rows);
  });
  return Float64Array.from({ length: g.rows }, (_, j) => st[2 * j] + Math.log(st[2 * j + 1]));
}

/**
 * The `k` largest `s(b, g)` over the bank rows b of every gallery row g, largest first
 * (`gallery rows × k`, row-major; cosine scores unless `normalize: false`). `k` must be an integer
 * in 1 .. min(bank rows, {@link MAX_BANK_TOPK}).
 */
export async function bankTopK(
  bank: Embeddings,
  gallery: Embeddings,
  k: number,
  options: BankStatsOptions = {},
): Promise<Float32Array> {
  const caller = "bankTopK";
  const { b, g } = matrices(caller, bank, gallery, options.dim);
  const most = Math.min(b.rows, MAX_BANK_TOPK);
  if (!Number.isInteger(k) || k < 1 || k > most) {
    throw new RangeError(
      `${caller}: k = ${k} must be an integer in 1..${most} (bank rows, at most ${MAX_BANK_TOPK})`,
    );
  }
  // The pool would refuse the statistics buffer too; this says which knob to turn.
  const binding = rt().pool.maxBinding;
  if (g.rows * k * 4 > binding) {
    throw new RangeError(
      `${caller}: k = ${k} for ${g.rows} gallery rows needs ${formatBytes(g.rows * k * 4)} of ` +
        `statistics, over this device's maxStorageBufferBindingSize of ${formatBytes(binding)}: ` +
        "use a smaller k",
    );
  }
  const init = new Float32Array(g.rows * k).fill(-F32_MAX);
  // Per bank row, one step of the outer loop and at most k − 1 shifts of the insertion.
  const maxChunk = Math.floor((MAX_LOOP_ITERATIONS - 1) / (k + 1));
  return await sweep(caller, b, g, options, init, (block, st, row0, rows, cols) => {
    BANK_NORM.launch("bank_topk", { a: block, st }, { rows, cols, row0, k }, rows);
  }, maxChunk);
}
