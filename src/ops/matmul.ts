/**
 * Matrix multiplication (`kernels/matmul.wgsl`, naive twin `kernels/matmul_naive.wgsl`):
 * `C = op(A) · op(B)` with either operand transposed, and its backward rule.
 *
 * The blocked kernel is tuned for llvmpipe, where every storage-buffer load costs a loop over the
 * SIMD lanes and arithmetic is comparatively free: each invocation computes a
 * {@link MatmulTile.rows} × {@link MatmulTile.cols} block of C from vec4 loads (see the header of
 * `kernels/matmul.wgsl`). There is one entry point per layout, `mm_nn` (A·B), `mm_nt` (A·Bᵀ),
 * `mm_tn` (Aᵀ·B) and `mm_tt` (Aᵀ·Bᵀ), and the tile is a pipeline constant ({@link MATMUL_TILES}).
 * A workgroup's lanes run along the columns of C,
 * so a thin product may run as its transpose `Cᵀ = op(B)ᵀ·op(A)ᵀ` ({@link matmulPlan}). Operands
 * whose rows are not a whole number of vec4s, or whose k-indexed rows do not come in fours, are first
 * copied into zero-padded scratch buffers (`mm_pad`, O(size) work).
 *
 * @module
 */

import { MATMUL, MATMUL_NAIVE } from "../gpu/kernels.ts";
import { groups1d, MAX_GROUPS, rt } from "../gpu/runtime.ts";
import { record } from "../autodiff/tape.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { dims2 } from "./common.ts";

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** Use Aᵀ (A stored K × M). */
  transA?: boolean;
  /** Use Bᵀ (B stored N × K). */
  transB?: boolean;
  /** Kernel: the register-blocked one (default) or the naive one-output-per-invocation kernel. */
  kernel?: "blocked" | "naive";
  /**
   * Force the blocked kernel's tile and orientation instead of {@link matmulPlan}'s choice (tests
   * and benchmarks use it to cover every tile on every shape).
   */
  plan?: { tile: keyof typeof MATMUL_TILES; dual: boolean };
}

/** One block size of the blocked kernel (pipeline constants `TM`, `NQ`, `WG` of its entry points). */
export interface MatmulTile {
  /** Name, for messages. */
  name: string;
  /** Rows of C per invocation (`TM`, at most 32, a multiple of 4). */
  rows: number;
  /** Columns of C per invocation (`4 · NQ`, at most 32). */
  cols: number;
  /** Invocations per workgroup, side by side along the columns (`WG`). */
  group: number;
  /** Relative speed at full occupancy (measured GFLOP/s ÷ the large tile's), for tile choice. */
  speed: number;
}

/**
 * The blocked kernel's tiles, as measured here (GFLOP/s of CPU time on the 2-core test machine,
 * 512×1024×512): `large` (32 × 32 outputs per invocation, ~40) has the best ratio of arithmetic to
 * loads; `medium` (16 × 32, ~34) pads less; `small` (8 × 8, ~19.5) suits small outputs; `thin`
 * (4 × 32, ~16.5) outputs with a handful of rows (after choosing the orientation, see
 * {@link matmulPlan}). Compiling a tile the first time costs ~10 s of CPU for `large`, ~4 s for
 * `medium`, under 2 s for the others; Mesa keeps the result in its disk cache.
 */
export const MATMUL_TILES: Readonly<Record<"large" | "medium" | "small" | "thin", MatmulTile>> = {
  large: { name: "large", rows: 32, cols: 32, group: 8, speed: 1 },
  medium: { name: "medium", rows: 16, cols: 32, group: 8, speed: 0.85 },
  small: { name: "small", rows: 8, cols: 8, group: 8, speed: 0.49 },
  thin: { name: "thin", rows: 4, cols: 32, group: 8, speed: 0.41 },
};

/**
 * Multiply-adds (m·n·k) from which the large tile is considered: 2^28, e.g. 1024×1024×256. Smaller
 * products (every training-step product of the default model) use the other tiles.
 */
