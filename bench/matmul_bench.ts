/**
 * `C = op(A)·op(B)` on the GPU adapter: the register-blocked kernel (`kernels/matmul.wgsl`) against
 * the naive one-output-per-invocation kernel (`kernels/matmul_naive.wgsl`) and, at 512³, the CPU
 * reference (`src/reference/matmul.ts`, float64 JavaScript).
 *
 * Amortised timing: every GPU wait costs a fixed ~11 ms on llvmpipe, so each bench call records R
 * products (R `matmulInto` dispatches into one batch) and then waits once with `rt().sync()`. R is
 * fixed per group, so every case of a group does the same work per call and the ratios Deno prints
 * are speed ratios; R is chosen so one call of the blocked kernel takes ≥ 100 ms. The CPU reference
 * also computes R products per call. Deno's warm-up call (its time is not reported) compiles the
 * pipelines with one product: the real one for the blocked kernel, a 64³ one for the naive kernel
 * and the CPU reference, which need seconds per large product (the file must stay within about
 * two minutes).
 *
 * After the last case a table prints, per case, the median time per product and GFLOP/s (median
 * and best call, 2·M·N·K FLOP per product, from this file's own timing of the same calls Deno
 * times), the speed relative to the group's first case, and how many CPU cores the process kept
 * busy: the machine may be shared, GFLOP/s falls when other processes take the cores, and the
 * last column scales the result to an idle machine.
 *
 * Run: `deno bench -A bench/matmul_bench.ts`: about 70 s on an idle 2-core machine, most of it the
 * naive kernel (~0.5 GFLOP/s), plus ~1 min the first time while Mesa compiles and caches the
 * blocked kernel's pipelines.
 *
 * @module
 */

import process from "node:process";
import { initGpu, rt } from "../src/gpu/runtime.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { type ForcedPlan, matmulInto, type MatmulOptions } from "../src/ops/matmul.ts";
import { matmulRef } from "../src/reference/matmul.ts";
import { printTable } from "./util.ts";

await initGpu();

/** One case's shape and layout: C is M × N, the inner dimension K. */
interface Shape {
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
}

/** Measured calls of one case (the warm-up call is not recorded). */
interface CaseTimes {
  group: string;
  name: string;
  reps: number;
  flop: number;
  wallMs: number[];
  cpuMs: number[];
}

const cases: CaseTimes[] = [];

