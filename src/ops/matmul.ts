/**
 * Matrix multiplication (`kernels/matmul.wgsl`, naive twin `kernels/matmul_naive.wgsl`):
 * `C = op(A) · op(B)` with either operand transposed, and its backward rule.
 *
 * Three kernel paths ({@link MatmulPath}), chosen per adapter and shape by {@link matmulPlan}:
 * - `texture` (default on CPU adapters such as llvmpipe, `kernels/matmul_tex.wgsl`): register
 *   blocking, each invocation a {@link MatmulTile.rows} × {@link MatmulTile.cols} block of C,
 *   operands read through `rgba32float` textures (filled by a copy, or by `mm_pad` and a copy),
 *   every loop but k's unrolled in the WGSL source. One entry point for all four layouts: a
 *   transposed operand is read as stored ({@link MatmulTile.transposedReads}), or on the large
 *   tile transposed by `mm_pad`.
 * - `buffer` (`kernels/matmul.wgsl`, `mm_nn`/`mm_nt`/`mm_tn`/`mm_tt`): the same blocking reading
 *   storage buffers; used when a texture would exceed `maxTextureDimension2D`, or when forced.
 * - `shared` (`mm_shared`): workgroup-memory tiles, 4 × 4 outputs per invocation, for discrete
 *   GPUs, where 32 × 32 accumulators per invocation would spill.
 *
 * A workgroup's lanes run along the columns of C, so a thin product may run as its transpose
 * `Cᵀ = op(B)ᵀ·op(A)ᵀ`. `CROSSRANK_MATMUL_OPERANDS=texture|buffer|shared` forces the path;
 * {@link tuneMatmul} measures candidate plans per shape class once and {@link matmulPlan} then
 * uses the fastest.
 *
 * @module
 */

import { MATMUL, MATMUL_NAIVE, MATMUL_TEX } from "../gpu/kernels.ts";
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
   * Force the blocked kernel's tile, orientation and path (default: the path {@link matmulPlan}
   * would use) instead of {@link matmulPlan}'s choice (tests and benchmarks use it to cover every
   * plan on every shape). The `shared` path ignores tile and orientation.
   */
  plan?: ForcedPlan;
}

/** A plan forced through {@link MatmulOptions.plan}. */
export interface ForcedPlan {
  /** The tile. */
  tile: TileName;
  /** Run the dual product `Cᵀ = op(B)ᵀ·op(A)ᵀ`. */
  dual: boolean;
  /** The kernel path. */
  path?: MatmulPath;
}

/** Names of {@link MATMUL_TILES}. */
export type TileName = "large" | "medium" | "small" | "thin";

/**
 * The blocked kernel's path: operands read through textures (`matmul_tex.wgsl`), from storage
 * buffers (`matmul.wgsl`'s `mm_nn` … `mm_tt`), or workgroup-memory tiles (`mm_shared`).
 */
export type MatmulPath = "texture" | "buffer" | "shared";

/** The paths, for validation and tests. */
export const MATMUL_PATHS: readonly MatmulPath[] = ["texture", "buffer", "shared"];

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
  /**
   * Texture path: a transposed operand is read as stored (pipeline constants `LT`, `RT`), not
   * transposed first by `mm_pad`. Each such variant is one more llvmpipe compile on first use.
   */
  transposedReads: boolean;
}

/**
 * The blocked kernel's tiles, as measured here (GFLOP/s on the 2-core test machine, texture path,
 * 512×1024×512, the median of 3 runs of `bench/mesa/square.ts --tile T`): `large` (32 × 32 outputs
 * per invocation, 52.9) has the best ratio of arithmetic to loads; `medium` (16 × 32, 50.8) pads
 * less; `small` (8 × 8, 38.5) suits small outputs; `thin` (4 × 32, 34.0) outputs with a handful
 * of rows (after choosing the orientation, see {@link matmulPlan}). Before the texels were read
 * through the nearest sampler the smaller tiles, with fewer multiply-adds per load, lagged more
 * (40, 34, 19.5, 16.5). Compiling a tile variant the first time costs ~3.4 s of CPU for `large`,
 * ~1.1 s for `medium` (512³, since the sampler; 5.8 and 1.7 s with `textureLoad`, 15 and 6 s
 * before C was stored a vec4 at a time), under 0.5 s for the others; Mesa keeps the result in its
 * disk cache. The large tile transposes its transposed operands with `mm_pad` instead of reading
 * them as stored: a variant per layout costs one more such compile each (in the tests, every layout
 * and store mode of it), for 5–7 % on such a product (the retrieval shape (5000×512)·(1000×512)ᵀ,
 * bench/README.md "Issue 15, stop 23").
 */
