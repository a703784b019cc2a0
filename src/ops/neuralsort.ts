/**
 * NeuralSort and Sinkhorn on the GPU (`kernels/neuralsort.wgsl`, `kernels/sinkhorn.wgsl`), and the
 * NeuralNDCG loss built on them, in two forms with the same semantics:
 *
 * - plain ({@link neuralSort} → {@link sinkhorn} → {@link softDcg}): P̂ is materialised as a
 *   `[lists, n, n]` tensor and Sinkhorn normalises it in place, as allRank does; each op has its own
 *   backward rule (the Sinkhorn one undoes the iterations on a copy, from the stored row and column
 *   sums). Memory ≈ 16·lists·n² bytes (P̂, its Sinkhorn result, two backward matrices), in chunks
 *   of lists so that one matrix fits one storage binding.
 * - fused ({@link neuralNdcgFused}): P̂ is never stored. Sinkhorn's result is diag(e^α)·P̂·diag(e^β),
 *   so the iterations keep O(n) vectors per list (5 per iteration for the backward pass, which runs
 *   the iterations in reverse) and recompute each entry from the scores. Memory ≈ 20·(maxIter + 1)
 *   ·lists·n bytes plus 76·lists·n; O(n²·maxIter) time per list. Items are sorted by score within
 *   each list, which makes P̂ and the iterates concentrated near the diagonal, and tiles whose
 *   exponents are all below −110 (exactly 0 in float32) are skipped.
 *
 * Padding and stopping follow `src/reference/neuralsort.ts` (the float64 twin): items with label
 * < 0 are padding; rank rows `0 … nv−1` and valid items form the valid block; each list stops
 * Sinkhorn on its own once its row and column sums are within `tol` of 1. Both forms refuse a
 * request whose estimated memory exceeds {@link MEMORY_BUDGET_BYTES}, naming the estimate.
 *
 * @example
 * ```ts
 * import { initGpu } from "../gpu/runtime.ts";
 * import { backward } from "../autodiff/tape.ts";
 * import { Tensor } from "../autodiff/tensor.ts";
 * import { neuralNdcgFused } from "./neuralsort.ts";
 * await initGpu();
 * const s = Tensor.param([0.5, 0.3, 0.5, 1.2], [1, 4], "scores");
 * const y = Tensor.fromRows([[1, 0, 2, -1]]);
 * const loss = neuralNdcgFused(s, y, {
 *   temperature: 1, poweredRelevancies: true, k: 0, sinkhorn: true, tol: 1e-6, maxIter: 50,
 *   transposed: false,
 * });
 * backward(loss);
 * console.log(await loss.item(), await s.grad!.read());
 * ```
 *
 * @module
 */

import { NEURALSORT, SINKHORN } from "../gpu/kernels.ts";
import { formatBytes } from "../gpu/pool.ts";
import { PRELUDE } from "../gpu/prelude.ts";
import { rt } from "../gpu/runtime.ts";
import { isGradEnabled, record } from "../autodiff/tape.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { dims2, sameShape } from "./common.ts";
import { add } from "./elementwise.ts";

/**
 * Largest estimated memory (bytes) one NeuralNDCG call may hold, plain or fused; a larger request
 * is refused with a message naming the estimate, the budget and the alternative.
 */
export const MEMORY_BUDGET_BYTES = 2 * 2 ** 30;

/** Options of the NeuralNDCG ops (the resolved loss options). */
export interface NeuralNdcgOptions {
  /** NeuralSort temperature τ > 0. */
  temperature: number;
  /** Gains 2^y − 1 (true) or y (false). */
  poweredRelevancies: boolean;
  /** Rank cutoff; 0 = none. */
  k: number;
  /** Apply Sinkhorn scaling. */
  sinkhorn: boolean;
  /** Sinkhorn tolerance. */
  tol: number;
  /** Sinkhorn iteration cap. */
  maxIter: number;
  /** `neuralNDCG_transposed` (expected discount per item) instead of `neuralNDCG`. */
  transposed: boolean;
}

