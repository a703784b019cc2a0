/**
 * Shared helpers for the `deno bench` files: seeded inputs, amortised bench cases and a throughput
 * table printed once at the end of the run.
 *
 * Why amortise: every GPU wait (`onSubmittedWorkDone`, `mapAsync`) costs a fixed ~11 ms on
 * llvmpipe, so a bench call that waits after every product measures the wait, not the kernel. An
 * {@link amortisedBench} call records `reps` units of work (products, training steps) and waits
 * once; Deno's per-call time is then `reps` units plus one wait, and the table divides by `reps`.
 *
 * Why a table of our own: `deno bench` prints time per call and, within a group, each case's
 * ratio to the group's baseline, but no throughput. {@link BenchReport} keeps every call's wall
 * time (the same calls Deno measures), and prints, per case, the median time per unit, the
 * throughput (GFLOP/s, steps/s, …) and the speed ratio baseline ÷ case, when the module unloads.
 *
 * @example
 * ```ts
 * import { amortisedBench, BenchReport } from "./util.ts";
 * const report = new BenchReport("example").printOnUnload();
 * amortisedBench(report, {
 *   group: "sum 1e6",
 *   name: "plain loop",
 *   baseline: true,
 *   reps: 4,
 *   work: 1e6,
 *   unit: "Gelem/s",
 *   scale: 1e9,
 *   run: (reps) => {
 *     for (let r = 0; r < reps; r++) { let s = 0; for (let i = 0; i < 1e6; i++) s += i; }
 *     return Promise.resolve();
 *   },
 * });
 * ```
 *
 * @module
 */

/**
 * A seeded generator of uniform numbers in [0, 1) (mulberry32, the project's one generator): the
 * same seed gives the same sequence on every machine, so bench inputs are reproducible.
 */
import process from "node:process";
import { seededRandom } from "../src/util/random.ts";
import { rt } from "../src/gpu/runtime.ts";
import { backward, zeroGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor, untracked } from "../src/autodiff/tensor.ts";
import { rankingLossTensor } from "../src/losses/mod.ts";
import type { NeuralNdcgOptions } from "../src/losses/neuralndcg.ts";

export const seededUniform: (seed: number) => () => number = seededRandom;