export const MATMUL_TILES: Readonly<Record<TileName, MatmulTile>> = {
  large: { name: "large", rows: 32, cols: 32, group: 8, speed: 1, transposedReads: false },
  medium: { name: "medium", rows: 16, cols: 32, group: 8, speed: 0.96, transposedReads: true },
  small: { name: "small", rows: 8, cols: 8, group: 8, speed: 0.73, transposedReads: true },
  thin: { name: "thin", rows: 4, cols: 32, group: 8, speed: 0.64, transposedReads: true },
};

/**
 * Multiply-adds (m·n·k) from which the large tile is considered: 2^27, e.g. 512³ (on the texture
 * path the large tile measured 49.1 vs 47.6 GFLOP/s for the medium one at 512³, and both 43–47 at
 * the training shape 256 × 512 × 256; bench/README.md "Issue 15, stop 24"). Smaller products (every
 * training-step product of the default model) use the other tiles and skip its compile.
 */
export const LARGE_TILE_MIN_WORK = 2 ** 27;

/** The tile used for large outputs (kept for callers that size work by it). */
export const MATMUL_TILE: MatmulTile = MATMUL_TILES.large;

/** Kernel layouts: A·B, A·Bᵀ, Aᵀ·B, Aᵀ·Bᵀ. */
export type MatmulLayout = "nn" | "nt" | "tn" | "tt";

/** How {@link matmulInto} runs one product on the blocked kernel. */
export interface MatmulPlan {
  /** Kernel path. */
  path: MatmulPath;
  /** Kernel layout actually dispatched. */
  layout: MatmulLayout;
  /** Whether the dual product `Cᵀ = op(B)ᵀ·op(A)ᵀ` runs (operands swapped, C written transposed). */
  dual: boolean;
  /** The tile. */
  tile: MatmulTile;
}

const DUAL: Record<MatmulLayout, MatmulLayout> = { nn: "tt", nt: "nt", tn: "tn", tt: "nn" };
const CORES = Math.max(1, navigator.hardwareConcurrency || 1);

/** Whether the adapter is a CPU rasteriser (llvmpipe, lavapipe, SwiftShader, WARP). */
export function cpuAdapter(name = rt().gpu.adapterName): boolean {
  return /llvmpipe|lavapipe|softpipe|swiftshader|warp|cpu/i.test(name);
}

/**
 * The path forced by `CROSSRANK_MATMUL_OPERANDS` (`texture`, `buffer` or `shared`), else null.
 * Read at each call, so a process may change it; any other value is an error naming the variable.
 */
export function forcedPath(): MatmulPath | null {
  const value = Deno.env.get("CROSSRANK_MATMUL_OPERANDS");
  if (value === undefined || value === "") return null;
  if (!(MATMUL_PATHS as readonly string[]).includes(value)) {
    throw new RangeError(
      `CROSSRANK_MATMUL_OPERANDS=${value}: expected one of ${MATMUL_PATHS.join(", ")}`,
    );
  }
  return value as MatmulPath;
}

/** Plans measured by {@link tuneMatmul}, by shape class ({@link shapeClass}). */
const tuned = new Map<string, MatmulPlan>();

/**
 * The shape class of a product for {@link tuneMatmul}'s cache: the layout and each of m, n, k
 * rounded up to a power of two.
 */
export function shapeClass(layout: MatmulLayout, m: number, n: number, k: number): string {
  const p2 = (x: number) => 2 ** Math.ceil(Math.log2(Math.max(1, x)));
  return `${layout} ${p2(m)}x${p2(n)}x${p2(k)}`;
}

