/**
 * Sinkhorn scaling on the GPU (`kernels/sinkhorn.wgsl`): allRank's `sinkhorn_scaling` of
 * materialised `[lists, n, n]` matrices, differentiable ({@link sinkhorn}). The backward rule undoes
 * the iterations on a copy, from the stored row and column sums. Each list stops on its own once
 * its row and column sums are within `tol` of 1 (float64 twin: `src/reference/sinkhorn.ts`).
 *
 * @module
 */

import { NEURALSORT, SINKHORN } from "../gpu/kernels.ts";
import type { Indirect } from "../gpu/declare.ts";
import { groups1d, rt } from "../gpu/runtime.ts";
import { isGradEnabled, record } from "../autodiff/tape.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { alloc, context, type Ctx, type ListRange, params } from "./neuralsort.ts";

const { META } = NEURALSORT.constants;
const { G_RUNNING, G_RUN, G_QUADS, G_TILES, G_BACK } = SINKHORN.constants;

/**
 * The gate of the fused Sinkhorn iterations over the lists of `c` (`kernels/sinkhorn.wgsl`, words
 * `G_*`): every list running, and the full workgroup counts of the forward's per-quad and per-tile
 * launches and of the backward's passes of each iteration. `sinkhorn_check` closes it when the last
 * list stops, so that the launches reading their counts from it ({@link gateGroups}) become empty:
 * the iterations stop on the GPU, without a readback.
 */
export function sinkhornGate(c: Ctx, what: string): Tensor {
  const size = NEURALSORT.decl.workgroupSize;
  const grid = (invocations: number) => [...groups1d(Math.ceil(invocations / size)), 1];
  const quads = grid(c.quads);
  const words = new Uint32Array(G_BACK + 3 * (c.maxIter + 1));
  words[G_RUNNING] = c.lists;
  words[G_RUN] = c.maxIter;
  words.set(quads, G_QUADS);
  words.set(grid(c.tiles), G_TILES);
  for (let t = 0; t <= c.maxIter; t++) words.set(quads, G_BACK + 3 * t);
  const gate = alloc([words.length], "sinkhorn gate", what, "lower maxIter");
  rt().upload(gate.buffer, words);
  return gate;
}

/**
 * Where a launch gated by {@link sinkhornGate} reads its workgroup counts: the forward's per-quad
 * (`"quads"`) or per-tile (`"tiles"`) launches, or iteration `t`'s backward column or row pass.
 */
export function gateGroups(
  gate: Tensor,
  launch: "quads" | "tiles" | "back_cols" | "back_rows",
  t = 0,
): Indirect {
  const word = launch === "quads"
    ? G_QUADS
    : launch === "tiles"
    ? G_TILES
    : G_BACK + 3 * (launch === "back_rows" ? t - 1 : t);
  return { indirect: gate, offset: 4 * word };
}

/**
 * Read back (tests and diagnostics): the iterations the slowest list of a gate ran (`run`), whether
 * the forward's launches still get workgroups (`open`), and how many iterations' backward column
 * passes will (`backward`).
 */
export async function gateState(
  gate: Tensor,
): Promise<{ run: number; open: boolean; backward: number }> {
  const data = await gate.read();
  const words = new Uint32Array(data.buffer, data.byteOffset, data.length);
  let backward = 0;
  for (let w = G_BACK + 3; w < words.length; w += 3) if (words[w] > 0) backward++;
  return { run: words[G_RUN], open: words[G_QUADS] > 0 && words[G_TILES] > 0, backward };
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