/** A range of lists of a `[lists, n]` batch. */
export interface ListRange {
  /** First list. Default 0. */
  first?: number;
  /** Number of lists. Default: the rest of the batch. */
  count?: number;
}

// ---------------------------------------------------------------------------------------------
// Launching

/** Shape and option values shared by the launches of one op. */
interface Ctx {
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
function params(
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

const { ITEM_PLANES, STATE_PLANES, WORK_PLANES, META, DCG, TMP } = NEURALSORT.constants;

// ---------------------------------------------------------------------------------------------
// Shapes, options and memory

function context(
  op: string,
  scores: Tensor,
  labels: Tensor,
  o: Partial<NeuralNdcgOptions>,
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

let bindingLimitOverride: number | null = null;

/**
 * Tests only: pretend one storage binding holds at most `bytes` (null restores the device limit),
 * so that the chunking of lists can be exercised on small inputs.
 */
export function setBindingLimitForTests(bytes: number | null): void {
  bindingLimitOverride = bytes;
}

function maxBinding(): number {
  return bindingLimitOverride ?? rt().device.limits.maxStorageBufferBindingSize;
}

/** A new tensor of `shape`; over one storage binding it is refused, naming `what` and `hint`. */
function alloc(shape: number[], label: string, what: string, hint: string): Tensor {
  const bytes = shape.reduce((a, b) => a * b, 1) * 4;
  if (bytes > maxBinding()) {
    throw new RangeError(
      `${what}: ${label} ${shapeString(shape)} needs ${formatBytes(bytes)}, over this device's ` +
        `maxStorageBufferBindingSize of ${formatBytes(maxBinding())}; ${hint}`,
    );
  }
  return new Tensor(shape, { label });
}

/** Estimated bytes held by the fused path for `lists × n` (forward state kept for backward). */
export function fusedBytes(lists: number, n: number, maxIter: number, sinkhorn = true): number {
  const np = Math.ceil(n / 4) * 4;
  const items = 4 * ITEM_PLANES;
  return (4 * STATE_PLANES * ((sinkhorn ? maxIter : 0) + 1) + items + 32) * lists * np +
    4 * lists * n;
}

/** Estimated bytes held by the plain path for `lists × n` (P̂, result and backward matrices). */
export function plainBytes(lists: number, n: number, maxIter: number, sinkhorn = true): number {
  const np = Math.ceil(n / 4) * 4;
  const matrices = (sinkhorn ? 4 : 2) * lists * n * n * 4;
  return matrices + (16 * ((sinkhorn ? maxIter : 0) + 1) + 8 * ITEM_PLANES + 32) * lists * np;
}

function checkBudget(what: string, bytes: number, lists: number, n: number, hint: string): void {
  if (bytes > MEMORY_BUDGET_BYTES) {
    throw new RangeError(
      `${what}: ${lists} lists × ${n} items need about ${formatBytes(bytes)}, over the ` +
        `NeuralNDCG memory budget of ${formatBytes(MEMORY_BUDGET_BYTES)}; ${hint}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Preparation

/** Per-list vectors of a chunk of lists (see the kernels for the planes). */
interface Prep {
  /** Per list: valid count, Sinkhorn iterations, cutoff, DCG. */
  lmeta: Tensor;
  /** Sorted scores, gains, discounts, masks, slots, tiles, and the large constants k0, r0. */
  items: Tensor;
  /** State 0: Sinkhorn corrections 0 and the row normalisers −log Σ (only with scores). */
  s0: Tensor | null;
}

function prepare(c: Ctx, scores: Tensor | null, labels: Tensor, what: string, hint: string): Prep {
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

function newState(c: Ctx, t: number, what: string, hint: string): Tensor {
  return alloc([STATE_PLANES, c.lists, c.np], `neuralsort state ${t}`, what, hint);
}

/** Lists per chunk of a path whose per-list buffers take `bytesPerList` bytes each. */
function chunkOf(bytesPerList: number): number {
  return Math.max(1, Math.floor(maxBinding() / bytesPerList));
}

/** Lists per chunk of the per-list NeuralSort vectors (the largest: the items planes). */
function vectorChunk(np: number): number {
  return chunkOf(ITEM_PLANES * 4 * np);
}

/** Consecutive list ranges of at most `chunk` lists covering `total`. */
function ranges(total: number, chunk: number): Required<ListRange>[] {
  const out: Required<ListRange>[] = [];
  for (let first = 0; first < total; first += chunk) {
    out.push({ first, count: Math.min(chunk, total - first) });
  }
  return out;
}

/**
 * The per-list weights of the NeuralNDCG loss, `[lists]`: `−1/((IDCG@k + 1e-10)·N)` for the `N`
 * lists with a positive IDCG@k, 0 for the others (allRank averages NDCG over those lists only).
 * Not differentiable (it depends on the labels only).
 */
export function neuralNdcgWeights(labels: Tensor, o: Partial<NeuralNdcgOptions> = {}): Tensor {
  const what = "neuralNdcgWeights";
  const full = context(what, labels, labels, o);
  const weights = new Tensor([full.total], { label: "neuralndcg weights" });
  for (const range of ranges(full.total, vectorChunk(full.np))) {
    const c = context(what, labels, labels, o, range);
    const prep = prepare(c, null, labels, what, "use fewer lists");
    const work = alloc([WORK_PLANES, c.lists, c.np], "neuralndcg work", what, "use fewer lists");
    NEURALSORT.launch(
      "item_ideal",
      { lmeta: prep.lmeta, items: prep.items, work },
      params(c),
      c.items,
    );
    NEURALSORT.launch("list_idcg", { work, out: weights }, params(c), c.lists);
    [prep.lmeta, prep.items, work].forEach((t) => t.dispose());
  }
  NEURALSORT.dispatch("batch_weights", { out: weights }, params(full), [1]);
  return weights;
}

// ---------------------------------------------------------------------------------------------
// Plain path

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

/**
 * Sinkhorn scaling of `[count, n, n]` matrices (lists `first … first+count−1` of `labels`, which
 * define each valid block: rank rows `0 … nv−1` by the valid slots), differentiable: allRank's
 * `sinkhorn_scaling`. Columns then rows are divided by their sums (clamped at 1e-10); a list stops
 * after the first iteration whose row and column sums are all within `tol` of 1 (allRank stops the
 * whole batch together), else after `maxIter` iterations. Entries outside the valid block are 0.
 */
export function sinkhorn(
  p: Tensor,
  labels: Tensor,
  o: { tol?: number; maxIter?: number } & ListRange = {},
): Tensor {
  const what = "sinkhorn";
  const c = context(what, labels, labels, o, o);
  if (p.shape.length !== 3 || p.shape[0] !== c.lists || p.shape[1] !== c.n || p.shape[2] !== c.n) {
    throw new RangeError(
      `${what}: expected a [${c.lists}, ${c.n}, ${c.n}] matrix batch, got ${shapeString(p.shape)}`,
    );
  }
  const hint = "pass a smaller list range, or use the fused NeuralNDCG (fused: 'fused')";
  const lmeta = new Tensor([c.lists, META], { label: "sinkhorn meta" });
  NEURALSORT.launch("list_prep", { labels, lmeta }, params(c), c.lists);
  const m = alloc([c.lists, c.n, c.n], "Sinkhorn result", what, hint);
  rt().copy(p.buffer, 0, m.buffer, 0, p.bytes);
  SINKHORN.launch("sinkhorn_mask", { labels, lmeta, mat: m }, params(c), c.rows);
  const keepAll = isGradEnabled() && (p.requiresGrad || labels.requiresGrad);
  const states: Tensor[] = [];
  const state = (t: number) => {
    if (keepAll || states.length < 2) {
      states.push(alloc([4, c.lists, c.np], `sinkhorn state ${t}`, what, hint));
    }
    return keepAll ? states[t - 1] : states[(t - 1) % 2];
  };
  for (let t = 1; t <= c.maxIter; t++) {
    const cur = state(t);
    const prev = t > 1 ? (keepAll ? states[t - 2] : states[t % 2]) : undefined;
    SINKHORN.launch("sinkhorn_col_sums", { labels, lmeta, cur, mat: m }, params(c, { t }), c.rows);
    SINKHORN.launch("sinkhorn_check", { labels, lmeta, prev, cur }, params(c, { t }), c.lists);
    SINKHORN.launch("sinkhorn_row_step", { labels, lmeta, cur, mat: m }, params(c, { t }), c.rows);
  }
  record(m, what, [p, labels], (g) => {
    const work = new Tensor(m.shape, { label: "sinkhorn backward copy" });
    const grad = new Tensor(m.shape, { label: "d sinkhorn" });
    rt().copy(m.buffer, 0, work.buffer, 0, m.bytes);
    rt().copy(g.buffer, 0, grad.buffer, 0, m.bytes);
    for (let t = c.maxIter; t >= 1; t--) {
      const b = { labels, lmeta, cur: states[t - 1], mat: work, mat2: grad };
      SINKHORN.launch("sinkhorn_back_rows", b, params(c, { t }), c.rows);
      SINKHORN.launch("sinkhorn_back_cols", b, params(c, { t }), c.rows);
    }
    SINKHORN.launch("sinkhorn_mask", { labels, lmeta, mat: grad }, params(c), c.rows);
    work.dispose();
    return [grad, null];
  });
  if (!m.creator) {
    lmeta.dispose();
    for (const s of states) s.dispose();
  }
  return m;
}

/**
 * The NeuralNDCG numerator of `[count, n, n]` doubly stochastic matrices `m` (lists `first …` of
 * `labels`): `Σ_l w_l · Σ_i d_i Σ_j m[l, i, j]·g_j`, with discounts `d_i = 1/log2(i + 2)` for
 * `i < min(k, nv)`, gains `g` and per-list `weights` (`[total]`, see {@link neuralNdcgWeights}), as
 * a `[1]` tensor differentiable with respect to `m`. `transposed` sums per item (allRank
 * `neuralNDCG_transposed`) instead of per rank; the value is the same.
 */
export function softDcg(
  m: Tensor,
  labels: Tensor,
  weights: Tensor,
  o: Partial<NeuralNdcgOptions> & ListRange = {},
): Tensor {
  const what = "softDcg";
  const c = context(what, labels, labels, o, o);
  if (m.shape.length !== 3 || m.shape[0] !== c.lists || m.shape[1] !== c.n || m.shape[2] !== c.n) {
    throw new RangeError(
      `${what}: expected a [${c.lists}, ${c.n}, ${c.n}] matrix batch, got ${shapeString(m.shape)}`,
    );
  }
  if (weights.size !== c.total) {
    throw new RangeError(`${what}: ${weights.size} weights for ${c.total} lists`);
  }
  const prep = prepare(c, null, labels, what, "use fewer lists");
  const work = new Tensor([WORK_PLANES, c.lists, c.np], { label: "softdcg work" });
  const b = { labels, weights, lmeta: prep.lmeta, items: prep.items, work, mat: m };
  NEURALSORT.launch(o.transposed ? "dcg_cols" : "dcg_rows", b, params(c), c.items);
  NEURALSORT.launch("list_sums", b, params(c, { slot: DCG, plane: TMP }), c.lists);
  const loss = new Tensor([1], { label: "soft DCG" });
  NEURALSORT.dispatch("weighted_total", { ...b, out: loss }, params(c), [1]);
  work.dispose();
  record(loss, what, [m, labels, weights], (g) => {
    const grad = new Tensor(m.shape, { label: "d softDcg" });
    NEURALSORT.launch(
      "dcg_grad",
      { ...b, work: undefined, upstream: g, mat: undefined, mat2: grad },
      params(c),
      c.rows,
    );
    return [grad, null, null];
  });
  if (!loss.creator) {
    prep.lmeta.dispose();
    prep.items.dispose();
  }
  return loss;
}

/** `a + b`; without a recorded gradient the two terms are disposed at once. */
function sumOf(a: Tensor, b: Tensor): Tensor {
  const sum = add(a, b);
  if (!sum.creator) {
    a.dispose();
    b.dispose();
  }
  return sum;
}

/** Lists per chunk of the plain path (one `[chunk, n, n]` matrix per storage binding). */
export function plainChunk(n: number): number {
  return Math.max(1, Math.floor(maxBinding() / (4 * n * n)));
}

/**
 * NeuralNDCG by the plain path: {@link neuralSort} → {@link sinkhorn} → {@link softDcg} per chunk
 * of lists, summed. Refused when its estimated memory exceeds {@link MEMORY_BUDGET_BYTES}.
 */
export function neuralNdcgPlain(
  scores: Tensor,
  labels: Tensor,
  o: NeuralNdcgOptions,
  name = "neuralndcg",
): Tensor {
  const what = `loss '${name}' (fused: 'plain')`;
  const c = context(what, scores, labels, o);
  if (c.n * c.n * 4 > maxBinding()) {
    throw new RangeError(
      `${what}: one ${c.n} × ${c.n} P-hat needs ${formatBytes(c.n * c.n * 4)}, over this ` +
        `device's maxStorageBufferBindingSize of ${formatBytes(maxBinding())}; use fused: 'fused'`,
    );
  }
  checkBudget(
    what,
    plainBytes(c.total, c.n, c.maxIter, o.sinkhorn),
    c.total,
    c.n,
    "use fused: 'fused' (or 'auto'), or fewer lists",
  );
  const weights = neuralNdcgWeights(labels, o);
  let loss: Tensor | null = null;
  for (const range of ranges(c.total, Math.min(plainChunk(c.n), vectorChunk(c.np)))) {
    const p = neuralSort(scores, labels, { temperature: o.temperature, ...range });
    const m = o.sinkhorn ? sinkhorn(p, labels, { tol: o.tol, maxIter: o.maxIter, ...range }) : p;
    const part = softDcg(m, labels, weights, { ...o, ...range });
    if (!isGradEnabled() || !scores.requiresGrad) {
      p.dispose();
      m.dispose();
    }
    loss = loss === null ? part : sumOf(loss, part);
  }
  if (!loss!.creator) weights.dispose();
  return loss!;
}

// ---------------------------------------------------------------------------------------------
// Fused path

/**
 * NeuralNDCG without materialising P̂: `−(1/N) Σ_l dcg_l/(idcg_l + 1e-10)`, `[1]`, with its
 * backward rule recorded on the tape (d loss / d scores; zero at padding). Every P̂ and Sinkhorn
 * entry is recomputed from the scores and per-list vectors; the forward keeps 5 vectors per list
 * and iteration for the backward pass (2 states in all when no gradient is recorded). Lists are
 * processed in chunks so that each per-list buffer fits a storage binding; a request whose total
 * estimated memory exceeds {@link MEMORY_BUDGET_BYTES} is refused.
 */
export function neuralNdcgFused(
  scores: Tensor,
  labels: Tensor,
  o: NeuralNdcgOptions,
  name = "neuralndcg",
): Tensor {
  const what = `loss '${name}' (fused)`;
  const full = context(what, scores, labels, o);
  // The backward rule (recorded exactly when this holds) needs the state of every iteration.
  const keepAll = isGradEnabled() && (scores.requiresGrad || labels.requiresGrad);
  const hint = "split the lists into smaller batches";
  const iters = keepAll ? full.maxIter : Math.min(full.maxIter, 2);
  checkBudget(what, fusedBytes(full.total, full.n, iters, o.sinkhorn), full.total, full.n, hint);
  const weights = neuralNdcgWeights(labels, o);
  let loss: Tensor | null = null;
  for (const range of ranges(full.total, vectorChunk(full.np))) {
    const c = context(what, scores, labels, o, range);
    const part = fusedChunk(c, scores, labels, weights, o, name, keepAll);
    loss = loss === null ? part : sumOf(loss, part);
  }
  if (!loss!.creator) weights.dispose();
  return loss!;
}

/** The fused loss term of the lists of `c` (a chunk), recorded with its backward rule. */
function fusedChunk(
  c: Ctx,
  scores: Tensor,
  labels: Tensor,
  weights: Tensor,
  o: NeuralNdcgOptions,
  name: string,
  keepAll: boolean,
): Tensor {
  const what = `loss '${name}' (fused)`;
  const hint = "split the lists into smaller batches";
  const prep = prepare(c, scores, labels, what, hint);
  const work = alloc([WORK_PLANES, c.lists, c.np], "neuralndcg work", what, hint);
  const { lmeta, items } = prep;
  const states: Tensor[] = [prep.s0!];
  for (let t = 1; t <= c.maxIter; t++) {
    let cur: Tensor;
    if (keepAll || states.length < 3) {
      cur = newState(c, t, what, hint);
      states.push(cur);
    } else {
      cur = states[1 + ((t - 1) % 2)];
    }
    const prev = keepAll ? states[t - 1] : t === 1 ? states[0] : states[1 + (t % 2)];
    const b = { lmeta, items, prev, cur };
    NEURALSORT.launch("fused_col_sums", b, params(c, { t }), c.quads);
    SINKHORN.launch(
      "sinkhorn_check",
      { labels, lmeta, prev, cur },
      params(c, { t, sorted: true }),
      c.lists,
    );
    NEURALSORT.launch("fused_col_update", b, params(c, { t }), c.quads);
    NEURALSORT.launch("state_tiles", b, params(c, { t, plane: 0 }), c.tiles);
    NEURALSORT.launch("fused_row_step", b, params(c, { t }), c.quads);
    NEURALSORT.launch("state_tiles", b, params(c, { t, plane: 1 }), c.tiles);
  }
  const final = keepAll || c.maxIter === 0
    ? states[states.length - 1]
    : states[1 + ((c.maxIter - 1) % 2)];
  const b = { scores, labels, weights, lmeta, items, work };
  NEURALSORT.launch(
    o.transposed ? "fused_dcg_cols" : "fused_dcg_rows",
    { ...b, cur: final },
    params(c),
    c.quads,
  );
  NEURALSORT.launch("list_sums", b, params(c, { slot: DCG, plane: TMP }), c.lists);
  const loss = new Tensor([1], { label: `${name} loss` });
  NEURALSORT.dispatch("weighted_total", { ...b, out: loss }, params(c), [1]);
  const saved = [lmeta, items, work, ...states];
  record(loss, name, [scores, labels], (g) => {
    const T = c.maxIter;
    NEURALSORT.launch(
      "fused_back_init_rows",
      { ...b, upstream: g, cur: states[T] },
      params(c, { t: T }),
      c.quads,
    );
    NEURALSORT.launch(
      "fused_back_init_cols",
      { ...b, upstream: g, cur: states[T] },
      params(c),
      c.quads,
    );
    for (let t = T; t >= 1; t--) {
      const pc = { ...b, prev: states[t - 1], cur: states[t] };
      NEURALSORT.launch("fused_back_cols", pc, params(c, { t }), c.quads);
      NEURALSORT.launch("fused_back_rows", pc, params(c, { t }), c.quads);
    }
    NEURALSORT.launch("fused_back_final", { ...b, prev: states[0] }, params(c), c.quads);
    // sort_backward writes the chunk's rows; a chunk short of the batch needs zeros elsewhere
    const label = `d ${name}`;
    const grad = c.lists === c.total
      ? new Tensor(scores.shape, { label })
      : Tensor.zeros(scores.shape, { label });
    NEURALSORT.launch("sort_backward", { ...b, out: grad }, params(c), c.items);
    return [grad, null];
  });
  if (!loss.creator) { for (const t of saved) t.dispose(); }
  return loss;
}