/** Largest texture side, or 0 before the GPU is initialised (then textures are not planned). */
function maxTextureSide(): number {
  try {
    return rt().device.limits.maxTextureDimension2D;
  } catch {
    return 0;
  }
}

/**
 * Whether both operand textures of a texture plan fit the adapter's limits: `layout` computed as
 * its dual when `dual`, with `tile` (an operand read as stored keeps its stored orientation, see
 * `textured`).
 */
function texturesFit(
  layout: MatmulLayout,
  dual: boolean,
  tile: MatmulTile,
  m: number,
  n: number,
  k: number,
): boolean {
  const run = dual ? DUAL[layout] : layout;
  const [rows, cols] = dual ? [n, m] : [m, n];
  const k4 = round4(k);
  const asStored = (x: string) => x === "t" && tile.transposedReads;
  const left = asStored(run[0]) ? [round4(rows) / 4, k4] : [k4 / 4, rows];
  const right = asStored(run[1]) ? [k4 / 4, cols] : [round4(cols) / 4, k4];
  const side = maxTextureSide();
  return [...left, ...right].every((x) => x <= side);
}

/**
 * Chooses the path, orientation and tile for an `m × n × k` product of `layout`. In order: a
 * plan measured by {@link tuneMatmul} for the shape class; the path forced by
 * `CROSSRANK_MATMUL_OPERANDS`; else by adapter: `shared` on GPUs, the register-blocked kernel on
 * CPU adapters, reading its operands through textures when they fit the texture limits. For the
 * blocked kernel the lanes of a workgroup run along the columns, so a thin output is computed as
 * its transpose when that wastes less, and the tile minimises padded work ÷ tile speed, counting
 * idle cores when there are few workgroups.
 */
export function matmulPlan(
  layout: MatmulLayout,
  m: number,
  n: number,
  k = LARGE_TILE_MIN_WORK,
  path: MatmulPath | null = forcedPath(),
): MatmulPlan {
  if (path === null) {
    const measured = tuned.get(shapeClass(layout, m, n, k));
    if (measured) return measured;
    path = cpuAdapter() ? "texture" : "shared";
  }
  if (path === "shared") return { path, layout, dual: false, tile: MATMUL_TILES.medium };
  let best: MatmulPlan | null = null;
  let bestCost = Infinity;
  for (const dual of [false, true]) {
    const [rows, cols] = dual ? [n, m] : [m, n];
    for (const tile of Object.values(MATMUL_TILES)) {
      const p: MatmulPath = path === "texture" && !texturesFit(layout, dual, tile, m, n, k)
        ? "buffer"
        : path;
      // The large tile takes ~3.4 s of llvmpipe JIT per variant on first use (cached on disk
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
        best = { path: p, layout: dual ? DUAL[layout] : layout, dual, tile };
      }
    }
  }
  return best!;
}

/** One candidate's time in {@link TuneResult}. */
export interface TuneTiming {
  /** The plan. */
  plan: MatmulPlan;
  /** Median milliseconds per product. */
  ms: number;
}

/** What {@link tuneMatmul} measured for one shape. */
export interface TuneResult {
  /** The shape class the choice is cached for. */
  shapeClass: string;
  /** The candidates, fastest first. */
  timings: TuneTiming[];
}

/**
 * Measures candidate plans of each `m × n × k` product of `layout` on the current adapter and
 * caches the fastest for its shape class, which {@link matmulPlan} then returns (until
 * {@link clearMatmulTuning}). Candidates: the planned plan of each path that can run the shape
 * (`texture` where the textures fit, `buffer`, `shared`) and its other-orientation twin. Each is
 * run once to compile and warm up, then timed `reps` times; a timing runs 1 to 64 products (about
 * 2^30 multiply-adds in all) before its one GPU wait, so the wait is not what is measured. Costs the
 * compile of every candidate (seconds on llvmpipe, once per process; Mesa caches on disk).
 */