/** Seeded uniform values in [-1, 1) (a small LCG: reproducible, fast for 2.5 M values). */
function seeded(n: number, seed: number): Float32Array<ArrayBuffer> {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/** GPU operands of `shape`, stored as the layout says (A is K × M when transposed, etc.). */
function operands(shape: Shape, seed: number) {
  const { m, n, k, transA = false, transB = false } = shape;
  const a = seeded(m * k, seed);
  const b = seeded(k * n, seed + 1);
  return {
    a,
    b,
    ta: Tensor.from(a, transA ? [k, m] : [m, k], { label: "A" }),
    tb: Tensor.from(b, transB ? [n, k] : [k, n], { label: "B" }),
    tc: new Tensor([m, n], { label: "C" }),
  };
}

const tag = (s: Shape) => `${s.transA ? "Aᵀ" : "A"}·${s.transB ? "Bᵀ" : "B"}`;

/**
 * Registers one case: Deno's warm-up call runs `warm()`, every measured call runs `body(reps)` and
 * records its wall and CPU time.
 */
function benchCase(
  group: string,
  name: string,
  shape: Shape,
  reps: number,
  n: number,
  baseline: boolean,
  warm: () => Promise<void> | void,
  body: (reps: number) => Promise<void> | void,
): void {
  const times: CaseTimes = {
    group,
    name,
    reps,
    flop: 2 * shape.m * shape.n * shape.k,
    wallMs: [],
    cpuMs: [],
  };
  cases.push(times);
  let warmed = false;
  Deno.bench({
    name,
    group,
    baseline,
    warmup: 0, // Deno still makes one warm-up call
    n,
    async fn() {
      if (!warmed) {
        // Deno repeats warm-up calls until 10 ms have passed: make this one call last longer.
        warmed = true;
        const t0 = performance.now();
        await warm();
        const rest = 12 - (performance.now() - t0);
        if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
        return;
      }
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await body(reps);
      const c1 = process.cpuUsage(c0);
      times.wallMs.push(performance.now() - t0);
      times.cpuMs.push((c1.user + c1.system) / 1000);
    },
  });
}

/** A GPU case: `reps` products recorded into one batch, then one wait. */
function gpuCase(
  group: string,
  shape: Shape,
  kernel: "blocked" | "naive",
  reps: number,
  n: number,
  baseline = false,
  plan?: ForcedPlan,
): void {
  const { ta, tb, tc } = operands(shape, 11);
  const options: MatmulOptions = { transA: shape.transA, transB: shape.transB, kernel, plan };
  const what = plan ? `${plan.path} ${plan.tile}${plan.dual ? " dual" : ""}` : kernel;
  const name = `${what} ${tag(shape)} ${shape.m}×${shape.n}×${shape.k} ×${reps}`;
  // The naive kernel has one pipeline: warm it up on a small product. The blocked kernel picks its
  // entry point by shape, so warm it up on the real one (it is quick).
  const small = kernel === "naive" ? operands({ ...shape, m: 64, n: 64, k: 64 }, 5) : null;
  const warm = async () => {
    if (small) matmulInto(small.tc, small.ta, small.tb, options);
    else matmulInto(tc, ta, tb, options);
    await rt().sync();
  };
  benchCase(group, name, shape, reps, n, baseline, warm, async (r) => {
    for (let i = 0; i < r; i++) matmulInto(tc, ta, tb, options);
    await rt().sync();
  });
}

/** The CPU reference (float64 JavaScript, one thread) on the same shape. */
function cpuCase(group: string, shape: Shape, reps: number, n: number): void {
  const { a, b, ta, tb, tc } = operands(shape, 11);
  [ta, tb, tc].forEach((t) => t.dispose());
  const { m, n: cols, k, transA = false, transB = false } = shape;
  const warm = () => {
    matmulRef(a, b, 64, 64, 64, transA, transB);
  };
  benchCase(group, `CPU reference ${tag(shape)} ×${reps}`, shape, reps, n, false, warm, (r) => {
    for (let i = 0; i < r; i++) matmulRef(a, b, m, cols, k, transA, transB);
  });
}

// R per group: one call of the blocked kernel takes ≥ 100 ms on an idle 2-core machine (~40 GFLOP/s
// at 1024³). Deno makes n + 1 measured calls for calls over 10 ms.

// 512³, A·B: ~7 ms per blocked product.
const s512: Shape = { m: 512, n: 512, k: 512 };
const g512 = "512³ A·B, 16 products per call";
gpuCase(g512, s512, "naive", 16, 1, true);
gpuCase(g512, s512, "blocked", 16, 5);
cpuCase(g512, s512, 16, 1);

// 1024³, A·B: ~55 ms per blocked product.
const s1024: Shape = { m: 1024, n: 1024, k: 1024 };
const g1024 = "1024³ A·B, 2 products per call";
gpuCase(g1024, s1024, "naive", 2, 1, true);
gpuCase(g1024, s1024, "blocked", 2, 5);

// Retrieval: 5000 queries × 1000 items, 512-d embeddings, scores = Q·Iᵀ (~130 ms blocked).
const sRet: Shape = { m: 5000, n: 1000, k: 512, transB: true };
const gRet = "retrieval (5000×512)·(1000×512)ᵀ, 1 product per call";
gpuCase(gRet, sRet, "naive", 1, 1, true);
gpuCase(gRet, sRet, "blocked", 1, 5);

// The four layouts of the blocked kernel at 1024³ (the autodiff uses A·B, A·Bᵀ and Aᵀ·B).
const gLayouts = "blocked layouts 1024³, 2 products per call";
gpuCase(gLayouts, s1024, "blocked", 2, 4, true);
gpuCase(gLayouts, { ...s1024, transB: true }, "blocked", 2, 4);
gpuCase(gLayouts, { ...s1024, transA: true }, "blocked", 2, 4);
gpuCase(gLayouts, { ...s1024, transA: true, transB: true }, "blocked", 2, 4);

// Training shapes of a 512 → 256 linear head at batch 512 (forward, input gradient, weight
// gradient); each is 2·512·512·256 FLOP, so the ratios compare equal work (~4 ms per product).
const gTrain = "blocked training shapes (134 MFLOP each), 32 products per call";
gpuCase(gTrain, { m: 512, n: 256, k: 512 }, "blocked", 32, 4, true);
gpuCase(gTrain, { m: 256, n: 512, k: 512, transB: true }, "blocked", 32, 4);
gpuCase(gTrain, { m: 512, n: 256, k: 512, transA: true }, "blocked", 32, 4);

// Operand paths and tiles forced (texture vs storage buffer, bench/README.md "matmul operands
// through textures"): 512³, 1024³ and the training shape 256×512×256.
const gPaths512 = "operand paths 512³, 16 products per call";
gpuCase(gPaths512, s512, "blocked", 16, 3, true, { path: "buffer", tile: "medium", dual: false });
gpuCase(gPaths512, s512, "blocked", 16, 3, false, { path: "buffer", tile: "large", dual: false });
gpuCase(gPaths512, s512, "blocked", 16, 3, false, { path: "texture", tile: "medium", dual: false });
gpuCase(gPaths512, s512, "blocked", 16, 3, false, { path: "texture", tile: "large", dual: false });
const gPaths1024 = "operand paths 1024³, 2 products per call";
gpuCase(gPaths1024, s1024, "blocked", 2, 3, true, { path: "buffer", tile: "large", dual: false });
gpuCase(gPaths1024, s1024, "blocked", 2, 3, false, { path: "texture", tile: "large", dual: false });
const sTrain: Shape = { m: 256, n: 256, k: 512 };
const gPathsTrain = "operand paths 256×512×256 (training), 32 products per call";
for (const path of ["buffer", "texture"] as const) {
  for (const tile of ["medium", "small", "thin"] as const) {
    for (const dual of [false, true]) {
      gpuCase(
        gPathsTrain,
        sTrain,
        "blocked",
        32,
        3,
        path === "buffer" && tile === "medium" && !dual,
        {
          path,
          tile,
          dual,
        },
      );
    }
  }
}

function median(values: readonly number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * The summary table, one section per group: per case, time per product, GFLOP/s (median and best
 * call), speed relative to the group's first case, the cores the process kept busy and, for
 * a shared machine, the GFLOP/s scaled to every core (GPU cases) or one core (the CPU reference).
 */
function table(): string {
  const cpus = navigator.hardwareConcurrency;
  const header = [
    "case",
    "calls",
    "ms/product",
    "GFLOP/s",
    "best",
    "× first",
    "cores",
    "idle est.",
  ];
  const out = [
    "== matmul: GFLOP/s = 2·M·N·K ÷ wall time per product (median call; warm-up not counted) ==",
  ];
  for (const group of new Set(cases.map((c) => c.group))) {
    const lines: string[][] = [];
    let first = 0;
    for (const c of cases.filter((x) => x.group === group && x.wallMs.length > 0)) {
      const ms = median(c.wallMs) / c.reps;
      const gflops = c.flop / ms / 1e6;
      first ||= gflops;
      const cores = c.cpuMs.reduce((x, y) => x + y, 0) / c.wallMs.reduce((x, y) => x + y, 0);
      const usable = c.name.startsWith("CPU") ? 1 : cpus;
      lines.push([
        c.name,
        String(c.wallMs.length),
        ms.toFixed(1),
        gflops.toFixed(2),
        (c.flop / (Math.min(...c.wallMs) / c.reps) / 1e6).toFixed(2),
        `${(gflops / first).toFixed(1)}×`,
        cores.toFixed(2),
        (gflops * usable / Math.max(cores, 1e-9)).toFixed(1),
      ]);
    }
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const fmt = (cells: string[]) =>
      cells.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join("  ");
    out.push("", group, fmt(header), ...lines.map(fmt));
  }
  out.push(
    "",
    `adapter: ${rt().gpu.adapterName}; ${cpus} CPUs; load average at the end ` +
      Deno.loadavg().map((x) => x.toFixed(1)).join(" "),
    "cores: CPU time of this process ÷ wall time. llvmpipe runs on every core, so fewer busy cores",
    "mean other processes shared the machine; idle est. = GFLOP/s × usable cores ÷ cores (an",
    "estimate for an idle machine: " + cpus + " cores for the GPU, 1 for the CPU reference).",
  );
  return out.join("\n");
}

globalThis.addEventListener("unload", () => printTable(table()));