export const LARGE_TILE_MIN_WORK = 2 ** 28;

/** The tile used for large outputs (kept for callers that size work by it). */
export const MATMUL_TILE: MatmulTile = MATMUL_TILES.large;

/** Kernel layouts: A·B, A·Bᵀ, Aᵀ·B, Aᵀ·Bᵀ. */
export type MatmulLayout = "nn" | "nt" | "tn" | "tt";

/** How {@link matmulInto} runs one product on the blocked kernel. */
export interface MatmulPlan {
  /** Kernel layout actually dispatched. */
  layout: MatmulLayout;
  /** Whether the dual product `Cᵀ = op(B)ᵀ·op(A)ᵀ` runs (operands swapped, C written transposed). */
  dual: boolean;
  /** The tile. */
  tile: MatmulTile;
}

const DUAL: Record<MatmulLayout, MatmulLayout> = { nn: "tt", nt: "nt", tn: "tn", tt: "nn" };
const CORES = Math.max(1, navigator.hardwareConcurrency || 1);

/**
 * Chooses the orientation and tile for an `m × n` output of `layout`: the lanes of a workgroup run
 * along the columns, so a thin output is computed as its transpose when that wastes less, and the
 * tile minimises padded work ÷ tile speed, counting idle cores when there are few workgroups.
 */
export function matmulPlan(
  layout: MatmulLayout,
  m: number,
  n: number,
  k = LARGE_TILE_MIN_WORK,
): MatmulPlan {
  let best: MatmulPlan | null = null;
  let bestCost = Infinity;
  for (const dual of [false, true]) {
    const [rows, cols] = dual ? [n, m] : [m, n];
    for (const tile of Object.values(MATMUL_TILES)) {
      // The large tile takes ~10 s of llvmpipe JIT per layout on first use (cached on disk
      // afterwards); below this much work it measured no faster than the medium tile in a
      // training step, so small products never pay for its compile.
      if (tile === MATMUL_TILES.large && m * n * k < LARGE_TILE_MIN_WORK) continue;
      const gy = Math.ceil(rows / tile.rows);
      const gx = Math.ceil(cols / (tile.cols * tile.group));
      const groups = gx * gy;
      const padded = gy * tile.rows * gx * tile.cols * tile.group;
      const idle = Math.ceil(groups / CORES) * CORES / groups;
      const cost = (padded * idle) / tile.speed;
      if (cost < bestCost * 0.999) { // ties: the first (direct, larger tile)
        bestCost = cost;
        best = { layout: dual ? DUAL[layout] : layout, dual, tile };
      }
    }
  }
  return best!;
}

/** Returns `[M, N, K]` for `op(a) · op(b)`, or throws naming both shapes. */
export function matmulDims(
  a: Tensor,
  b: Tensor,
  options: MatmulOptions = {},
): [number, number, number] {
  const [ar, ac] = dims2(a, "matmul");
  const [br, bc] = dims2(b, "matmul");
  const [m, k] = options.transA ? [ac, ar] : [ar, ac];
  const [k2, n] = options.transB ? [bc, br] : [br, bc];
  if (k !== k2) {
    const ta = options.transA ? "ᵀ" : "";
    const tb = options.transB ? "ᵀ" : "";
    throw new RangeError(
      `matmul: inner dimensions differ, ${a.label}${ta} ${shapeString(a.shape)} · ` +
        `${b.label}${tb} ${shapeString(b.shape)}`,
    );
  }
  return [m, n, k];
}

const round4 = (x: number) => Math.ceil(x / 4) * 4;

/**
 * Records a copy of the `rows × cols` matrix in `src` into a zero-padded `rowsP × colsP` scratch
 * buffer (colsP a multiple of 4) and returns it; the caller releases it after recording its use.
 */