export async function tuneMatmul(
  shapes: readonly { layout?: MatmulLayout; m: number; n: number; k: number }[],
  reps = 3,
): Promise<TuneResult[]> {
  const runtime = rt();
  const results: TuneResult[] = [];
  for (const { layout = "nn", m, n, k } of shapes) {
    const key = shapeClass(layout, m, n, k);
    const candidates = new Map<string, MatmulPlan>();
    for (const path of MATMUL_PATHS) {
      const plan = matmulPlan(layout, m, n, k, path);
      candidates.set(planKey(plan), plan);
      if (path !== "shared") {
        const other = { ...plan, dual: !plan.dual, layout: DUAL[plan.layout] };
        if (other.path !== "texture" || texturesFit(layout, other.dual, other.tile, m, n, k)) {
          candidates.set(planKey(other), other);
        }
      }
    }
    const [aRows, aCols] = layout[0] === "t" ? [k, m] : [m, k];
    const [bRows, bCols] = layout[1] === "t" ? [n, k] : [k, n];
    const a = runtime.pool.acquire(aRows * aCols * 4, "tune A");
    const b = runtime.pool.acquire(bRows * bCols * 4, "tune B");
    const c = runtime.pool.acquire(m * n * 4, "tune C");
    runtime.upload(a, new Float32Array(aRows * aCols).fill(0.5));
    runtime.upload(b, new Float32Array(bRows * bCols).fill(0.25));
    // Enough products per GPU wait that the wait (~11 ms on llvmpipe) is not what is timed:
    // about 2^30 multiply-adds, at most 64 products.
    const perWait = Math.max(1, Math.min(64, Math.round(2 ** 30 / (m * n * k))));
    const timings: TuneTiming[] = [];
    for (const plan of candidates.values()) {
      run(plan, c, a, b, m, n, k);
      await runtime.sync();
      const times: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        for (let i = 0; i < perWait; i++) run(plan, c, a, b, m, n, k);
        await runtime.sync();
        times.push((performance.now() - t0) / perWait);
      }
      times.sort((x, y) => x - y);
      timings.push({ plan, ms: times[times.length >> 1] });
    }
    for (const buffer of [a, b, c]) runtime.pool.release(buffer);
    timings.sort((x, y) => x.ms - y.ms);
    tuned.set(key, timings[0].plan);
    results.push({ shapeClass: key, timings });
  }
  return results;
}

/** Forgets the plans measured by {@link tuneMatmul}. */
export function clearMatmulTuning(): void {
  tuned.clear();
}

