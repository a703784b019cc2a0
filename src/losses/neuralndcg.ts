/**
 * `neuralndcg` and `neuralndcg_transposed` — allRank's `neuralNDCG` and `neuralNDCG_transposed`
 * (Pobrotyn & Białobrzeski, "NeuralNDCG: Direct Optimisation of a Ranking Metric via
 * Differentiable Relaxation of Sorting", 2021), on deterministic NeuralSort (Grover et al. 2019).
 *
 * Per list with `nv` valid items (label ≥ 0) and scores s:
 *
 *     P̂[i, :] = softmax(((nv + 1 − 2(i+1))·s − A_s·1) / τ),  A_s[j, k] = |s_j − s_k|,  i < nv
 *     M = Sinkhorn(P̂)   (columns then rows divided by their sums, clamped at 1e-10)
 *     DCG = Σ_{i < k} d_i Σ_j M[i, j]·g_j,  d_i = 1/log2(i + 2),  g = 2^y − 1 (or y)
 *
 * `neuralndcg` sums the expected gain of each rank (`M·g`), `neuralndcg_transposed` the expected
 * discount of each item (`Mᵀ·d`); for the same M the two are equal. Loss = `−(1/N) Σ_l DCG_l /
 * (IDCG_l + 1e-10)` over the N lists whose ideal DCG@k is positive.
 *
 * - Options (allRank's names and defaults where it has them): `temperature` τ (1),
 *   `powered_relevancies` (true: gains 2^y − 1; false: y), `k` (0 = no cutoff, allRank's
 *   `k=None`), `sinkhorn` (true; false skips the scaling — allRank always scales), `tol` (1e-6) and
 *   `maxIter` (50) of the Sinkhorn scaling (allRank's `tol`, `max_iter`), and `fused`:
 *   - `"fused"`: P̂ is never stored; every entry of P̂ and of the Sinkhorn iterates is recomputed
 *     from the scores and per-list vectors. Memory ≈ (20·(maxIter + 1) + 76)·lists·n bytes
 *     (≈ 1.1 GB at 1024 × 1000 with a gradient, 0.2 GB without), time O(n²·maxIter) per list, with
 *     tiles of exact zeros skipped (items are sorted by score inside each list).
 *   - `"plain"`: P̂ and its Sinkhorn result are `[lists, n, n]` tensors (allRank's way), chunked so
 *     one matrix fits a storage binding; ≈ 16·lists·n² bytes. Slower; kept as an independent check.
 *   - `"auto"` (default): `"plain"` when P̂ would hold at most {@link AUTO_PLAIN_ENTRIES} entries
 *     (lists·n²; there the work is tiny, dispatch overhead dominates and plain needs half the
 *     dispatches: 27 vs 46 ms at 4 × 4, 67 vs 81 ms at 16 × 16), else `"fused"` (1.3× faster at
 *     1024 × 8, 5× at 256 × 128, 11× at 64 × 1000, and the only one that fits large batches).
 *   Requests whose estimated memory exceeds 2 GiB are refused with a message naming the estimate,
 *   the budget and what to change.
 * - Reduction: mean NDCG over the lists with a positive IDCG (allRank), negated.
 * - Padding (label −1): no rank row, no column; zero gradient. Padding invariance holds: a list
 *   padded anywhere gives the loss and gradient of the unpadded list.
 * - All-zero labels and all-padding lists: IDCG 0, the list gives 0 and no gradient; all such →
 *   loss 0 (as allRank).
 * - Numerics: `s/τ` is clamped to ±1e37/n (no float32 overflow; gradient 0 where clamped), every
 *   softmax and Sinkhorn step is max-shifted / scaled in log space, so scores of ±1e30 and τ = 1e-4
 *   stay finite. Ties give equal columns (`sign(0) = 0` in the gradient of |s_j − s_k|).
 *
 * Differences from allRank:
 * - Sinkhorn stops per list (each list after its first iteration with all row and column sums
 *   within `tol` of 1, allRank's test); allRank stops the whole batch together, so a list's loss
 *   depends on the other lists of its batch. For a single list the two agree. Once every list of
 *   a chunk has stopped, the fused path's remaining iterations and their backward are empty
 *   dispatches (a gate the check closes on the GPU, no readback; `kernels/sinkhorn.wgsl`).
 * - The `(n + 1 − 2i)` factor counts valid items (as allRank), and the valid block is rank rows
 *   `0 … nv−1` × valid items wherever the padding sits; allRank masks row i by the padding of item i,
 *   which is the same when padding is at the end (its loaders always pad at the end).
 * - allRank's `neuralNDCG_transposed` with `powered_relevancies=False` divides by the IDCG of
 *   powered gains (its `dcg` call omits the gain function); here both variants use the same gains
 *   for DCG and IDCG.
 * - allRank fills P̂'s padded block with a uniform matrix before Sinkhorn; here it stays 0. Neither
 *   reaches the loss.
 * - Stochastic variant (`stochastic: true`, allRank's `stochastic=True`; `src/losses/stochastic.ts`,
 *   `src/ops/gumbel.ts`): the loss is the mean over `n_samples` (32) draws of the loss of
 *   `log(s + |min s| + 1e-10) + beta·G` (`log_scores`, true; without it `s + |min s| + beta·G`),
 *   `beta` 0.1, G standard Gumbel. The minimum is over the valid items of the batch (allRank: the
 *   whole tensor, padding included); the noise of draw d of an item is a hash of (`seed`, d, list,
 *   the item's rank among the list's valid items): `seed` 0 (default) takes a new stream each call,
 *   any other value fixes it; in training the trainer mixes it with the step (`stepOptions`). Draws
 *   run in groups that fit 32 MiB, each group's gradient taken at once, so memory stays that of
 *   one group and the cost grows with `n_samples`. Per-list Sinkhorn stopping keeps each draw's
 *   loss independent of the others (allRank stops every draw of the batch together).
 * - No `log_base` option: NDCG's discount base cancels between DCG and IDCG.
 *
 * The two paths (`kernels/neuralndcg.wgsl`, on NeuralSort's `kernels/neuralsort.wgsl`):
 *
 * - plain ({@link neuralNdcgPlain}: `neuralSort` → `sinkhorn` → {@link softDcg}): P̂ is
 *   materialised as a `[lists, n, n]` tensor and Sinkhorn normalises it, as allRank does; each op
 *   has its own backward rule. Memory ≈ 16·lists·n² bytes, in chunks of lists so that one matrix
 *   fits one storage binding.
 * - fused ({@link neuralNdcgFused}): P̂ is never stored. Sinkhorn's result is diag(e^α)·P̂·diag(e^β),
 *   so the iterations keep O(n) vectors per list (5 per iteration for the backward pass, which runs
 *   the iterations in reverse) and recompute each entry from the scores. Items are sorted by score
 *   within each list, which makes P̂ and the iterates concentrated near the diagonal, and tiles
 *   whose exponents are all below −110 (exactly 0 in float32) are skipped.
 *
 * Both refuse a request whose estimated memory exceeds {@link MEMORY_BUDGET_BYTES}, naming the
 * estimate. Float64 twin: `src/reference/neuralndcg.ts`.
 *
 * @example
 * ```ts
 * import { rankingLossWithGrad } from "./mod.ts";
 * const { loss, grad } = await rankingLossWithGrad(
 *   "neuralndcg",
 *   [[0.5, 0.3, 0.5, 1.2]],
 *   [[1, 0, 2, -1]],
 *   { temperature: 0.5, k: 2 },
 * );
 * console.log(loss, grad); // grad[0][3] === 0 (padding)
 * ```
 *
 * @module
 */