function padded(src: GPUBuffer, rows: number, cols: number, rowsP: number, colsP: number) {
  const runtime = rt();
  const out = runtime.pool.acquire(rowsP * colsP * 4, `matmul pad ${rowsP}x${colsP}`);
  MATMUL.dispatch(
    "mm_pad",
    { a: src, c: out },
    { rows, cols, rows_p: rowsP, cols_p: colsP },
    groups1d(Math.ceil((rowsP * colsP) / 4 / MATMUL.constants.LINE_WG)),
  );
  return out;
}

/**
 * Records the blocked kernel `layout` for an `m × n × k` product of `a` and `b` (stored as the
 * layout says), writing C transposed when `tc`, with `tile`.
 */
function blocked(
  c: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  layout: MatmulLayout,
  tile: MatmulTile,
  m: number,
  n: number,
  k: number,
  tc: boolean,
): void {
  const runtime = rt();
  const k4 = round4(k);
  // Stored shapes and the shapes the kernel needs: vec4 rows, and k-indexed rows in fours.
  const transA = layout[0] === "t";
  const transB = layout[1] === "t";
  const [aRows, aCols, aRowsP, aColsP] = transA ? [k, m, k4, round4(m)] : [m, k, m, k4];
  const [bRows, bCols, bRowsP, bColsP] = transB ? [n, k, n, k4] : [k, n, k4, round4(n)];
  const scratch: GPUBuffer[] = [];
  if (aRowsP !== aRows || aColsP !== aCols) {
    a = padded(a, aRows, aCols, aRowsP, aColsP);
    scratch.push(a);
  }
  if (bRowsP !== bRows || bColsP !== bCols) {
    b = padded(b, bRows, bCols, bRowsP, bColsP);
    scratch.push(b);
  }
  const tileConstants = { TM: tile.rows, NQ: tile.cols / 4, WG: tile.group };
  const groupsX = Math.ceil(n / (tile.cols * tile.group));
  const groupsY = Math.ceil(m / tile.rows);
  // Split into dispatches of at most MAX_GROUPS workgroups per dimension (huge M or N only).
  for (let gy = 0; gy < groupsY; gy += MAX_GROUPS) {
    for (let gx = 0; gx < groupsX; gx += MAX_GROUPS) {
      const params = {
        m,
        n,
        k,
        sa: aColsP / 4,
        sb: bColsP / 4,
        kc: k4 / 4,
        tc: tc ? 1 : 0,
        r0: gy * tile.rows,
        g0: (gx * tile.cols * tile.group) / 4,
      };
      const groups = [
        Math.min(MAX_GROUPS, groupsX - gx),
        Math.min(MAX_GROUPS, groupsY - gy),
      ] as const;
      MATMUL.dispatch(`mm_${layout}`, { a, b, c }, params, groups, tileConstants);
    }
  }
  for (const s of scratch) runtime.pool.release(s);
}

/** Records `c = op(a) · op(b)` into an existing tensor `c` of shape `[M, N]` (no autodiff). */
export function matmulInto(c: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): void {
  const [m, n, k] = matmulDims(a, b, options);
  if (c.shape[0] !== m || c.shape[1] !== n) {
    throw new RangeError(`matmulInto: output ${shapeString(c.shape)} is not [${m}, ${n}]`);
  }
  if (k === 0) {
    rt().upload(c.buffer, new Float32Array(m * n));
    return;
  }
  if (m === 0 || n === 0) return;
  const { transA = false, transB = false } = options;
  if (options.kernel === "naive") {
    MATMUL_NAIVE.dispatch(
      "matmul_naive",
      { a, b, c },
      { m, n, k, trans_a: transA ? 1 : 0, trans_b: transB ? 1 : 0 },
      [Math.ceil(n / 16), Math.ceil(m / 16)],
    );
    return;
  }
  const layout: MatmulLayout = transA ? (transB ? "tt" : "tn") : transB ? "nt" : "nn";
  run(planOf(layout, m, n, k, options.plan), c.buffer, a.buffer, b.buffer, m, n, k);
}

