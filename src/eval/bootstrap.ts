/**
 * Paired comparison of two training methods on the same evaluation queries: the difference in
 * t2i R@1, i2t R@1, rsum and each direction's NDCG@10 and MRR with a percentile confidence
 * interval from a paired bootstrap over
 * queries, pooled over seeds (each resample draws queries with replacement, then averages each
 * method's per-query outcome over its seeds). Pairing on queries removes the variation that comes
 * from which queries happen to be in the test set, which is most of it.
 *
 * @example
 * ```ts
 * import { pairedBootstrap } from "./bootstrap.ts";
 * const d = pairedBootstrap(neuralRanksPerSeed, softmaxRanksPerSeed, { seed: 0 });
 * d.rsum; // { diff: 0.4, lo: -1.2, hi: 2.0, verdict: "no significant difference", … }
 * ```
 *
 * @module
 */

import { queryOutcomes, type QueryStats, RECALL_KS, type RetrievalRanks } from "./metrics.ts";
import { Random } from "../util/random.ts";

/** The compared figures. */
export const PAIRED_METRICS = [
  "t2i R@1",
  "i2t R@1",
  "rsum",
  "t2i NDCG@10",
  "i2t NDCG@10",
  "t2i MRR",
  "i2t MRR",
] as const;

/** One of {@link PAIRED_METRICS}. */
export type PairedMetric = typeof PAIRED_METRICS[number];

/** What the interval says. */
export type Verdict = "better" | "worse" | "no significant difference";

/** The paired difference of one figure, candidate − baseline. */
export interface PairedDifference {
  /** The difference of the seed-averaged figures on all queries. */
  diff: number;
  /** Lower end of the confidence interval. */
  lo: number;
  /** Upper end of the confidence interval. */
  hi: number;
  /** `better` when the interval is above 0, `worse` when below, else no significant difference. */
  verdict: Verdict;
}

