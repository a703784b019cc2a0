/**
 * Deterministic NeuralSort on the GPU (`kernels/neuralsort.wgsl`): P̂ as a `[lists, n, n]` tensor
 * with its backward rule ({@link neuralSort}), and the machinery the NeuralSort family shares with
 * Sinkhorn (`./sinkhorn.ts`) and the NeuralNDCG loss (`src/losses/neuralndcg.ts`): list ranges,
 * option checks, the per-list preparation (sorted scores, gains, discounts, the large constants of
 * P̂) and allocation within one storage binding.
 *
 * Padding follows `src/reference/neuralsort.ts` (the float64 twin): items with label < 0 are
 * padding; rank rows `0 … nv−1` and valid items form the valid block.
 *
 * @module
 */

import { NEURALSORT } from "../gpu/kernels.ts";
import { formatBytes } from "../gpu/device.ts";
import { PRELUDE } from "../gpu/prelude.ts";
import { rt } from "../gpu/runtime.ts";
import { record } from "../autodiff/tape.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { dims2, sameShape } from "./common.ts";

/** Options of the NeuralSort family's ops (each reads the ones it uses; defaults as the loss). */
export interface NeuralSortOptions {
  /** NeuralSort temperature τ > 0 (default 1). */
  temperature?: number;
  /** Gains 2^y − 1 (true, default) or y (false). */
  poweredRelevancies?: boolean;
  /** Rank cutoff; 0 = none (default). */
  k?: number;
  /** Apply Sinkhorn scaling (default true). */
  sinkhorn?: boolean;
  /** Sinkhorn tolerance (default 1e-6). */
  tol?: number;
  /** Sinkhorn iteration cap (default 50). */
  maxIter?: number;
}

/** A range of lists of a `[lists, n]` batch. */
export interface ListRange {
  /** First list. Default 0. */
  first?: number;
  /** Number of lists. Default: the rest of the batch. */
  count?: number;
}

// ---------------------------------------------------------------------------------------------
// Shapes, options, preparation

/** Shape and option values shared by the launches of one op. */
export interface Ctx {
  /** Lists of the dispatch. */
  lists: number;
  /** Slots per list. */
  n: number;
  /** `n` rounded up to a multiple of 4. */
  np: number;
  /** First list of the dispatch in the `[total, n]` inputs. */
  list0: number;
  /** Lists of the `[total, n]` inputs. */
  total: number;
  tau: number;
  limit: number;
  tol: number;
  maxIter: number;
  k: number;
  powered: boolean;
  /** Invocations of a launch per padded slot, per quad (4 slots), per tile (32), per row. */
  items: number;
  quads: number;
  tiles: number;
  rows: number;
}

/** The uniform parameters of a launch over `c` (t: Sinkhorn iteration; flags: see the kernel). */
export function params(
  c: Ctx,
  { t = 0, slot = 0, plane = 0, scores = false, sorted = false } = {},
) {
  const flags = (c.powered ? 1 : 0) | (scores ? 2 : 0) | (sorted ? 4 : 0);
  return {
    lists: c.lists,
    n: c.n,
    np: c.np,
    list0: c.list0,
    total: c.total,
    t,
    max_iter: c.maxIter,
    flags,
    k: c.k,
    slot,
    plane,
    tau: c.tau,
    limit: c.limit,
    tol: c.tol,
  };
}

const { ITEM_PLANES, STATE_PLANES, WORK_PLANES, META } = NEURALSORT.constants;

export function context(
  op: string,
  scores: Tensor,
  labels: Tensor,
  o: NeuralSortOptions,
  range: ListRange = {},
): Ctx {
  const [total, n] = dims2(labels, `${op} labels`);
  dims2(scores, `${op} scores`);
  sameShape(scores, labels, op);
  const first = range.first ?? 0;
  const count = range.count ?? total - first;
  if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 0) {
    throw new RangeError(`${op}: invalid list range first=${first} count=${count}`);
  }
  if (first + count > total) {
    throw new RangeError(`${op}: lists ${first}…${first + count - 1} outside the ${total} lists`);
  }
  const tau = o.temperature ?? 1;
  if (!(tau > 0) || !Number.isFinite(tau)) {
    throw new RangeError(`${op}: temperature must be a finite number > 0, got ${tau}`);
  }
  const maxIter = o.maxIter ?? 50;
  if (!Number.isInteger(maxIter) || maxIter < 0) {
    throw new RangeError(`${op}: maxIter must be an integer ≥ 0, got ${maxIter}`);
  }
  const tol = o.tol ?? 1e-6;
  if (!(tol >= 0)) throw new RangeError(`${op}: tol must be ≥ 0, got ${tol}`);
  const k = o.k ?? 0;
  if (!Number.isInteger(k) || k < 0) {
    throw new RangeError(`${op}: k must be an integer ≥ 0 (0 = no cutoff), got ${k}`);
  }
  const np = Math.ceil(n / 4) * 4;
  return {
    lists: count,
    n,
    np,
    list0: first,
    total,
    tau,
    limit: Math.fround(PRELUDE.SCORE_RANGE / Math.max(n, 1)),
    tol,
    maxIter: o.sinkhorn === false ? 0 : maxIter,
    k: Math.min(k, 0xffffffff),
    powered: o.poweredRelevancies ?? true,
    items: count * np,
    quads: (count * np) / 4,
    tiles: count * Math.ceil(np / 32),
    rows: count * n,
  };
}

/** The binding limit chunks are planned against (the pool's, which tests may lower). */
export function maxBinding(): number {
  return rt().pool.maxBinding;
}