/** The forced plan, else {@link matmulPlan}'s. */
function planOf(
  layout: MatmulLayout,
  m: number,
  n: number,
  k: number,
  forced?: MatmulOptions["plan"],
): MatmulPlan {
  if (!forced) return matmulPlan(layout, m, n, k);
  return {
    layout: forced.dual ? DUAL[layout] : layout,
    dual: forced.dual,
    tile: MATMUL_TILES[forced.tile],
  };
}

/** Records `plan` for an `m × n × k` product of `a` and `b` into `c`. */
function run(
  plan: MatmulPlan,
  c: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  m: number,
  n: number,
  k: number,
) {
  if (plan.dual) {
    // Cᵀ = op(B)ᵀ·op(A)ᵀ: B is the left operand, A the right one, C is written transposed.
    blocked(c, b, a, plan.layout, plan.tile, n, m, k, true);
  } else {
    blocked(c, a, b, plan.layout, plan.tile, m, n, k, false);
  }
}

/**
 * Records `C = A·Bᵀ` (`m × n`, row-major) for buffers of rows already padded to `k` floats, `k` a
 * multiple of 4 (A `m × k`, B `n × k`): the blocked kernel as {@link matmulPlan} plans it. Used by
 * retrieval for its blocks of scores; {@link rowDotsInto} gives the same entries bit for bit.
 */
export function matmulNtInto(
  c: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  m: number,
  n: number,
  k: number,
  forced?: MatmulOptions["plan"],
): void {
  if (k % 4 !== 0) throw new RangeError(`matmulNtInto: k = ${k} is not a multiple of 4`);
  if (m === 0 || n === 0 || k === 0) return;
  run(planOf("nt", m, n, k, forced), c, a, b, m, n, k);
}

/**
 * Records `c[offset + i] = <row i of A, row i of B>` for `i < m` (rows of `k` floats, `k` a
 * multiple of 4): the diagonal of `A·Bᵀ`, each value equal bit for bit to that entry of
 * {@link matmulNtInto} (the same arithmetic, whatever the plan: see `mm_nt_rows`).
 */
export function rowDotsInto(
  c: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  m: number,
  k: number,
  offset = 0,
): void {
  if (k % 4 !== 0) throw new RangeError(`rowDotsInto: k = ${k} is not a multiple of 4`);
  const kc = k / 4;
  const groups = groups1d(Math.ceil(m / MATMUL.constants.LINE_WG));
  MATMUL.dispatch("mm_nt_rows", { a, b, c }, { m, sa: kc, sb: kc, kc, r0: offset }, groups);
}

/**
 * `op(a) · op(b)` for 2-D tensors.
 *
 * Backward: for C = A·B, dA = G·Bᵀ and dB = Aᵀ·G; the transposed forms follow by symmetry.
 *
 * @example
 * ```ts
 * import { matmul } from "./matmul.ts";
 * import { Tensor } from "../autodiff/tensor.ts";
 * const a = Tensor.fromRows([[1, 2], [3, 4]]);
 * const c = matmul(a, a, { transB: true }); // a · aᵀ
 * ```
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const [m, n] = matmulDims(a, b, options);
  const c = new Tensor([m, n], { label: "matmul" });
  matmulInto(c, a, b, options);
  const { transA = false, transB = false, kernel } = options;
  return record(c, "matmul", [a, b], (g) => {
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      // A (M×K): G·op(B)ᵀ; stored Aᵀ (K×M): op(B)·Gᵀ
      da = transA
        ? matmul(b, g, { transA: transB, transB: true, kernel })
        : matmul(g, b, { transB: !transB, kernel });
    }
    if (b.requiresGrad) {
      // B (K×N): op(A)ᵀ·G; stored Bᵀ (N×K): Gᵀ·op(A)
      db = transB
        ? matmul(g, a, { transA: true, transB: transA, kernel })
        : matmul(a, g, { transA: !transA, kernel });
    }
    return [da, db];
  });
}