import { NEURALNDCG, NEURALSORT, SINKHORN } from "../gpu/kernels.ts";
import { formatBytes } from "../gpu/device.ts";
import { isGradEnabled, record } from "../autodiff/tape.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { add } from "../ops/elementwise.ts";
import {
  alloc,
  context,
  type Ctx,
  type ListRange,
  maxBinding,
  neuralSort,
  newState,
  params,
  type Prep,
  prepare,
  ranges,
  vectorChunk,
} from "../ops/neuralsort.ts";
import { gateGroups, gateState, sinkhorn, sinkhornGate } from "../ops/sinkhorn.ts";
import { checkLossInputs, intOption, positiveOption } from "./launch.ts";
import { stepSeed, stochasticLoss, type StochasticOptions } from "./stochastic.ts";
import { registerLoss, resolveOptions } from "./registry.ts";
import type { LossDefinition, LossOptions } from "./types.ts";

const { ITEM_PLANES, STATE_PLANES, WORK_PLANES, DCG, TMP, META, ITERS } = NEURALSORT.constants;

/**
 * Largest estimated memory (bytes) one NeuralNDCG call may hold, plain or fused; a larger request
 * is refused with a message naming the estimate, the budget and the alternative.
 */
export const MEMORY_BUDGET_BYTES = 2 * 2 ** 30;