/** Options of {@link pairedBootstrap}. */
export interface BootstrapOptions {
  /** Resamples (default 2000; at least 1000 is advised). */
  resamples?: number;
  /** Seed of the resampling (default 0). */
  seed?: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

/**
 * One set of queries in a paired statistic: each method's per-query values, one array per seed
 * (every array has one value per query, queries aligned across seeds and methods), and the
 * statistic's weight on this set's mean. A statistic is `Σ scale · mean_q(candidate − baseline)`
 * over its sets, each method's values first averaged over its seeds.
 */
export interface QuerySet {
  /** Candidate values, `[seed][query]`. */
  candidate: ArrayLike<number>[];
  /** Baseline values, `[seed][query]`. */
  baseline: ArrayLike<number>[];
  /** Weight of this set's mean difference (e.g. 100 for percentages). */
  scale: number;
}

function seedMean(runs: ArrayLike<number>[], what: string): Float64Array {
  if (runs.length === 0) throw new RangeError(`pairedDifference: the ${what} has no runs`);
  const n = runs[0].length;
  const out = new Float64Array(n);
  for (const r of runs) {
    if (r.length !== n) {
      throw new RangeError(
        `pairedDifference: the ${what}'s runs were not evaluated on the same queries ` +
          `(${r.length} vs ${n})`,
      );
    }
    for (let q = 0; q < n; q++) out[q] += r[q];
  }
  for (let q = 0; q < n; q++) out[q] /= runs.length;
  return out;
}

function quantile(sorted: Float64Array, p: number): number {
  const x = p * (sorted.length - 1);
  const lo = Math.floor(x);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (x - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Candidate − baseline of one statistic over query sets, with a percentile confidence interval
 * from a paired bootstrap: each resample draws every set's queries with replacement (the same
 * queries for both methods) and recomputes the statistic.
 */
export function pairedDifference(
  sets: QuerySet[],
  options: BootstrapOptions = {},
): PairedDifference {
  const { resamples = 2000, seed = 0, level = 0.95 } = options;
  if (!(resamples >= 1 && Number.isInteger(resamples)) || !(level > 0 && level < 1)) {
    throw new RangeError(`pairedDifference: resamples ${resamples} or level ${level} out of range`);
  }
  const diffs = sets.map((set) => {
    const c = seedMean(set.candidate, "candidate");
    const b = seedMean(set.baseline, "baseline");
    if (c.length !== b.length || c.length === 0) {
      throw new RangeError(
        `pairedDifference: the methods were not evaluated on the same queries (${c.length} vs ` +
          `${b.length})`,
      );
    }
    return { d: c.map((v, q) => v - b[q]), scale: set.scale };
  });
  const diff = diffs.reduce(
    (sum, { d, scale }) => sum + (scale * d.reduce((a, v) => a + v, 0)) / d.length,
    0,
  );
  const random = new Random(seed);
  const resample = () =>
    diffs.reduce((sum, { d, scale }) => {
      let s = 0;
      for (let k = 0; k < d.length; k++) s += d[random.int(d.length)];
      return sum + (scale * s) / d.length;
    }, 0);
  const samples = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) samples[r] = resample();
  samples.sort();
  const lo = quantile(samples, (1 - level) / 2);
  const hi = quantile(samples, 1 - (1 - level) / 2);
  const verdict: Verdict = lo > 0 ? "better" : hi < 0 ? "worse" : "no significant difference";
  return { diff, lo, hi, verdict };
}

/** Per-query statistics of runs, one array per seed. */
function outcomes(runs: RetrievalRanks[], dir: "t2i" | "i2t"): QueryStats[][] {
  return runs.map((r) => queryOutcomes(r)[dir]);
}

/** Per-query hit indicators: `[k][seed][query]`, 1 when the best top-grade rank ≤ K. */
function hits(stats: QueryStats[][]): Float64Array[][] {
  return RECALL_KS.map((k) => stats.map((s) => Float64Array.from(s, (q) => q.best <= k ? 1 : 0)));
}

function sameQueries(a: RetrievalRanks, b: RetrievalRanks): boolean {
  const same = (x: ArrayLike<number>, y: ArrayLike<number>) =>
    x.length === y.length && Array.prototype.every.call(x, (v: number, k: number) => v === y[k]);
  return a.numImages === b.numImages && same(a.textToImage, b.textToImage) &&
    same(a.relevance.offsets, b.relevance.offsets) &&
    same(a.relevance.images, b.relevance.images) &&
    same(a.relevance.grades, b.relevance.grades);
}

/**
 * Candidate − baseline for t2i R@1, i2t R@1, rsum and each direction's NDCG@10 and MRR
 * (percentage points), with paired bootstrap confidence intervals over queries (text queries and image queries
 * resampled independently). R@K counts hits on an item of the query's highest grade; NDCG@10 uses
 * every grade; MRR the reciprocal rank of the best-ranked highest-grade item (see `./metrics.ts`).
 * `candidate` and `baseline` hold one {@link RetrievalRanks} per seed; every run must rank the same
 * queries against the same gallery.
 * @throws {RangeError} when a method has no runs or the runs do not share their queries.
 */
export function pairedBootstrap(
  candidate: RetrievalRanks[],
  baseline: RetrievalRanks[],
  options: BootstrapOptions = {},
): Record<PairedMetric, PairedDifference> {
  if (candidate.length === 0 || baseline.length === 0) {
    throw new RangeError("pairedBootstrap: each method needs at least one run");
  }
  const all = [...candidate, ...baseline];
  if (!all.every((r) => sameQueries(r, all[0]))) {
    throw new RangeError("pairedBootstrap: the runs were not evaluated on the same queries");
  }
  const [ct, bt, ci, bi] = [
    outcomes(candidate, "t2i"),
    outcomes(baseline, "t2i"),
    outcomes(candidate, "i2t"),
    outcomes(baseline, "i2t"),
  ];
  const [hct, hbt, hci, hbi] = [ct, bt, ci, bi].map(hits);
  // A query's share of rsum: its hits summed over K.
  const summed = (h: Float64Array[][]) =>
    h[0].map((_, seed) => h[0][seed].map((_, q) => h.reduce((s, hk) => s + hk[seed][q], 0)));
  const ndcg = (stats: QueryStats[][]) => stats.map((s) => Float64Array.from(s, (q) => q.ndcg10));
  const rr = (stats: QueryStats[][]) => stats.map((s) => Float64Array.from(s, (q) => q.rr));
  return {
    "t2i R@1": pairedDifference([{ candidate: hct[0], baseline: hbt[0], scale: 100 }], options),
    "i2t R@1": pairedDifference([{ candidate: hci[0], baseline: hbi[0], scale: 100 }], options),
    rsum: pairedDifference([
      { candidate: summed(hct), baseline: summed(hbt), scale: 100 },
      { candidate: summed(hci), baseline: summed(hbi), scale: 100 },
    ], options),
    "t2i NDCG@10": pairedDifference(
      [{ candidate: ndcg(ct), baseline: ndcg(bt), scale: 100 }],
      options,
    ),
    "i2t NDCG@10": pairedDifference(
      [{ candidate: ndcg(ci), baseline: ndcg(bi), scale: 100 }],
      options,
    ),
    "t2i MRR": pairedDifference([{ candidate: rr(ct), baseline: rr(bt), scale: 100 }], options),
    "i2t MRR": pairedDifference([{ candidate: rr(ci), baseline: rr(bi), scale: 100 }], options),
  };
}

/** `+0.4 [-1.2, +2.0]`: a difference with its interval, signed, to `digits` decimals. */
export function formatDifference(d: PairedDifference, digits = 1): string {
  const f = (x: number) => {
    const s = x.toFixed(digits);
    if (Number(s) === 0) return (0).toFixed(digits);
    return x > 0 ? `+${s}` : s;
  };
  return `${f(d.diff)} [${f(d.lo)}, ${f(d.hi)}]`;
}