/** `n` seeded standard-normal values times `scale` (Box–Muller over {@link seededUniform}). */
export function seededNormal(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  const next = seededUniform(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - next(); // (0, 1]: log(u) is finite
    const r = Math.sqrt(-2 * Math.log(u)) * scale;
    const a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

/**
 * `rows × cols` seeded Glorot-uniform weights, `U(−l, l)` with `l = √(6 / (rows + cols))`, the
 * initialiser of crossrank's linear heads.
 */
export function seededGlorot(rows: number, cols: number, seed: number): Float32Array<ArrayBuffer> {
  const next = seededUniform(seed);
  const limit = Math.sqrt(6 / (rows + cols));
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = (2 * next() - 1) * limit;
  return out;
}

/**
 * The InfoNCE (CLIP) training step's shapes: batch 256, 512 → 256 linear heads, logits scaled by
 * 1/0.07. One definition for `train_bench.ts`, `peers/peers_bench.ts` and `mesa/step_split.ts`
 * (`peers/numpy_step.py` states the same in Python).
 */
export const INFONCE = { batch: 256, dIn: 512, dOut: 256, logitScale: 1 / 0.07 } as const;

/** The InfoNCE step's optimiser: Adam (AdamW without weight decay), as numpy's and tfjs's steps. */
export const INFONCE_ADAM = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
} as const;

/** The InfoNCE step's seeded starting point, as arrays (what every implementation uploads). */
export interface InfoNceInit {
  /** `[batch, dIn]` text features, N(0, 1), seed 21. */
  text: Float32Array<ArrayBuffer>;
  /** `[batch, dIn]` image features, N(0, 1), seed 22. */
  image: Float32Array<ArrayBuffer>;
  /** `[dIn, dOut]` Glorot text head, seed 23 (its bias starts at 0). */
  textW: Float32Array<ArrayBuffer>;
  /** `[dIn, dOut]` Glorot image head, seed 24 (its bias starts at 0). */
  imageW: Float32Array<ArrayBuffer>;
}

/** The InfoNCE step's inputs and initial weights ({@link INFONCE}'s shapes, seeds 21–24). */
export function infoNceInit(): InfoNceInit {
  const { batch, dIn, dOut } = INFONCE;
  return {
    text: seededNormal(batch * dIn, 21),
    image: seededNormal(batch * dIn, 22),
    textW: seededGlorot(dIn, dOut, 23),
    imageW: seededGlorot(dIn, dOut, 24),
  };
}

/** The InfoNCE step on crossrank tensors, as {@link infoNceTensors} uploads it. */
export interface InfoNceTensors {
  /** The features (untracked: they outlive every step's scope). */
  text: Tensor;
  image: Tensor;
  /** The heads' parameters; the biases start at 0. */
  textW: Tensor;
  textB: Tensor;
  imageW: Tensor;
  imageB: Tensor;
  /** `[batch, batch]` identity labels: caption i's one relevant image is image i. */
  labels: Tensor;
}

/** Uploads `init` ({@link infoNceInit} by default) as the tensors of the InfoNCE step. */
export function infoNceTensors(init: InfoNceInit = infoNceInit()): InfoNceTensors {
  const { batch, dIn, dOut } = INFONCE;
  const eye = new Float32Array(batch * batch);
  for (let i = 0; i < batch; i++) eye[i * batch + i] = 1;
  const [text, image, labels] = untracked(() => [
    Tensor.from(init.text, [batch, dIn], { label: "text features" }),
    Tensor.from(init.image, [batch, dIn], { label: "image features" }),
    Tensor.from(eye, [batch, batch], { label: "identity labels" }),
  ]);
  return {
    text,
    image,
    textW: Tensor.param(init.textW, [dIn, dOut], "text.W"),
    textB: Tensor.param(new Float32Array(dOut), [dOut], "text.b"),
    imageW: Tensor.param(init.imageW, [dIn, dOut], "image.W"),
    imageB: Tensor.param(new Float32Array(dOut), [dOut], "image.b"),
    labels,
  };
}

/** One bench case's measured calls, as kept by {@link BenchReport}. */
export interface BenchCase {
  /** Deno bench group (one shape or one workload). */
  group: string;
  /** Case name as Deno prints it. */
  name: string;
  /** Whether this case is the group's baseline (ratios are relative to it). */
  baseline: boolean;
  /** Units of work (products, steps) recorded per call. */
  reps: number;
  /** Work per unit in `unit × scale` terms, e.g. 2·M·N·K FLOP per product. */
  work: number;
  /** Throughput unit printed in the table, e.g. `GFLOP/s` or `steps/s`. */
  unit: string;
  /** Divisor turning work per second into `unit` (1e9 for GFLOP/s, 1 for steps/s). */
  scale: number;
  /** Wall time of every call in ms; the first call is Deno's warm-up (compiles pipelines). */
  times: number[];
}

/** A summary row of {@link BenchReport.rows}. */
export interface BenchRow {
  /** Deno bench group. */
  group: string;
  /** Case name. */
  name: string;
  /** Calls used (all but the warm-up). */
  calls: number;
  /** Median time per unit of work (ms), over the calls used. */
  msPerUnit: number;
  /** Work per second in the case's unit. */
  throughput: number;
  /** The case's unit, e.g. `GFLOP/s`. */
  unit: string;
  /** Baseline speed ÷ this case's speed (= this time ÷ baseline time); 1 for the baseline. */
  baselineRatio: number | null;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Collects the measured calls of bench cases and prints a throughput table. */
export class BenchReport {
  /** Title printed above the table. */
  readonly title: string;
  /** The cases, in registration order. */
  readonly cases: BenchCase[] = [];
  /** Free-form lines printed under the table (versions, checks, notes). */
  readonly notes: string[] = [];
  /** Header of the ratio column. */
  readonly ratioHeader: string;

  /**
   * @param title printed above the table
   * @param ratioHeader header of the ratio column (baseline speed ÷ case speed), e.g.
   *   `crossrank/peer speed` when crossrank is every group's baseline
   */
  constructor(title: string, ratioHeader = "baseline/case speed") {
    this.title = title;
    this.ratioHeader = ratioHeader;
  }

  /** Adds a case (done by {@link amortisedBench}); returns it so calls can append times. */
  add(c: Omit<BenchCase, "times">): BenchCase {
    const full = { ...c, times: [] };
    this.cases.push(full);
    return full;
  }

  /**
   * Summary rows of every case that ran at least twice: the first call (Deno's warm-up, which
   * also compiles pipelines) is dropped and the median of the rest is used.
   */
  rows(): BenchRow[] {
    const rows: BenchRow[] = [];
    for (const c of this.cases) {
      const used = c.times.length > 1 ? c.times.slice(1) : [];
      if (used.length === 0) continue;
      const msPerUnit = median(used) / c.reps;
      rows.push({
        group: c.group,
        name: c.name,
        calls: used.length,
        msPerUnit,
        throughput: c.work / (msPerUnit / 1000) / c.scale,
        unit: c.unit,
        baselineRatio: null,
      });
    }
    for (const row of rows) {
      const base = this.cases.find((c) => c.group === row.group && c.baseline);
      const baseRow = base && rows.find((r) => r.group === row.group && r.name === base.name);
      if (baseRow) row.baselineRatio = row.msPerUnit / baseRow.msPerUnit;
    }
    return rows;
  }

  /**
   * The table as text: one line per case with ms per unit, throughput, and the speed of the
   * group's baseline divided by the case's speed (>1: the baseline is faster; 1 for the baseline).
   */
  table(): string {
    const rows = this.rows();
    const header = ["group", "case", "calls", "ms/unit", "throughput", this.ratioHeader];
    const lines = rows.map((r) => [
      r.group,
      r.name,
      String(r.calls),
      r.msPerUnit.toFixed(1),
      `${r.throughput.toPrecision(3)} ${r.unit}`,
      r.baselineRatio === null ? "-" : `${r.baselineRatio.toFixed(2)}×`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
    return [
      `== ${this.title} ==`,
      fmt(header),
      fmt(widths.map((w) => "-".repeat(w))),
      ...lines.map(fmt),
      ...this.notes,
    ].join("\n");
  }

  /** Prints {@link table} when the module unloads (after the last bench). Returns `this`. */
  printOnUnload(): this {
    globalThis.addEventListener("unload", () => printTable(this.table()));
    return this;
  }
}

/**
 * Prints a bench's summary table: to stdout, or to stderr when `CROSSRANK_BENCH_TABLES=stderr`
 * (set by `deno task bench:record`, whose stdout must stay pure `deno bench --json` output).
 */
export function printTable(table: string): void {
  if (Deno.env.get("CROSSRANK_BENCH_TABLES") === "stderr") console.error(`\n${table}`);
  else console.log(`\n${table}`);
}

/** Options of {@link amortisedBench}. */
export interface AmortisedBenchOptions {
  /** Deno bench group. */
  group: string;
  /** Case name. */
  name: string;
  /** Whether this case is the group's baseline. */
  baseline?: boolean;
  /** Units of work per call: `run` records this many, then waits once. Same for a whole group. */
  reps: number;
  /** Work per unit (e.g. 2·M·N·K FLOP). */
  work: number;
  /** Throughput unit, e.g. `GFLOP/s`. */
  unit: string;
  /** Divisor from work/s to `unit`; default 1. */
  scale?: number;
  /**
   * Measured calls after the warm-up call (Deno runs `n + 1` for cases slower than 10 ms).
   * Default 2.
   */
  n?: number;
  /** Untimed preparation before each call (e.g. `tf.setBackend`), excluded via `b.start()`. */
  before?: () => Promise<void> | void;
  /** Records `reps` units of work and waits until all of them have executed (one wait). */
  run: (reps: number) => Promise<void>;
  /** Skip the case (with a reason printed in the table notes). */
  ignore?: string | false;
}

/**
 * Registers one `Deno.bench` case whose every call records `reps` units and waits once, and keeps
 * its call times in `report`. Uses one warm-up call (`warmup: 0`) and `n + 1` measured calls, so
 * slow GPU cases stay within the time budget.
 */
export function amortisedBench(report: BenchReport, o: AmortisedBenchOptions): void {
  if (!Number.isInteger(o.reps) || o.reps < 1) {
    throw new RangeError(`amortisedBench ${o.name}: reps must be an integer ≥ 1, got ${o.reps}`);
  }
  const c = report.add({
    group: o.group,
    name: o.name,
    baseline: o.baseline ?? false,
    reps: o.reps,
    work: o.work,
    unit: o.unit,
    scale: o.scale ?? 1,
  });
  if (o.ignore) report.notes.push(`skipped ${o.name}: ${o.ignore}`);
  Deno.bench({
    name: o.name,
    group: o.group,
    baseline: o.baseline ?? false,
    ignore: Boolean(o.ignore),
    warmup: 0,
    n: o.n ?? 2,
    async fn(b) {
      if (o.before) await o.before();
      b.start();
      const t0 = performance.now();
      await o.run(o.reps);
      c.times.push(performance.now() - t0);
      b.end();
    },
  });
}

/**
 * Seeded ranking lists for the NeuralSort family's benches: `lists × n` N(0, 1) scores (a
 * parameter) and labels 0…4 on ~20 % of the items, else 0.
 */
export function rankingLists(lists: number, n: number, seed: number) {
  const u = seededUniform(seed);
  const labels = new Float32Array(lists * n).map(() => u() < 0.2 ? Math.floor(u() * 5) : 0);
  return {
    scores: Tensor.param(seededNormal(lists * n, seed), [lists, n], `scores ${lists}x${n}`),
    labels: Tensor.from(labels, [lists, n], { label: `labels ${lists}x${n}` }),
  };
}

/**
 * Bench cases of the NeuralSort family over `lists × n` lists (throughput in lists/s). Deno's
 * warm-up call of each case runs its work on 2 lists (it compiles the pipelines), so only the
 * measured calls are full size; each records one unit of work and waits once.
 */
export function listCases(
  report: BenchReport,
  group: string,
  lists: number,
  n: number,
  entries: { name: string; baseline?: boolean; work: (s: Tensor, y: Tensor) => void }[],
): void {
  const data = rankingLists(lists, n, lists);
  const small = rankingLists(2, n, 99);
  for (const e of entries) {
    let warmed = false;
    amortisedBench(report, {
      group,
      name: `${e.name} ${group}`,
      baseline: e.baseline,
      reps: 1,
      work: lists,
      unit: "lists/s",
      n: 1,
      run: async () => {
        const { scores, labels } = warmed ? data : small;
        warmed = true;
        e.work(scores, labels);
        await rt().sync();
        zeroGrad([scores]);
      },
    });
  }
}

/**
 * A seeded retrieval collection of `dim`-d embeddings: caption t is a noisy copy of image
 * `t * stride` (the other images are distractors).
 */
export function retrievalCollection(numTexts: number, numImages: number, seed: number, dim = 512) {
  const images = seededNormal(numImages * dim, seed);
  const noise = seededNormal(numTexts * dim, seed + 1, 1.5);
  const stride = Math.floor(numImages / Math.min(numTexts, numImages));
  const textToImage = Int32Array.from(
    { length: numTexts },
    (_, t) => (t % Math.min(numTexts, numImages)) * stride,
  );
  const texts = new Float32Array(numTexts * dim);
  for (let t = 0; t < numTexts; t++) {
    for (let k = 0; k < dim; k++) {
      texts[t * dim + k] = images[textToImage[t] * dim + k] + noise[t * dim + k];
    }
  }
  return { texts, images, textToImage, textDim: dim, imageDim: dim };
}

/**
 * A Deno bench case of GPU work: each call records `work` `reps` times and waits for the GPU once
 * (the fixed ~11 ms wait amortised over the repetitions).
 */
export function gpuBench(o: {
  name: string;
  group: string;
  baseline?: boolean;
  reps?: number;
  n?: number;
  work: () => void;
}): void {
  const reps = o.reps ?? 1;
  Deno.bench({
    name: o.name,
    group: o.group,
    baseline: o.baseline,
    n: o.n ?? 5,
    warmup: 1,
    async fn() {
      for (let r = 0; r < reps; r++) o.work();
      await rt().sync();
    },
  });
}

/** A loss configuration of the loss benches. */
export interface LossBenchCase {
  name: string;
  options: Record<string, unknown>;
}

/** Seeded in-batch data: scores in [−2, 2), the diagonal and ~1 % more items relevant. */
function inBatch(n: number): { scores: Float32Array; labels: Float32Array } {
  let seed = n;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const scores = new Float32Array(n * n).map(() => next() * 4 - 2);
  const labels = new Float32Array(n * n).map((_, i) =>
    i % n === Math.floor(i / n) || next() < 0.01 ? 1 : 0
  );
  return { scores, labels };
}

/**
 * Forward + backward of each loss case at (lists × items) 256 × 256 and 1024 × 1024, each size one
 * group with `softmax` as its baseline. The data mimics training: a square in-batch similarity
 * matrix whose diagonal is relevant, plus ~1 % more relevant items per list. Each call records
 * `repeat` forward + backward passes and waits once; the dense O(n²) cases (`dense`) run one timed
 * call at 1024.
 */
export function lossBenches(
  cases: LossBenchCase[],
  dense: (c: LossBenchCase) => boolean = () => false,
): void {
  const sizes = [{ n: 256, repeat: 4, iterations: 5 }, { n: 1024, repeat: 1, iterations: 2 }];
  for (const { n, repeat, iterations } of sizes) {
    const data = inBatch(n);
    const s = Tensor.param(data.scores, [n, n], `S ${n}`);
    const y = Tensor.from(data.labels, [n, n], { label: `R ${n}` });
    for (const c of [{ name: "softmax", options: {} }, ...cases]) {
      const opts = Object.keys(c.options).length ? ` ${JSON.stringify(c.options)}` : "";
      Deno.bench({
        name: `${c.name}${opts} ${n}x${n}`,
        group: `${n}x${n}`,
        baseline: c.name === "softmax",
        n: n >= 1024 && dense(c) ? 1 : iterations,
        warmup: 1,
        async fn() {
          scope(() => {
            for (let r = 0; r < repeat; r++) backward(rankingLossTensor(c.name, s, y, c.options));
          });
          await rt().sync();
          zeroGrad([s]);
        },
      });
    }
  }
}

/** Seeded values in [-1, 1) (a cheap LCG: the data only has to be non-degenerate). */
export function lcgValues(n: number, seed: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Sinkhorn iterations of the NeuralSort family's benches (`NEURALSORT_BENCH_ITERS`, default 10). */
export const NEURALSORT_ITERS = Number(Deno.env.get("NEURALSORT_BENCH_ITERS") ?? 10);

/** Items per list of the NeuralSort family's benches. */
export const NEURALSORT_N = 1000;

/** The NeuralNDCG options of those benches: allRank's, with tol 0 and NEURALSORT_ITERS iterations. */
export const NEURALSORT_OPTIONS: NeuralNdcgOptions = {
  temperature: 1,
  poweredRelevancies: true,
  k: 0,
  sinkhorn: true,
  tol: 0,
  maxIter: NEURALSORT_ITERS,
  transposed: false,
};

/** The table of the NeuralSort family's benches (one per file, printed when it unloads). */
export function neuralSortReport(): BenchReport {
  return new BenchReport(
    `NeuralSort / NeuralNDCG on llvmpipe (${NEURALSORT_ITERS} Sinkhorn iterations unless the group names its own)`,
    "time ÷ baseline time",
  ).printOnUnload();
}

/**
 * Interleaved A/B of a fused and an unfused variant of the same work: `rounds` rounds (after one
 * warm-up round) each run both `fused()` and `unfused()` (each awaiting the GPU) back to back, in
 * alternating order; prints, per variant, the median wall time and the median CPU time (user +
 * system of this process, llvmpipe's threads included) per unit (`units` per call), and the
 * medians of the rounds' unfused/fused ratios. A slowly varying load on a shared machine cancels
 * out of the wall-time ratio; CPU time is what the work costs, which other processes change less.
 * `names` label the two variants in the printed line (default `fused`, `unfused`).
 */
export async function interleavedAB(
  what: string,
  units: number,
  rounds: number,
  fused: () => Promise<void>,
  unfused: () => Promise<void>,
  names: readonly [string, string] = ["fused", "unfused"],
): Promise<void> {
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const runs = [fused, unfused];
  const wall: number[][] = [[], []];
  const cpu: number[][] = [[], []];
  for (let round = 0; round <= rounds; round++) {
    for (const v of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const [t0, c0] = [performance.now(), cpuMs()];
      await runs[v]();
      if (round === 0) continue;
      wall[v].push((performance.now() - t0) / units);
      cpu[v].push((cpuMs() - c0) / units);
    }
  }
  const ratio = (xs: number[][]) => median(xs[1].map((u, i) => u / xs[0][i])).toFixed(2);
  const ms = (xs: number[]) => median(xs).toFixed(2);
  const [a, b] = names;
  console.log(
    `${what} (medians of ${rounds} rounds), ms per unit: wall ${a} ${ms(wall[0])}, ${b} ` +
      `${ms(wall[1])} (${b}/${a} ${ratio(wall)}×); CPU ${a} ${ms(cpu[0])}, ${b} ` +
      `${ms(cpu[1])} (${b}/${a} ${ratio(cpu)}×)`,
  );
}