/** A plan as text, e.g. `texture large dual` (for messages and tune reports). */
export function planKey(plan: MatmulPlan): string {
  if (plan.path === "shared") return "shared";
  return `${plan.path} ${plan.tile.name}${plan.dual ? " dual" : ""}`;
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
function padded(
  src: GPUBuffer,
  rows: number,
  cols: number,
  rowsP: number,
  colsP: number,
  transposed = false,
) {
  const runtime = rt();
  const out = runtime.pool.acquire(rowsP * colsP * 4, `matmul pad ${rowsP}x${colsP}`);
  MATMUL.dispatch(
    "mm_pad",
    { a: src, c: out },
    { rows, cols, rows_p: rowsP, cols_p: colsP, tr: transposed ? 1 : 0 },
    groups1d(Math.ceil((rowsP * colsP) / 4 / MATMUL.constants.LINE_WG)),
  );
  return out;
}

/**
 * How the blocked kernels store their `m × n` product (pipeline constants of `kernels/matmul.wgsl`
 * and `kernels/matmul_tex.wgsl`): `VROWS` when C is written as is (`tc` false) and its rows come in
 * whole quads (n % 4 = 0), `VCOLS` when it is written transposed and its columns do (m % 4 = 0), a
 * vec4 at a time; otherwise (both 0) element by element. Stores are loops over the lanes on
 * llvmpipe, and the element-by-element code was most of an unrolled kernel's compile.
 *
 * @example
 * ```ts
 * import { storeConstants } from "./matmul.ts";
 * console.log(storeConstants(false, 3, 8)); // { VROWS: 1, VCOLS: 0 }
 * ```
 */
export function storeConstants(
  tc: boolean,
  m: number,
  n: number,
): { VROWS: 0 | 1; VCOLS: 0 | 1 } {
  return { VROWS: !tc && n % 4 === 0 ? 1 : 0, VCOLS: tc && m % 4 === 0 ? 1 : 0 };
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
  const tileConstants = {
    TM: tile.rows,
    NQ: tile.cols / 4,
    WG: tile.group,
    ...storeConstants(tc, m, n),
  };
  const params = { m, n, k, sa: aColsP / 4, sb: bColsP / 4, kc: k4 / 4, tc: tc ? 1 : 0 };
  split(m, n, tile, (r0, g0, groups) => {
    MATMUL.dispatch(`mm_${layout}`, { a, b, c }, { ...params, r0, g0 }, groups, tileConstants);
  });
  for (const s of scratch) runtime.pool.release(s);
}

/** Idle operand textures by size (`w×h`), each with the submit count at its release. */
const textures = new Map<string, { texture: GPUTexture; submits: number }[]>();
const TEXTURE_USAGE = GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST;

/**
 * The side an operand texture of `texels` is allocated with: the next power of two, unless that
 * passes the adapter's limit. llvmpipe compiles a variant of the kernel per combination of
 * power-of-two-or-not texture sides (on Mesa 25 ~30 s of CPU per variant for the medium tile, more
 * for the large one; bench/README.md "Mesa 25 (bookworm-backports) vs Mesa 22"), so allocating
 * powers of two leaves one variant per tile. The kernel reads only the operand's own texels.
 */
export function textureSide(texels: number, limit = maxTextureSide()): number {
  const p2 = 2 ** Math.ceil(Math.log2(Math.max(1, texels)));
  return limit > 0 && p2 > limit ? texels : p2;
}

/**
 * An operand texture of at least `texelsWide × texelsHigh` texels (each side rounded by
 * {@link textureSide}), reused once the batch that last read it has been submitted (the buffer
 * pool's rule).
 */
function acquireTexture(texelsWide: number, texelsHigh: number): GPUTexture {
  const runtime = rt();
  const [width, height] = [textureSide(texelsWide), textureSide(texelsHigh)];
  const list = textures.get(`${width}x${height}`);
  const i = list?.findIndex((t) => t.submits < runtime.stats.submits) ?? -1;
  if (list && i >= 0) return list.splice(i, 1)[0].texture;
  return runtime.device.createTexture({
    size: [width, height],
    format: "rgba32float",
    usage: TEXTURE_USAGE,
    label: `matmul operand ${width}x${height}`,
  });
}

/**
 * Returns a texture of {@link acquireTexture}. Like pooled buffers, textures are kept (as many per
 * size as one batch used at once), never destroyed: recorded work may still read them.
 */
function releaseTexture(texture: GPUTexture): void {
  const key = `${texture.width}x${texture.height}`;
  let list = textures.get(key);
  if (!list) textures.set(key, list = []);
  list.push({ texture, submits: rt().stats.submits });
}

/**
 * Records the packing of a `rows × cols` operand (stored transposed, `cols × rows`, when
 * `transposed`) into a texture of `⌈cols/4⌉ × rowsP` texels, rows zero-padded to `rowsP` and
 * columns to a multiple of 4: a direct copy when the stored rows already are 256-byte multiples,
 * else `mm_pad` (which also transposes) into a scratch buffer with such rows, and a copy.
 */
function operandTexture(
  src: GPUBuffer,
  rows: number,
  cols: number,
  rowsP: number,
  transposed = false,
): GPUTexture {
  const runtime = rt();
  const width = round4(cols) / 4;
  const texture = acquireTexture(width, rowsP);
  if (!transposed && cols % 64 === 0 && rowsP === rows) {
    runtime.copyToTexture(src, cols * 4, texture, width, rows);
    return texture;
  }
  const pitch = Math.ceil(cols / 64) * 64;
  const scratch = padded(src, rows, cols, rowsP, pitch, transposed);
  runtime.copyToTexture(scratch, pitch * 4, texture, width, rowsP);
  runtime.pool.release(scratch);
  return texture;
}

/**
 * Records the texture path for an `m × n × k` product of `a` and `b` (stored as `layout` says),
 * writing C transposed when `tc`, with `tile`; `dot`: the `DOT` arithmetic (an `nt` product on a
 * tile that reads B as stored, see `kernels/matmul_tex.wgsl`).
 */
function textured(
  c: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  layout: MatmulLayout,
  tile: MatmulTile,
  m: number,
  n: number,
  k: number,
  tc: boolean,
  dot = false,
): void {
  const k4 = round4(k);
  // A transposed operand is read as stored (LT, RT) where the tile allows, else transposed by
  // mm_pad; k-indexed rows are zero-padded to K4.
  const [ta, tb] = [layout[0] === "t", layout[1] === "t"];
  const [lt, rtr] = [ta && tile.transposedReads, tb && tile.transposedReads];
  if (dot && (lt || !rtr)) {
    throw new RangeError(
      `matmul: the DOT arithmetic needs A·Bᵀ with B read as stored, not ${layout}`,
    );
  }
  const left = lt ? operandTexture(a, k, m, k4) : operandTexture(a, m, k, m, ta);
  const right = rtr ? operandTexture(b, n, k, n) : operandTexture(b, k, n, k4, tb);
  const constants = {
    TM4: tile.rows / 4,
    NQ: tile.cols / 4,
    WG: tile.group,
    LT: lt ? 1 : 0,
    RT: rtr ? 1 : 0,
    DOT: dot ? 1 : 0,
    ...storeConstants(tc, m, n),
  };
  const views = { ta: left.createView(), tb: right.createView(), c };
  split(m, n, tile, (r0, g0, groups) => {
    MATMUL_TEX.dispatch(
      "mt_blocked",
      views,
      { m, n, kc: k4 / 4, tc: tc ? 1 : 0, r0, g0 },
      groups,
      constants,
    );
  });
  releaseTexture(left);
  releaseTexture(right);
}

/**
 * Calls `dispatch(r0, g0, groups)` for the blocks of an `m × n` output in `tile`, split into
 * dispatches of at most {@link MAX_GROUPS} workgroups per dimension (huge M or N only); `r0` is
 * the first row and `g0` the first vec4 column group.
 */
function split(
  m: number,
  n: number,
  tile: { rows: number; cols: number; group: number },
  dispatch: (r0: number, g0: number, groups: readonly [number, number]) => void,
): void {
  const groupsX = Math.ceil(n / (tile.cols * tile.group));
  const groupsY = Math.ceil(m / tile.rows);
  for (let gy = 0; gy < groupsY; gy += MAX_GROUPS) {
    for (let gx = 0; gx < groupsX; gx += MAX_GROUPS) {
      dispatch(gy * tile.rows, (gx * tile.cols * tile.group) / 4, [
        Math.min(MAX_GROUPS, groupsX - gx),
        Math.min(MAX_GROUPS, groupsY - gy),
      ]);
    }
  }
}

/** The block of one `mm_shared` workgroup: 64 × 64 outputs (as a tile for {@link split}). */
const SHARED_BLOCK = { rows: 64, cols: 4, group: 16 };

/** Records the workgroup-memory kernel `mm_shared` for `c = op(a) · op(b)` (`layout`). */
function shared(
  c: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  layout: MatmulLayout,
  m: number,
  n: number,
  k: number,
): void {
  const ta = layout[0] === "t" ? 1 : 0;
  const tb = layout[1] === "t" ? 1 : 0;
  split(m, n, SHARED_BLOCK, (r0, g0, groups) => {
    MATMUL.dispatch("mm_shared", { a, b, c }, { m, n, k, ta, tb, r0, g0 }, groups);
  });
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

/** The plan {@link matmulInto} runs: the forced one, else {@link matmulPlan}'s. */
export function planOf(
  layout: MatmulLayout,
  m: number,
  n: number,
  k: number,
  forced?: ForcedPlan,
): MatmulPlan {
  if (!forced) return matmulPlan(layout, m, n, k);
  const path = forced.path ?? matmulPlan(layout, m, n, k).path;
  if (path === "shared") return { path, layout, dual: false, tile: MATMUL_TILES[forced.tile] };
  if (path === "texture" && !texturesFit(layout, forced.dual, MATMUL_TILES[forced.tile], m, n, k)) {
    throw new RangeError(
      `matmul: the texture path cannot hold a ${m}×${n}×${k} product (operand textures beyond ` +
        `maxTextureDimension2D ${maxTextureSide()})`,
    );
  }
  return {
    path,
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
  dot = false,
) {
  if (plan.path === "shared") {
    shared(c, a, b, plan.layout, m, n, k);
    return;
  }
  // Dual: Cᵀ = op(B)ᵀ·op(A)ᵀ, B is the left operand, A the right one, C is written transposed.
  const [left, right, rows, cols] = plan.dual ? [b, a, n, m] : [a, b, m, n];
  const { layout, tile, dual } = plan;
  if (plan.path === "texture") {
    textured(c, left, right, layout, tile, rows, cols, k, dual, dot);
  } else {
    // The storage-buffer kernel's A·Bᵀ already adds one dot per vec4 of k.
    blocked(c, left, right, layout, tile, rows, cols, k, dual);
  }
}

/**
 * Records `C = A·Bᵀ` (`m × n`, row-major) for buffers of rows already padded to `k` floats, `k` a
 * multiple of 4 (A `m × k`, B `n × k`), adding one `dot` per vec4 of k in order, as
 * {@link rowDotsInto} does: retrieval's blocks of scores, whose entries its pair scores equal bit for
 * bit. On CPU adapters the texture kernel with `DOT` on a tile that reads B as stored (the large
 * tile does not: the medium one instead), where the textures fit; else, and on GPUs, the
 * storage-buffer kernel, tile as {@link matmulPlan} plans it. `forced` forces a plan (tests; path
 * `buffer` unless it says `texture`).
 */
export function matmulNtInto(
  c: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  m: number,
  n: number,
  k: number,
  forced?: ForcedPlan,
): void {
  if (k % 4 !== 0) throw new RangeError(`matmulNtInto: k = ${k} is not a multiple of 4`);
  if (m === 0 || n === 0 || k === 0) return;
  run(ntDotPlan(m, n, k, forced), c, a, b, m, n, k, true);
}

/** The plan of {@link matmulNtInto}: one whose arithmetic is `mm_nt_rows`'s (see there). */
function ntDotPlan(m: number, n: number, k: number, forced?: ForcedPlan): MatmulPlan {
  if (forced) {
    const plan = planOf("nt", m, n, k, { path: "buffer", ...forced });
    if (plan.path === "shared" || (plan.path === "texture" && !plan.tile.transposedReads)) {
      throw new RangeError(
        `matmulNtInto: plan ${planKey(plan)} does not add one dot per vec4 of k (on the texture ` +
          "path: medium, small or thin)",
      );
    }
    return plan;
  }
  if (!cpuAdapter()) return matmulPlan("nt", m, n, k, "buffer");
  const plan = matmulPlan("nt", m, n, k, "texture");
  if (plan.path !== "texture" || plan.tile.transposedReads) return plan;
  const medium = { ...plan, tile: MATMUL_TILES.medium };
  return texturesFit("nt", plan.dual, medium.tile, m, n, k)
    ? medium
    : matmulPlan("nt", m, n, k, "buffer");
}

/**
 * Records `c[offset + i] = <row i of A, row i of B>` for `i < m` (rows of `k` floats, `k` a
 * multiple of 4): the diagonal of `A·Bᵀ`, each value equal bit for bit to that entry of
 * {@link matmulNtInto} (the same arithmetic, whatever the tile, on the storage-buffer path it
 * uses unless forced: see `mm_nt_rows`).
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
  forcedPath(); // a bad CROSSRANK_MATMUL_OPERANDS throws before the output is allocated
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