/** Options of the NeuralNDCG paths (the resolved loss options). */
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
    NEURALNDCG.launch(
      "item_ideal",
      { lmeta: prep.lmeta, items: prep.items, work },
      params(c),
      c.items,
    );
    NEURALNDCG.launch("list_idcg", { work, out: weights }, params(c), c.lists);
    [prep.lmeta, prep.items, work].forEach((t) => t.dispose());
  }
  NEURALNDCG.dispatch("batch_weights", { out: weights }, params(full), [1]);
  return weights;
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
  NEURALNDCG.launch(o.transposed ? "dcg_cols" : "dcg_rows", b, params(c), c.items);
  NEURALNDCG.launch("list_sums", b, params(c, { slot: DCG, plane: TMP }), c.lists);
  const loss = new Tensor([1], { label: "soft DCG" });
  NEURALNDCG.dispatch("weighted_total", { ...b, out: loss }, params(c), [1]);
  work.dispose();
  record(loss, what, [m, labels, weights], (g) => {
    const grad = new Tensor(m.shape, { label: "d softDcg" });
    NEURALNDCG.launch(
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

/** What {@link fusedSinkhorn} leaves for the loss and its backward. */
interface FusedState {
  /** The per-list preparation (lmeta slot ITERS: the iterations each list ran). */
  prep: Prep;
  /** States 0 … maxIter (`keepAll`), else state 0 and the pair the iterations alternate on. */
  states: Tensor[];
  /** Every list's final state (`states[maxIter]` with `keepAll`). */
  final: Tensor;
  /** The gate (`sinkhornGate`); null without iterations. */
  gate: Tensor | null;
}

/**
 * The fused Sinkhorn iterations of the lists of `c` (a chunk). Each list stops after its first
 * iteration with every row and column sum within `tol` of 1 (the check of allRank's
 * `sinkhorn_scaling`), its state then handed to `final`; once every list has stopped, the gate
 * turns the remaining launches into empty dispatches (no readback, see `sinkhornGate`).
 */
function fusedSinkhorn(
  c: Ctx,
  scores: Tensor,
  labels: Tensor,
  keepAll: boolean,
  what: string,
  hint: string,
): FusedState {
  const prep = prepare(c, scores, labels, what, hint);
  const { lmeta, items } = prep;
  const T = c.maxIter;
  const states: Tensor[] = [prep.s0!];
  for (let t = 1; t <= (keepAll ? T : Math.min(T, 2)); t++) states.push(newState(c, t, what, hint));
  const state = (t: number) => keepAll || t === 0 ? states[t] : states[1 + ((t - 1) % 2)];
  const final = state(T);
  const gate = T > 0 ? sinkhornGate(c, what) : null;
  for (let t = 1; t <= T; t++) {
    const [prev, cur] = [state(t - 1), state(t)];
    const b = { lmeta, items, prev, cur };
    const quads = gateGroups(gate!, "quads");
    const tiles = gateGroups(gate!, "tiles");
    NEURALNDCG.dispatch("fused_col_sums", b, params(c, { t }), quads);
    // where a list stopping now leaves its state t − 1 (prev): flags bit 3 cur, bit 4 fin
    const to = final === cur ? 8 : final === prev ? 0 : 16;
    const pc = params(c, { t, sorted: true });
    SINKHORN.launch(
      "sinkhorn_check",
      { labels, lmeta, prev, cur, fin: to === 16 ? final : undefined, gate: gate! },
      { ...pc, flags: pc.flags | to },
      c.lists,
    );
    NEURALNDCG.dispatch("fused_col_update", b, params(c, { t }), quads);
    NEURALSORT.dispatch("state_tiles", b, params(c, { t, plane: 0 }), tiles);
    NEURALNDCG.dispatch("fused_row_step", b, params(c, { t }), quads);
    NEURALSORT.dispatch("state_tiles", b, params(c, { t, plane: 1 }), tiles);
  }
  return { prep, states, final, gate };
}

/** Per chunk of lists, what the gate of the fused Sinkhorn iterations says after the forward. */
export interface GateReport {
  /** Iterations the chunk's slowest list ran (every launch after them is empty). */
  run: number;
  /** Whether the forward's launches still had workgroups at the end (no: the gate closed). */
  open: boolean;
  /** Iterations whose backward passes get workgroups. */
  backward: number;
}

/**
 * Diagnostics and tests: the Sinkhorn iterations the fused path runs on each list of `scores`
 * (`perList`) and, per chunk of lists, its gate ({@link GateReport}); one readback per chunk.
 */
export async function fusedSinkhornIterations(
  scores: Tensor,
  labels: Tensor,
  o: NeuralNdcgOptions,
): Promise<{ perList: number[]; chunks: GateReport[] }> {
  const what = "fusedSinkhornIterations";
  const full = context(what, scores, labels, o);
  const perList: number[] = [];
  const chunks: GateReport[] = [];
  for (const range of ranges(full.total, vectorChunk(full.np))) {
    const c = context(what, scores, labels, o, range);
    const s = fusedSinkhorn(c, scores, labels, false, what, "use fewer lists");
    const meta = await s.prep.lmeta.read();
    for (let b = 0; b < c.lists; b++) perList.push(meta[b * META + ITERS]);
    chunks.push(s.gate ? await gateState(s.gate) : { run: 0, open: false, backward: 0 });
    for (const t of [s.prep.lmeta, s.prep.items, ...s.states, s.gate]) t?.dispose();
  }
  return { perList, chunks };
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
  const { prep, states, final, gate } = fusedSinkhorn(c, scores, labels, keepAll, what, hint);
  const work = alloc([WORK_PLANES, c.lists, c.np], "neuralndcg work", what, hint);
  const { lmeta, items } = prep;
  const b = { scores, labels, weights, lmeta, items, work };
  NEURALNDCG.launch(
    o.transposed ? "fused_dcg_cols" : "fused_dcg_rows",
    { ...b, cur: final },
    params(c),
    c.quads,
  );
  NEURALNDCG.launch("list_sums", b, params(c, { slot: DCG, plane: TMP }), c.lists);
  const loss = new Tensor([1], { label: `${name} loss` });
  NEURALNDCG.dispatch("weighted_total", { ...b, out: loss }, params(c), [1]);
  const saved = gate ? [lmeta, items, work, gate, ...states] : [lmeta, items, work, ...states];
  record(loss, name, [scores, labels], (g) => {
    const T = c.maxIter;
    NEURALNDCG.launch(
      "fused_back_init_rows",
      { ...b, upstream: g, cur: final },
      params(c, { t: T }),
      c.quads,
    );
    NEURALNDCG.launch(
      "fused_back_init_cols",
      { ...b, upstream: g, cur: final },
      params(c),
      c.quads,
    );
    // iterations no list ran get empty passes (the gate); each list replays the ones it ran
    for (let t = T; t >= 1; t--) {
      const pc = { ...b, prev: states[t - 1], cur: states[t] };
      NEURALNDCG.dispatch(
        "fused_back_cols",
        pc,
        params(c, { t }),
        gateGroups(gate!, "back_cols", t),
      );
      NEURALNDCG.dispatch(
        "fused_back_rows",
        pc,
        params(c, { t }),
        gateGroups(gate!, "back_rows", t),
      );
    }
    NEURALNDCG.launch("fused_back_final", { ...b, prev: states[0] }, params(c), c.quads);
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

/** How the NeuralNDCG losses run: `auto`, `plain` or `fused` (option `fused`). */
export const NEURALNDCG_PATHS = ["auto", "plain", "fused"] as const;

/** `fused: "auto"` runs the plain path when `lists·n²` is at most this, else the fused one. */
export const AUTO_PLAIN_ENTRIES = 32768;

const DEFAULTS: LossOptions = {
  temperature: 1,
  powered_relevancies: true,
  k: 0,
  sinkhorn: true,
  tol: 1e-6,
  maxIter: 50,
  fused: "auto",
  stochastic: false,
  n_samples: 32,
  beta: 0.1,
  log_scores: true,
  seed: 0,
};

function optionsOf(def: LossDefinition, options: LossOptions, transposed: boolean) {
  const o = resolveOptions(def, options);
  const tol = o.tol as number;
  if (!(tol >= 0)) {
    throw new RangeError(`loss '${def.name}': option 'tol' must be ≥ 0, got ${tol}`);
  }
  const resolved: NeuralNdcgOptions = {
    temperature: positiveOption(def.name, "temperature", o.temperature as number),
    poweredRelevancies: o.powered_relevancies as boolean,
    k: intOption(def.name, "k", o.k as number, 0),
    sinkhorn: o.sinkhorn as boolean,
    tol,
    maxIter: intOption(def.name, "maxIter", o.maxIter as number, 0),
    transposed,
  };
  const seed = o.seed as number;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`loss '${def.name}': option 'seed' must be a u32, got ${seed}`);
  }
  const stochastic: StochasticOptions | null = o.stochastic
    ? {
      samples: intOption(def.name, "n_samples", o.n_samples as number, 1),
      beta: positiveOption(def.name, "beta", o.beta as number, true),
      logScores: o.log_scores as boolean,
      seed,
    }
    : null;
  return { resolved, path: o.fused as (typeof NEURALNDCG_PATHS)[number], stochastic };
}

/** The deterministic loss of `[lists, n]` scores by `path` (`auto`: by size, see the module docs). */
function deterministic(
  scores: Tensor,
  labels: Tensor,
  o: NeuralNdcgOptions,
  path: (typeof NEURALNDCG_PATHS)[number],
  name: string,
): Tensor {
  const [lists, n] = scores.shape;
  const plain = path === "plain" || (path === "auto" && lists * n * n <= AUTO_PLAIN_ENTRIES);
  return plain
    ? neuralNdcgPlain(scores, labels, o, name)
    : neuralNdcgFused(scores, labels, o, name);
}

function define(name: string, transposed: boolean): LossDefinition {
  const allRank = transposed ? "neuralNDCG_transposed" : "neuralNDCG";
  const def: LossDefinition = {
    name,
    summary: `allRank ${allRank}: −NDCG@k through NeuralSort P̂ and Sinkhorn scaling` +
      (transposed ? " (expected discount per item)" : " (expected gain per rank)"),
    defaults: DEFAULTS,
    choices: { fused: NEURALNDCG_PATHS },
    forward(scores: Tensor, labels: Tensor, options: LossOptions): Tensor {
      const [lists, n] = checkLossInputs(name, scores, labels);
      const { resolved, path, stochastic } = optionsOf(def, options, transposed);
      const run = (s: Tensor, y: Tensor) => deterministic(s, y, resolved, path, name);
      if (!stochastic) return run(scores, labels);
      const grad = isGradEnabled() && scores.requiresGrad;
      const iters = grad ? resolved.maxIter : Math.min(resolved.maxIter, 2);
      const bytes = path === "plain"
        ? plainBytes(lists, n, resolved.maxIter, resolved.sinkhorn)
        : fusedBytes(lists, n, iters, resolved.sinkhorn);
      return stochasticLoss(name, scores, labels, stochastic, run, bytes);
    },
    stepOptions: (options, step) =>
      options.stochastic ? { ...options, seed: stepSeed(options.seed as number, step) } : options,
  };
  return def;
}

/** The `neuralndcg` loss definition (allRank `neuralNDCG`). */
export const neuralNdcgDefinition: LossDefinition = registerLoss(define("neuralndcg", false));

/** The `neuralndcg_transposed` loss definition (allRank `neuralNDCG_transposed`). */
export const neuralNdcgTransposedDefinition: LossDefinition = registerLoss(
  define("neuralndcg_transposed", true),
);

/** The resolved NeuralNDCG options of `name`'s loss options (`transposed` follows the name). */
export function neuralNdcgOptions(
  name: "neuralndcg" | "neuralndcg_transposed",
  options: LossOptions,
): NeuralNdcgOptions {
  const transposed = name === "neuralndcg_transposed";
  const def = transposed ? neuralNdcgTransposedDefinition : neuralNdcgDefinition;
  return optionsOf(def, options, transposed).resolved;
}