/** A new tensor of `shape`; over one storage binding it is refused, naming `what` and `hint`. */
export function alloc(shape: number[], label: string, what: string, hint: string): Tensor {
  const bytes = shape.reduce((a, b) => a * b, 1) * 4;
  if (bytes > maxBinding()) {
    throw new RangeError(
      `${what}: ${label} ${shapeString(shape)} needs ${formatBytes(bytes)}, over this device's ` +
        `maxStorageBufferBindingSize of ${formatBytes(maxBinding())}; ${hint}`,
    );
  }
  return new Tensor(shape, { label });
}

/** Per-list vectors of a chunk of lists (see the kernels for the planes). */
export interface Prep {
  /** Per list: valid count, Sinkhorn iterations, cutoff, DCG. */
  lmeta: Tensor;
  /** Sorted scores, gains, discounts, masks, slots, tiles, and the large constants k0, r0. */
  items: Tensor;
  /** State 0: Sinkhorn corrections 0 and the row normalisers −log Σ (only with scores). */
  s0: Tensor | null;
}

export function prepare(
  c: Ctx,
  scores: Tensor | null,
  labels: Tensor,
  what: string,
  hint: string,
): Prep {
  const lmeta = new Tensor([c.lists, META], { label: "neuralsort meta" });
  const items = alloc([ITEM_PLANES, c.lists, c.np], "neuralsort items", what, hint);
  NEURALSORT.launch("list_prep", { labels, lmeta }, params(c), c.lists);
  NEURALSORT.launch(
    "item_prep",
    { scores: scores ?? undefined, labels, lmeta, items },
    params(c, { scores: scores !== null }),
    c.items,
  );
  NEURALSORT.launch("item_sort", { lmeta, items }, params(c), c.items);
  if (!scores) return { lmeta, items, s0: null };
  const s0 = newState(c, 0, what, hint);
  NEURALSORT.launch("item_tiles", { lmeta, items }, params(c), c.tiles);
  NEURALSORT.launch("item_abs", { lmeta, items, cur: s0 }, params(c), c.items);
  NEURALSORT.launch("state_tiles", { lmeta, items, cur: s0 }, params(c, { plane: 0 }), c.tiles);
  NEURALSORT.launch("row_lse", { lmeta, items, cur: s0 }, params(c), c.quads);
  NEURALSORT.launch("state_tiles", { lmeta, items, cur: s0 }, params(c, { plane: 1 }), c.tiles);
  return { lmeta, items, s0 };
}

export function newState(c: Ctx, t: number, what: string, hint: string): Tensor {
  return alloc([STATE_PLANES, c.lists, c.np], `neuralsort state ${t}`, what, hint);
}

/** Lists per chunk of a path whose per-list buffers take `bytesPerList` bytes each. */
export function chunkOf(bytesPerList: number): number {
  return Math.max(1, Math.floor(maxBinding() / bytesPerList));
}

/** Lists per chunk of the per-list NeuralSort vectors (the largest: the items planes). */
export function vectorChunk(np: number): number {
  return chunkOf(ITEM_PLANES * 4 * np);
}

/** Consecutive list ranges of at most `chunk` lists covering `total`. */
export function ranges(total: number, chunk: number): Required<ListRange>[] {
  const out: Required<ListRange>[] = [];
  for (let first = 0; first < total; first += chunk) {
    out.push({ first, count: Math.min(chunk, total - first) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The op

/**
 * Deterministic NeuralSort P̂ of lists `first … first+count−1`, `[count, n, n]` (rows = rank
 * positions, columns = slots), differentiable with respect to `scores`: allRank's
 * `deterministic_neural_sort` with `P̂[i, j] = softmax_j(((nv−1−2i)·s_j − Σ_k |s_j − s_k|)/τ)` over
 * the `nv` valid items (label ≥ 0). Rows `nv … n−1` and padded columns are 0 (allRank fills the
 * padded block with a uniform matrix that never reaches a loss).
 *
 * @example
 * ```ts
 * import { initGpu } from "../gpu/runtime.ts";
 * import { Tensor } from "../autodiff/tensor.ts";
 * import { neuralSort } from "./neuralsort.ts";
 * await initGpu();
 * const p = neuralSort(Tensor.fromRows([[0.1, 3, 2]]), Tensor.fromRows([[0, 2, 1]]), {
 *   temperature: 0.1,
 * });
 * console.log(await p.read()); // ≈ the permutation matrix sorting [0.1, 3, 2] descending
 * ```
 */
export function neuralSort(
  scores: Tensor,
  labels: Tensor,
  o: { temperature?: number } & ListRange = {},
): Tensor {
  const what = "neuralSort";
  const c = context(what, scores, labels, o, o);
  const hint = "pass a smaller list range, or use the fused NeuralNDCG (fused: 'fused')";
  const p = alloc([c.lists, c.n, c.n], "P-hat", what, hint);
  const prep = prepare(c, scores, labels, what, hint);
  NEURALSORT.launch(
    "neuralsort_write",
    { lmeta: prep.lmeta, items: prep.items, cur: prep.s0!, mat: p },
    params(c),
    c.rows,
  );
  const saved = [prep.lmeta, prep.items, prep.s0!];
  record(p, what, [scores, labels], (g) => {
    const work = new Tensor([WORK_PLANES, c.lists, c.np], { label: "neuralsort work" });
    const grad = Tensor.zeros(scores.shape, { label: "d neuralSort" });
    const b = { scores, lmeta: prep.lmeta, items: prep.items, work, mat: p, mat2: g };
    NEURALSORT.launch("neuralsort_back_rows", b, params(c), c.rows);
    NEURALSORT.launch("neuralsort_back_cols", b, params(c), c.items);
    NEURALSORT.launch("sort_backward", { ...b, out: grad }, params(c), c.items);
    work.dispose();
    return [grad, null];
  });
  if (!p.creator) { for (const t of saved) t.dispose(); }
  return p;
}
