/**
 * `deno task compare`: trains every chosen loss with the same budget, seeds, model and split, and
 * reports each loss's metrics on the held-out test part (mean ± std over seeds) next to its paired
 * difference from a baseline loss (`softmax` by default) with a 95 % confidence interval from a
 * paired bootstrap over the test queries, pooled over seeds, and a verdict. Writes `results.csv`,
 * `results.md`, `results.json`, `compare.png`, each run's folder under `runs/` and each run's
 * per-query ranks under `ranks/<loss>-s<seed>.csv`. With `--ltr DIR` it instead trains a linear
 * scorer on `DIR/rank.train` with each loss and reports NDCG@1/3/5/10 on `DIR/rank.test`, with the
 * same paired intervals over test queries.
 *
 * Flags and data are checked before anything is written; a failed run is marked in the tables and
 * makes the command exit 1. The report goes to stdout, progress to stderr.
 *
 * @module
 */

import { stringify } from "csv-stringify";
import { COMPARED_LOSSES, lossNames } from "../losses/mod.ts";
import { isBatchLoss } from "../losses/dcca.ts";
import { readSvmlight } from "../data/svmlight.ts";
import { writeFileAtomic } from "../data/errors.ts";
import { DEFAULT_GENERATOR } from "../data/synthetic.ts";
import type { LtrDataset } from "../data/types.ts";
import { imageQueryCount, type RetrievalMetrics, type RetrievalRanks } from "../eval/metrics.ts";
import { parseRanksCsv } from "../eval/ranks_file.ts";
import {
  formatDifference,
  pairedBootstrap,
  type PairedDifference,
  pairedDifference,
  type PairedMetric,
} from "../eval/bootstrap.ts";
import { grid, intervalChart, PALETTE } from "../report/charts.ts";

/** How far below the best rsum compare.png's axes reach (farther rows are marked off-axis). */
const ZOOM = 40;
import { environment } from "../report/environment.ts";
import { rt } from "../gpu/runtime.ts";
import { loadTrainData } from "../train/data.ts";
import { formatDuration, Progress } from "../train/progress.ts";
import { type RunSummary, runTraining } from "../train/run.ts";
import { type LtrResult, trainLtr } from "../train/ltr.ts";
import { prepareNewRunDir, ranksFile, RunDirError, runPath, writeJson } from "../train/run_dir.ts";
import type { TrainConfig, TrainData } from "../train/trainer.ts";
import { runPictures } from "./pictures.ts";
import {
  bankNorms,
  formatNormParams,
  NORM_METHODS,
  type NormMethod,
  type NormParams,
  normParams,
} from "../eval/bank_norm.ts";
import { retrievalMetrics } from "../eval/metrics.ts";
import { ranksCsv } from "../eval/ranks_file.ts";
import { evaluationRelation } from "../data/relation.ts";
import { retrievalRanks } from "../ops/retrieval.ts";
import { DualEncoder } from "../model/dual_encoder.ts";
import { readCheckpoint } from "../train/run_dir.ts";
import type { RetrievalDataset } from "../data/types.ts";
import {
  checkLoss,
  choiceFlag,
  DATA_GENERATOR_OPTION,
  dataGeneratorFlag,
  keyValueFlags,
  MAX_MEGAPIXELS_OPTION,
  maxImagePixelsFlag,
  numberFlag,
  type OptionSpec,
  parseFlags,
  runMain,
  SPLIT_OPTIONS,
  splitFlags,
  usage,
  UsageError,
} from "./args.ts";

const SPECS: Record<string, OptionSpec> = {
  data: {
    type: "string",
    value: "DIR",
    help: "dataset (as for train)",
    default: "the embedded default",
  },
  ltr: {
    type: "string",
    value: "DIR",
    help: "learning-to-rank mode: DIR/rank.train and DIR/rank.test",
  },
  losses: {
    type: "string",
    value: "A,B,…",
    help: "losses to compare (LOSS+simix: that loss with --simix; dcca: the batch loss)",
    default: "every loss, recallk+simix and dcca (--ltr: the list losses)",
  },
  baseline: {
    type: "string",
    value: "LOSS",
    help: "the loss every other is compared with (added to --losses if absent)",
    default: "softmax",
  },
  "loss-opt": {
    type: "string",
    value: "LOSS.K=V",
    multiple: true,
    help: "an option of one loss, repeatable (e.g. --loss-opt lambdaloss.scheme=ndcgLoss2PP)",
  },
  seeds: { type: "string", value: "N", help: "training seeds per loss (0..N-1)", default: "3" },
  resamples: {
    type: "string",
    value: "N",
    help: "bootstrap resamples of the paired confidence intervals",
    default: "2000",
  },
  epochs: { type: "string", value: "N", help: "epochs per run (retrieval)", default: "10" },
  batch: { type: "string", value: "B", help: "images per batch", default: "128" },
  lr: {
    type: "string",
    value: "X",
    help: "peak learning rate (retrieval: as train's auto; LTR: 0.01)",
    default: "auto",
  },
  steps: { type: "string", value: "N", help: "full-batch steps per LTR run", default: "300" },
  "max-steps": {
    type: "string",
    value: "N",
    help: "cap on steps per retrieval run (0 = none)",
    default: "0",
  },
  out: { type: "string", value: "DIR", help: "output folder", default: "runs/compare-<time>" },
  norm: {
    type: "string",
    value: "invsoftmax|dbnorm|nnn",
    help: "also score every run with bank-normalised scores (bank: the training part), reported " +
      "beside the raw scores with paired intervals",
    default: "none",
  },
  "norm-opt": {
    type: "string",
    value: "K=V",
    multiple: true,
    help: "a parameter of --norm, repeatable (as eval's)",
  },
  force: { type: "boolean", help: "clear a non-empty --out compare folder instead of refusing" },
  resume: {
    type: "boolean",
    help: "continue an interrupted compare in --out: each completed run whose recorded config, " +
      "data fingerprint and adapter equal this plan's is reused, the others are trained " +
      "(retrieval)",
  },
  ...SPLIT_OPTIONS,
  ...DATA_GENERATOR_OPTION,
  ...MAX_MEGAPIXELS_OPTION,
  help: { type: "boolean", help: "show this help" },
};

const HELP = usage(
  "deno task compare [--data DIR | --ltr DIR] [--losses a,b] [--seeds N] [--out DIR]",
  "Trains every loss with the same budget, seeds, model and split (80/10/10 by image) and reports\n" +
    "each loss's metrics on the held-out test part (mean ± std over seeds), with its paired\n" +
    "difference from --baseline: a 95 % interval from a paired bootstrap over the test queries,\n" +
    "pooled over seeds, and a verdict (better / worse / no significant difference). Checkpoints\n" +
    "are chosen on validation. Exit 1 if any run fails.\n" +
    `Losses: ${lossNames().join(", ")}; LOSS+simix (retrieval); dcca (retrieval, batch loss).`,
  SPECS,
);

function meanStd(values: number[]): { mean: number; std: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(n, 1);
  const variance = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/** `mean ± std` over several values, the value alone for one (or for identical values). */
function pm(values: number[], digits = 1): string {
  const { mean, std } = meanStd(values);
  const identical = values.every((v) => v === values[0]);
  return values.length > 1 && !identical
    ? `${mean.toFixed(digits)} ± ${std.toFixed(digits)}`
    : mean.toFixed(digits);
}

function perLossOptions(
  raw: Record<string, unknown>,
  losses: string[],
): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = Object.fromEntries(
    losses.map((l) => [l, {}]),
  );
  for (const [key, value] of Object.entries(raw)) {
    const dot = key.indexOf(".");
    const loss = key.slice(0, dot);
    if (dot <= 0 || !(loss in out)) {
      throw new UsageError(
        `--loss-opt ${key}=${value}: expected LOSS.KEY=VALUE for a compared loss`,
      );
    }
    out[loss][key.slice(dot + 1)] = value;
  }
  for (const l of losses) checkLoss(lossVariant(l).loss, out[l], "--loss-opt for", true);
  return out;
}

/** Everything the command line says, checked before any file is written. */
interface Plan {
  losses: string[];
  baseline: string;
  options: Record<string, Record<string, unknown>>;
  seeds: number;
  resamples: number;
  out: string;
  force: boolean;
  /** Reuse the completed runs of an interrupted compare in `out` (`--resume`). */
  resume: boolean;
  /** Bank normalisation scored beside the raw scores (`none`: not). */
  norm: NormMethod;
  /** Its parameters. */
  normParams: NormParams;
}

/**
 * What `deno task compare` runs by default on retrieval data: every compared list loss, the
 * Recall@k surrogate with SiMix (`recallk+simix`) and the batch loss `dcca`.
 */
export const COMPARED_RETRIEVAL: readonly string[] = [...COMPARED_LOSSES, "recallk+simix", "dcca"];

/** A compared name: a loss, or `LOSS+simix` for that loss trained with `--simix`. */
export function lossVariant(name: string): { loss: string; simix: boolean } {
  return name.endsWith("+simix")
    ? { loss: name.slice(0, -"+simix".length), simix: true }
    : { loss: name, simix: false };
}

/** One training run of the comparison. */
interface Run {
  loss: string;
  seed: number;
  /** Null when the run failed. */
  summary: RunSummary | null;
  /** Per-query ranks on the reported part (null when the run failed). */
  ranks: RetrievalRanks | null;
  /** Why it failed. */
  error?: string;
  /** Per-query ranks with `--norm` on the same part (null without it or when the run failed). */
  normed?: RetrievalRanks | null;
  /** Reused from an earlier invocation of the same compare (`--resume`). */
  resumed?: boolean;
}

const COLUMNS = ["R@1", "R@5", "R@10"] as const;
const NDCG_COLUMNS = ["NDCG@1", "NDCG@5", "NDCG@10"] as const;

function reported(s: RunSummary): RetrievalMetrics {
  return (s.ranksPart === "test" ? s.test : s.best)!;
}

async function compareRetrieval(
  flags: ReturnType<typeof parseFlags>,
  plan: Plan,
): Promise<number> {
  const progress = new Progress();
  const dataPath = typeof flags.data === "string" ? flags.data : null;
  const generator = dataGeneratorFlag(flags) ?? DEFAULT_GENERATOR;
  const spec = {
    ...splitFlags(flags, 0.01),
    maxImagePixels: maxImagePixelsFlag(flags),
  };
  const base = {
    epochs: numberFlag("epochs", flags.epochs, 10, { integer: true, min: 1 }),
    batch: numberFlag("batch", flags.batch, 128, { integer: true, min: 2 }),
    lr: flags.lr === undefined || flags.lr === "auto"
      ? null
      : numberFlag("lr", flags.lr, 0.002, { min: 0 }),
    maxSteps: numberFlag("max-steps", flags["max-steps"], 0, { integer: true, min: 0 }),
  };
  const data: TrainData = await loadTrainData(dataPath, {
    ...spec,
    generator,
    log: (l) => progress.log(l),
  });
  await prepareOut(plan);
  const runs: Run[] = [];
  const eta = new RunClock(plan.losses.flatMap((l) => Array(plan.seeds).fill(l)));
  for (const loss of plan.losses) {
    for (let seed = 0; seed < plan.seeds; seed++) {
      const variant = lossVariant(loss);
      const config: TrainConfig = {
        data: dataPath,
        loss: variant.loss,
        lossOptions: plan.options[loss],
        ...(variant.simix ? { simix: true } : {}),
        ...base,
        captionsPerImage: 2,
        minLrRatio: 0.01,
        warmup: 0.05,
        weightDecay: 0.01,
        decayTo: "auto",
        clip: 1,
        seed,
        ...spec,
        ...(dataPath === null ? { dataGenerator: generator } : {}),
        model: {},
        logEvery: 50,
        out: runPath(plan.out, `runs/${loss}-s${seed}`),
      };
      const reused = plan.resume ? await reusableRun(loss, config, data, plan, progress) : null;
      if (reused) {
        progress.log(
          `compare: run ${eta.started + 1}/${eta.total}: ${loss}, seed ${seed}: reused ` +
            `(completed by an earlier invocation, same config and data)`,
        );
        eta.skip();
        runs.push(reused);
        continue;
      }
      progress.log(
        `compare: run ${eta.started + 1}/${eta.total}: ${loss}, seed ${seed}; ${eta.status()}`,
      );
      eta.start();
      runs.push(await oneRun(loss, config, data, plan, progress));
      eta.finish(loss);
    }
  }
  const ok = runs.filter((r) => r.summary !== null);
  const failed = runs.filter((r) => r.summary === null);
  const part = ok[0]?.summary?.ranksPart ?? (data.test ? "test" : "val");
  const byLoss = plan.losses.map((loss) => ({
    loss,
    ok: ok.filter((r) => r.loss === loss),
    failed: failed.filter((r) => r.loss === loss),
  }));
  const baselineRuns = byLoss.find((g) => g.loss === plan.baseline)!.ok;
  const paired = new Map<string, Record<PairedMetric, PairedDifference>>();
  for (const g of byLoss) {
    if (g.loss === plan.baseline || g.ok.length === 0 || baselineRuns.length === 0) continue;
    paired.set(
      g.loss,
      pairedBootstrap(
        g.ok.map((r) => r.ranks!),
        baselineRuns.map((r) => r.ranks!),
        { resamples: plan.resamples, seed: 0 },
      ),
    );
  }
  const queries = ok[0]?.ranks
    ? `${ok[0].ranks.textToImage.length} text and ` +
      `${imageQueryCount(ok[0].ranks.relevance, ok[0].ranks.numImages)} image queries`
    : "no queries";

  await writeFileAtomic(
    runPath(plan.out, "results.csv"),
    new TextEncoder().encode(stringify([
      [
        "loss",
        "seed",
        "status",
        "split",
        ...COLUMNS.map((k) => `t2i_${k}`),
        ...COLUMNS.map((k) => `i2t_${k}`),
        "rsum",
        "t2i_MedR",
        "i2t_MedR",
        "t2i_mAP",
        "i2t_mAP",
        "t2i_MRR",
        "i2t_MRR",
        ...NDCG_COLUMNS.map((k) => `t2i_${k}`),
        ...NDCG_COLUMNS.map((k) => `i2t_${k}`),
        "train_seconds",
        "steps_per_sec",
        "best_epoch",
        "error",
      ],
      ...runs.map((r) => {
        if (!r.summary) {
          return [r.loss, r.seed, "failed", part, ...Array(22).fill(""), r.error ?? ""];
        }
        const m = reported(r.summary);
        return [
          r.loss,
          r.seed,
          "completed",
          part,
          ...COLUMNS.map((k) => m.t2i[k]),
          ...COLUMNS.map((k) => m.i2t[k]),
          m.rsum,
          m.t2i.MedR,
          m.i2t.MedR,
          m.t2i.mAP,
          m.i2t.mAP,
          m.t2i.MRR,
          m.i2t.MRR,
          ...NDCG_COLUMNS.map((k) => m.t2i[k]),
          ...NDCG_COLUMNS.map((k) => m.i2t[k]),
          r.summary.trainSeconds,
          r.summary.stepsPerSec,
          r.summary.bestEpoch,
          "",
        ];
      }),
    ])),
  );

  const vs = `Δ vs ${plan.baseline} [95% CI]`;
  const md = [
    `| loss | t2i R@1 | i2t R@1 | rsum | t2i NDCG@10 | i2t NDCG@10 | t2i MRR | i2t MRR | ${vs}: ` +
    "rsum | verdict | Δ t2i NDCG@10 | verdict | Δ i2t NDCG@10 | verdict | Δ t2i MRR | " +
    "Δ i2t MRR | Δ t2i R@1 | Δ i2t R@1 | train s | steps/s |",
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | --- | ` +
    "---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const empty = (n: number) => " |".repeat(n);
  for (const g of byLoss) {
    if (g.ok.length === 0) {
      md.push(`| ${g.loss} | failed |${empty(18)}`);
      continue;
    }
    const ms = g.ok.map((r) => reported(r.summary!));
    const p = paired.get(g.loss);
    const cell = (m: PairedMetric) => (p ? formatDifference(p[m]) : "—");
    const verdict = (m: PairedMetric) => (p ? p[m].verdict : "—");
    const seedsNote = g.failed.length > 0 ? ` (${g.ok.length} of ${plan.seeds} seeds)` : "";
    md.push(
      `| ${g.loss}${g.loss === plan.baseline ? " (baseline)" : ""}${seedsNote} | ` +
        `${pm(ms.map((m) => m.t2i["R@1"]))} | ${pm(ms.map((m) => m.i2t["R@1"]))} | ` +
        `${pm(ms.map((m) => m.rsum))} | ${pm(ms.map((m) => m.t2i["NDCG@10"]))} | ` +
        `${pm(ms.map((m) => m.i2t["NDCG@10"]))} | ${pm(ms.map((m) => m.t2i.MRR))} | ` +
        `${pm(ms.map((m) => m.i2t.MRR))} | ${cell("rsum")} | ${verdict("rsum")} | ` +
        `${cell("t2i NDCG@10")} | ${verdict("t2i NDCG@10")} | ` +
        `${cell("i2t NDCG@10")} | ${verdict("i2t NDCG@10")} | ` +
        `${cell("t2i MRR")} | ${cell("i2t MRR")} | ` +
        `${cell("t2i R@1")} | ${cell("i2t R@1")} | ` +
        `${pm(g.ok.map((r) => r.summary!.trainSeconds), 0)} | ` +
        `${pm(g.ok.map((r) => r.summary!.stepsPerSec), 2)} |`,
    );
  }
  // The model before training, on the same part (zero-shot for adapters on pretrained features,
  // random initial heads otherwise).
  const initial = ok.map((r) => part === "test" ? r.summary!.initialTest : r.summary!.initial)
    .filter((m): m is RetrievalMetrics => m !== null);
  if (initial.length > 0) {
    md.push(
      `| _before training_ | ${pm(initial.map((m) => m.t2i["R@1"]))} | ` +
        `${pm(initial.map((m) => m.i2t["R@1"]))} | ${pm(initial.map((m) => m.rsum))} | ` +
        `${pm(initial.map((m) => m.t2i["NDCG@10"]))} | ${
          pm(initial.map((m) => m.i2t["NDCG@10"]))
        } | ${pm(initial.map((m) => m.t2i.MRR))} | ` +
        `${pm(initial.map((m) => m.i2t.MRR))} |` +
        " — |".repeat(12),
    );
  }
  // With --norm: every loss's normalised figures, paired against the same loss's raw scores and
  // against the baseline's normalised scores.
  const normMd: string[] = [];
  const normPaired: Record<string, unknown> = {};
  if (plan.norm !== "none") {
    const nm = `${plan.norm} (${formatNormParams(plan.normParams)})`;
    const baseNormed = baselineRuns.filter((r) => r.normed).map((r) => r.normed!);
    normMd.push(
      `With ${nm}, bank = each run's training part, on the same ${part} queries:`,
      "",
      `| loss | t2i R@1 | i2t R@1 | rsum | t2i NDCG@10 | i2t NDCG@10 | t2i MRR | i2t MRR | ` +
        `Δ rsum vs raw [95% CI] | verdict | Δ t2i R@1 vs raw | Δ i2t R@1 vs raw | ` +
        `Δ rsum vs ${plan.baseline}+${plan.norm} [95% CI] | verdict |`,
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    );
    for (const g of byLoss) {
      const runsN = g.ok.filter((r) => r.normed);
      if (runsN.length === 0) {
        normMd.push(`| ${g.loss} | failed |${empty(12)}`);
        continue;
      }
      const ms = runsN.map((r) => retrievalMetrics(r.normed!));
      const vsRaw = pairedBootstrap(runsN.map((r) => r.normed!), runsN.map((r) => r.ranks!), {
        resamples: plan.resamples,
        seed: 0,
      });
      const vsBase = g.loss !== plan.baseline && baseNormed.length > 0
        ? pairedBootstrap(runsN.map((r) => r.normed!), baseNormed, {
          resamples: plan.resamples,
          seed: 0,
        })
        : null;
      normPaired[g.loss] = { vsRaw, vsBaseline: vsBase };
      normMd.push(
        `| ${g.loss}${g.loss === plan.baseline ? " (baseline)" : ""} | ` +
          `${pm(ms.map((m) => m.t2i["R@1"]))} | ${pm(ms.map((m) => m.i2t["R@1"]))} | ` +
          `${pm(ms.map((m) => m.rsum))} | ${pm(ms.map((m) => m.t2i["NDCG@10"]))} | ` +
          `${pm(ms.map((m) => m.i2t["NDCG@10"]))} | ${pm(ms.map((m) => m.t2i.MRR))} | ` +
          `${pm(ms.map((m) => m.i2t.MRR))} | ${formatDifference(vsRaw.rsum)} | ` +
          `${vsRaw.rsum.verdict} | ${formatDifference(vsRaw["t2i R@1"])} | ` +
          `${formatDifference(vsRaw["i2t R@1"])} | ` +
          `${vsBase ? formatDifference(vsBase.rsum) : "—"} | ${
            vsBase ? vsBase.rsum.verdict : "—"
          } |`,
      );
    }
  }
  const env = await environment();
  const source = data.source!;
  const origin = source.path ?? `embedded default, generator ${source.generator?.generator}`;
  const note = `Dataset ${source.name} (${origin}), metrics of each ` +
    `run's kept checkpoint (best validation rsum) on the held-out ${part} part ` +
    `(${queries}), mean ± std over ${plan.seeds} seed(s). Δ: paired difference from ` +
    `${plan.baseline} with a 95 % percentile interval from ${plan.resamples} bootstrap ` +
    `resamples of the ${part} queries, pooled over seeds; "better"/"worse" when the interval ` +
    `excludes 0 (one test per loss, not adjusted for multiple comparisons). R@K counts a hit on ` +
    `an item of the query's highest grade, and MRR is the reciprocal rank of the best-ranked such ` +
    `item (percent); NDCG@10 has gains 2^grade − 1 ` +
    `(${data.train.relevance ? "graded relevance" : "one grade: binary"}). ` +
    `${env.adapter}, Deno ${env.deno}, commit ${env.commit.slice(0, 10)}.`;
  const resumed = runs.filter((r) => r.resumed).length;
  const provenance = await readCompareRecord(plan.out);
  // The last recorded invocation is this one; the reused runs come from the ones before it.
  const earlier = [
    ...new Set(
      provenance.invocations.slice(0, -1).map((i) =>
        `${String(i.commit).slice(0, 10)}${i.dirty ? " (with uncommitted changes)" : ""}`
      ),
    ),
  ];
  const reuseNote = resumed === 0 ? "" : ` ${resumed} of ${runs.length} runs were reused from an ` +
    `earlier invocation of this compare (--resume: their recorded config, data fingerprint and ` +
    `adapter equal this plan's; ${
      earlier.length > 0
        ? `earlier invocations ran commit ${earlier.join(", ")}`
        : "the code version of the earlier invocation was not recorded"
    }).`;
  const failures = failed.map((r) => `- ${r.loss} seed ${r.seed}: ${r.error}`);
  const report = `${note}${reuseNote}\n\n${md.join("\n")}\n` +
    (normMd.length > 0 ? `\n${normMd.join("\n")}\n` : "") +
    (failures.length > 0 ? `\nFailed runs:\n${failures.join("\n")}\n` : "");
  await writeFileAtomic(runPath(plan.out, "results.md"), new TextEncoder().encode(report));
  await writeJson(runPath(plan.out, "results.json"), {
    kind: "compare-retrieval",
    environment: env,
    args: Deno.args,
    dataSource: source,
    split: data.split,
    part,
    baseline: plan.baseline,
    resamples: plan.resamples,
    runs: runs.map((r) => ({
      loss: r.loss,
      seed: r.seed,
      status: r.summary ? "completed" : "failed",
      resumed: r.resumed ?? false,
      error: r.error,
      metrics: r.summary ? reported(r.summary) : null,
      ranks: r.summary ? `ranks/${r.loss}-s${r.seed}.csv` : null,
      summary: r.summary,
    })),
    paired: Object.fromEntries(paired),
    norm: plan.norm === "none" ? { method: "none" } : {
      method: plan.norm,
      params: plan.normParams,
      bank: "each run's training part",
      runs: runs.filter((r) => r.normed).map((r) => ({
        loss: r.loss,
        seed: r.seed,
        metrics: retrievalMetrics(r.normed!),
        ranks: `ranks/${r.loss}-s${r.seed}-${plan.norm}.csv`,
      })),
      paired: normPaired,
    },
  });
  const drawn = byLoss.filter((g) => g.ok.length > 0).map((g) => ({
    loss: g.loss,
    rsums: g.ok.map((r) => reported(r.summary!).rsum),
    paired: paired.get(g.loss)?.rsum,
  }));
  if (drawn.length > 0) {
    const where = `${source.name}, ${part} part, ${plan.seeds} seed(s)`;
    await writeFileAtomic(
      runPath(plan.out, "compare.png"),
      await comparePng(drawn, plan.losses, plan.baseline, where, part),
    );
  }
  console.log(report);
  progress.log(`wrote ${plan.out}/results.{csv,md,json}, compare.png, ranks/ and runs/`);
  if (failed.length > 0) {
    progress.log(`compare: ${failed.length} of ${runs.length} runs failed (see results.md)`);
    return 1;
  }
  return 0;
}

/**
 * `compare.png`: each loss's rsum (mean ± std over seeds) and its paired difference from the
 * baseline with the 95 % interval, both zoomed to the contenders (rows farther than
 * {@link ZOOM} points below the best are marked off the axis with their value). Colours follow the
 * order of `losses`, the same in both panels.
 */
export async function comparePng(
  rows: { loss: string; rsums: number[]; paired?: PairedDifference }[],
  losses: string[],
  baseline: string,
  where: string,
  part: string,
): Promise<Uint8Array> {
  const color = (loss: string) => PALETTE[losses.indexOf(loss) % PALETTE.length];
  const rsumRows = rows.map((r) => {
    const { mean, std } = meanStd(r.rsums);
    return { label: r.loss, value: mean, lo: mean - std, hi: mean + std, color: color(r.loss) };
  });
  const best = Math.max(...rsumRows.map((r) => r.value));
  const panels = [
    await intervalChart(rsumRows, {
      title: `rsum (${where})`,
      xLabel: "rsum (sum of six R@K, %; max 600)",
      note: `mean ± std over seeds; axis zoomed to ${ZOOM} points below the best, ◀ = off the axis`,
      range: [best - ZOOM, Math.min(600, best + ZOOM / 8)],
    }),
  ];
  const deltas = rows.filter((r) => r.paired).map((r) => ({
    label: r.loss,
    value: r.paired!.diff,
    lo: r.paired!.lo,
    hi: r.paired!.hi,
    color: color(r.loss),
  }));
  if (deltas.length > 0) {
    const top = Math.max(ZOOM / 8, ...deltas.map((d) => d.hi));
    panels.push(
      await intervalChart(deltas, {
        title: `Δ rsum vs ${baseline} (${where})`,
        xLabel: "rsum points",
        reference: 0,
        note: `95 % paired bootstrap interval over the ${part} queries; left of 0 = worse`,
        range: [Math.max(-ZOOM, Math.min(...deltas.map((d) => d.lo))), top],
      }),
    );
  }
  return await grid([panels]).encode();
}

/**
 * Elapsed time and a remaining-time estimate for a schedule of runs (the loss of each run, in
 * order): a loss already run is assumed to take its mean time again, an unseen one the mean of all
 * runs so far.
 */
class RunClock {
  readonly total: number;
  started = 0;
  #schedule: string[];
  #t0 = performance.now();
  #runStart = 0;
  #times = new Map<string, number[]>();

  constructor(schedule: string[]) {
    this.#schedule = schedule;
    this.total = schedule.length;
  }

  start(): void {
    this.#runStart = performance.now();
    this.started++;
  }

  /** Counts a run that was not trained (reused by `--resume`). */
  skip(): void {
    this.started++;
  }

  finish(loss: string): void {
    const list = this.#times.get(loss) ?? [];
    list.push((performance.now() - this.#runStart) / 1000);
    this.#times.set(loss, list);
  }

  /** `3m05s elapsed, about 12m left`, for the runs not started yet. */
  status(): string {
    const elapsed = (performance.now() - this.#t0) / 1000;
    const all = [...this.#times.values()].flat();
    if (all.length === 0) return `${formatDuration(elapsed)} elapsed`;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const left = this.#schedule.slice(this.started).reduce(
      (sum, loss) => sum + mean(this.#times.get(loss) ?? all),
      0,
    );
    return `${formatDuration(elapsed)} elapsed, about ${formatDuration(left)} left`;
  }
}

/**
 * Trains one run of the compared name `loss` (a loss or a `LOSS+simix` variant); a failure is
 * recorded, not thrown. Its ranks are copied to `ranks/`.
 */
async function oneRun(
  loss: string,
  config: TrainConfig,
  data: TrainData,
  plan: Plan,
  progress: Progress,
): Promise<Run> {
  const { seed } = config;
  try {
    const result = await runTraining(config, {
      data,
      progress,
      pictures: runPictures({ examples: false }),
      // --resume: an unfinished run folder of the interrupted invocation is trained again
      force: plan.resume,
    });
    const s = result.summary;
    if (!s || !s.ranksPart) {
      const error = result.error ?? (s ? "no held-out part to rank" : "interrupted");
      progress.log(`${loss} seed ${seed}: ${error} — marked failed`);
      return { loss, seed, summary: null, ranks: null, error };
    }
    return await collectRun(loss, config, s, data, plan, progress);
  } catch (e) {
    const error = (e as Error).message;
    progress.log(`${loss} seed ${seed}: ${error} — marked failed`);
    return { loss, seed, summary: null, ranks: null, error };
  }
}

/**
 * The {@link Run} of a completed run `s` (trained now or reused): its ranks copied to `ranks/`,
 * and with `--norm` its normalised ranks computed from its kept checkpoint.
 */
async function collectRun(
  loss: string,
  config: TrainConfig,
  s: RunSummary,
  data: TrainData,
  plan: Plan,
  progress: Progress,
  resumed = false,
): Promise<Run> {
  const { seed } = config;
  const file = runPath(config.out, ranksFile(s.ranksPart!));
  const text = await Deno.readTextFile(file);
  await writeFileAtomic(
    runPath(plan.out, `ranks/${loss}-s${seed}.csv`),
    new TextEncoder().encode(text),
  );
  const ranks = parseRanksCsv(text, file);
  let normed: RetrievalRanks | null = null;
  if (plan.norm !== "none") {
    const part = s.ranksPart === "test" ? data.test! : data.val!;
    normed = await normedRanks(config.out, part, data.train, plan);
    await writeFileAtomic(
      runPath(plan.out, `ranks/${loss}-s${seed}-${plan.norm}.csv`),
      new TextEncoder().encode(ranksCsv(normed)),
    );
    const m = retrievalMetrics(normed);
    progress.log(
      `${loss} seed ${seed}: with ${plan.norm}, ${s.ranksPart} rsum ${m.rsum.toFixed(1)} ` +
        `(raw ${retrievalMetrics(ranks).rsum.toFixed(1)})`,
    );
  }
  return { loss, seed, summary: s, ranks, normed, resumed };
}

/** Keys of a recorded run's config.json that describe where and when, not what was trained. */
const UNCOMPARED = new Set(["out"]);

/** `value` as JSON with object keys sorted (key order of a recorded file does not matter). */
function canonical(value: unknown): string {
  return JSON.stringify(
    value ?? null,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
        : v,
  );
}

/**
 * With `--resume`: the completed run in `config.out` of an interrupted invocation, reused when its
 * recorded config equals `config` field by field and its data fingerprint and adapter are this
 * compare's; null when the folder holds no completed run (it is trained again). A completed run
 * recorded with another config, other data or another adapter is refused (a usage error naming
 * the field): its figures are not this compare's.
 */
async function reusableRun(
  loss: string,
  config: TrainConfig,
  data: TrainData,
  plan: Plan,
  progress: Progress,
): Promise<Run | null> {
  const read = async (name: string): Promise<Record<string, unknown> | null> => {
    const file = runPath(config.out, name);
    try {
      return JSON.parse(await Deno.readTextFile(file));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw new UsageError(`--resume: ${file}: ${(e as Error).message}`);
    }
  };
  const summary = await read("summary.json");
  if (!summary || summary.status !== "completed" || !summary.ranksPart) return null;
  const recorded = await read("config.json");
  if (!recorded) return null;
  const refuse = (what: string, had: unknown, wants: unknown) =>
    new UsageError(
      `--resume: ${config.out} was trained with ${what} ${canonical(had)}, this compare plans ` +
        `${canonical(wants)}: its figures are not this compare's; choose a new --out, or --force ` +
        "to start over",
    );
  for (const [key, value] of Object.entries(config)) {
    if (UNCOMPARED.has(key)) continue;
    if (canonical(recorded[key]) !== canonical(value)) throw refuse(key, recorded[key], value);
  }
  const source = recorded.dataSource as { fingerprint?: string } | null;
  const fingerprint = data.source?.fingerprint ?? null;
  if ((source?.fingerprint ?? null) !== fingerprint) {
    throw refuse("data fingerprint", source?.fingerprint, fingerprint);
  }
  const adapter = rt().gpu.adapterName;
  if (recorded.adapter !== adapter) throw refuse("adapter", recorded.adapter, adapter);
  return await collectRun(
    loss,
    config,
    summary as unknown as RunSummary,
    data,
    plan,
    progress,
    true,
  );
}

/** `compare.json` of a compare folder: what each invocation ran (commit, arguments, time). */
interface CompareRecord {
  invocations: Record<string, unknown>[];
}

async function readCompareRecord(out: string): Promise<CompareRecord> {
  try {
    const r = JSON.parse(await Deno.readTextFile(runPath(out, "compare.json")));
    const invocations = Array.isArray(r.invocations) ? r.invocations : [];
    return { invocations };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { invocations: [] };
    throw new UsageError(`${runPath(out, "compare.json")}: ${(e as Error).message}`);
  }
}

/**
 * A run's ranks on `part` with `plan.norm`: its kept checkpoint embeds the part and the bank (the
 * training part), the bank statistics come from the GPU.
 */
async function normedRanks(
  run: string,
  part: RetrievalDataset,
  train: RetrievalDataset,
  plan: Plan,
): Promise<RetrievalRanks> {
  const saved = await readCheckpoint(run);
  const model = new DualEncoder(saved.config, 0);
  try {
    model.loadStateDict(saved.tensors, run);
    const dim = saved.config.text.outDim;
    const texts = await model.embedAll("texts", part.texts, part.numTexts);
    const images = await model.embedAll("images", part.images, part.numImages);
    const bankTexts = await model.embedAll("texts", train.texts, train.numTexts);
    const bankImages = await model.embedAll("images", train.images, train.numImages);
    const norm = await bankNorms(plan.norm, plan.normParams, {
      texts,
      images,
      bankTexts,
      bankImages,
      dim,
      normalize: false,
    });
    const ranks = await retrievalRanks(
      { texts, images, textDim: dim, imageDim: dim, ...evaluationRelation(part) },
      { normalize: false, norm },
    );
    return ranks;
  } finally {
    model.dispose();
  }
}

async function prepareOut(plan: Plan): Promise<void> {
  if (plan.resume) {
    try {
      await Deno.stat(runPath(plan.out, "runs"));
    } catch {
      throw new UsageError(
        `--resume ${plan.out}: not a compare folder (no runs/ inside); start it without --resume`,
      );
    }
  } else {
    try {
      await prepareNewRunDir(plan.out, plan.force);
    } catch (e) {
      if (e instanceof RunDirError) throw new UsageError(e.message);
      throw e;
    }
  }
  await Deno.mkdir(runPath(plan.out, "ranks"), { recursive: true });
  // Each invocation is recorded, so a resumed compare says what code made its reused runs.
  const record = plan.resume ? await readCompareRecord(plan.out) : { invocations: [] };
  const env = await environment();
  await writeJson(runPath(plan.out, "compare.json"), {
    invocations: [...record.invocations, {
      commit: env.commit,
      dirty: env.dirty,
      args: Deno.args,
      date: env.date,
      resume: plan.resume,
    }],
  });
}

async function compareLtr(
  flags: ReturnType<typeof parseFlags>,
  dir: string,
  plan: Plan,
): Promise<number> {
  const progress = new Progress();
  const steps = numberFlag("steps", flags.steps, 300, { integer: true, min: 1 });
  const lr = numberFlag("lr", flags.lr === "auto" ? undefined : flags.lr, 0.01, { min: 0 });
  const train: LtrDataset = await readSvmlight(`${dir}/rank.train`);
  const test: LtrDataset = await readSvmlight(`${dir}/rank.test`, { dim: train.dim });
  await prepareOut(plan);
  progress.log(
    `LTR: ${train.queries.length} train queries, ${test.queries.length} test queries, ${train.dim} features`,
  );
  const ks = [1, 3, 5, 10];
  const rows: { loss: string; seed: number; result: LtrResult | null; error?: string }[] = [];
  const eta = new RunClock(plan.losses.flatMap((l) => Array(plan.seeds).fill(l)));
  for (const loss of plan.losses) {
    for (let seed = 0; seed < plan.seeds; seed++) {
      progress.log(
        `compare --ltr: run ${
          eta.started + 1
        }/${eta.total}: ${loss}, seed ${seed}; ${eta.status()}`,
      );
      eta.start();
      try {
        const result = await trainLtr(train, test, {
          loss,
          lossOptions: plan.options[loss],
          steps,
          lr,
          seed,
          ks,
        });
        rows.push({ loss, seed, result });
        progress.log(
          `${loss} seed ${seed}: ${
            ks.map((k) => `NDCG@${k} ${result.test[`NDCG@${k}`].toFixed(4)}`).join("  ")
          }`,
        );
      } catch (e) {
        const error = (e as Error).message;
        rows.push({ loss, seed, result: null, error });
        progress.log(`${loss} seed ${seed}: ${error} — marked failed`);
      }
    }
  }
  const header = [
    "loss",
    "seed",
    "status",
    ...ks.map((k) => `NDCG@${k}`),
    "train_seconds",
    "error",
  ];
  await writeFileAtomic(
    runPath(plan.out, "results.csv"),
    new TextEncoder().encode(
      stringify([
        header,
        ...rows.map((r) =>
          r.result
            ? [
              r.loss,
              r.seed,
              "completed",
              ...ks.map((k) => r.result!.test[`NDCG@${k}`]),
              r.result.trainSeconds,
              "",
            ]
            : [r.loss, r.seed, "failed", ...ks.map(() => ""), "", r.error ?? ""]
        ),
      ]),
    ),
  );
  const okOf = (loss: string) =>
    rows.filter((r) => r.loss === loss && r.result).map((r) => r.result!);
  const baseline = okOf(plan.baseline);
  const paired = new Map<string, PairedDifference>();
  for (const loss of plan.losses) {
    const mine = okOf(loss);
    if (loss === plan.baseline || mine.length === 0 || baseline.length === 0) continue;
    paired.set(
      loss,
      pairedDifference([{
        candidate: mine.map((r) => r.testPerQuery["NDCG@10"]),
        baseline: baseline.map((r) => r.testPerQuery["NDCG@10"]),
        scale: 1,
      }], { resamples: plan.resamples, seed: 0 }),
    );
  }
  const md = [
    `| loss | ${
      ks.map((k) => `NDCG@${k}`).join(" | ")
    } | Δ NDCG@10 vs ${plan.baseline} [95% CI] | verdict | train s |`,
    `| --- | ${ks.map(() => "---:").join(" | ")} | ---: | --- | ---: |`,
  ];
  for (const loss of plan.losses) {
    const rs = okOf(loss);
    if (rs.length === 0) {
      md.push(`| ${loss} | failed |${ks.map(() => " |").join("")} | |`);
      continue;
    }
    const p = paired.get(loss);
    md.push(
      `| ${loss}${loss === plan.baseline ? " (baseline)" : ""} | ${
        ks.map((k) => pm(rs.map((r) => r.test[`NDCG@${k}`]), 4)).join(" | ")
      } | ${p ? formatDifference(p, 4) : "—"} | ${p ? p.verdict : "—"} | ${
        pm(rs.map((r) => r.trainSeconds), 1)
      } |`,
    );
  }
  const env = await environment();
  const note = `Linear scorer on ${train.path} (${steps} full-batch steps, lr ${lr}), NDCG on ` +
    `${test.path} (${test.queries.length} queries), mean ± std over ${plan.seeds} seed(s). Δ: ` +
    `paired difference from ${plan.baseline} with a 95 % interval from ${plan.resamples} ` +
    `bootstrap resamples of the test queries, pooled over seeds. ${env.adapter}, Deno ${env.deno}, ` +
    `commit ${env.commit.slice(0, 10)}.`;
  const failed = rows.filter((r) => !r.result);
  const report = `${note}\n\n${md.join("\n")}\n` +
    (failed.length > 0
      ? `\nFailed runs:\n${
        failed.map((r) => `- ${r.loss} seed ${r.seed}: ${r.error}`).join("\n")
      }\n`
      : "");
  await writeFileAtomic(runPath(plan.out, "results.md"), new TextEncoder().encode(report));
  await writeJson(runPath(plan.out, "results.json"), {
    kind: "compare-ltr",
    environment: env,
    args: Deno.args,
    baseline: plan.baseline,
    resamples: plan.resamples,
    rows: rows.map((r) => ({
      loss: r.loss,
      seed: r.seed,
      status: r.result ? "completed" : "failed",
      error: r.error,
      ndcg: r.result?.test ?? null,
      seconds: r.result?.trainSeconds ?? null,
    })),
    paired: Object.fromEntries(paired),
  });
  const drawn = plan.losses.filter((l) => okOf(l).length > 0);
  if (drawn.length > 0) {
    const ndcg = await intervalChart(
      drawn.map((l) => {
        const { mean, std } = meanStd(okOf(l).map((r) => r.test["NDCG@10"]));
        return { label: l, value: mean, lo: mean - std, hi: mean + std };
      }),
      {
        title: `NDCG@10 on ${test.path.split("/").pop()} (${test.queries.length} queries)`,
        xLabel: "NDCG@10",
        note: "mean ± std over seeds; axis zoomed to the data",
      },
    );
    const deltas = drawn.filter((l) => paired.has(l)).map((l) => {
      const d = paired.get(l)!;
      return { label: l, value: d.diff, lo: d.lo, hi: d.hi };
    });
    const panels = [ndcg];
    if (deltas.length > 0) {
      panels.push(
        await intervalChart(deltas, {
          title: `Δ NDCG@10 vs ${plan.baseline}`,
          xLabel: "NDCG@10 difference",
          reference: 0,
          note: "95 % paired bootstrap interval over test queries; left of 0 = worse",
        }),
      );
    }
    await writeFileAtomic(runPath(plan.out, "compare.png"), await grid([panels]).encode());
  }
  console.log(report);
  return failed.length > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  const flags = parseFlags(Deno.args, SPECS);
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  if (typeof flags.ltr === "string" && typeof flags.data === "string") {
    throw new UsageError("--ltr and --data are exclusive");
  }
  const ltr = typeof flags.ltr === "string";
  const defaults = ltr ? COMPARED_LOSSES : COMPARED_RETRIEVAL;
  const losses = (typeof flags.losses === "string" ? flags.losses : defaults.join(","))
    .split(",").map((s) => s.trim()).filter(Boolean);
  if (losses.length === 0) throw new UsageError("--losses names no loss");
  const baseline = typeof flags.baseline === "string" ? flags.baseline : "softmax";
  if (!losses.includes(baseline)) losses.unshift(baseline);
  for (const l of losses) {
    const { loss, simix } = lossVariant(l);
    checkLoss(loss, {}, "--losses", !ltr);
    if (simix && (ltr || isBatchLoss(loss))) {
      throw new UsageError(
        `--losses ${l}: SiMix mixes in-batch retrieval candidates` +
          (ltr ? ", not --ltr lists" : `; '${loss}' is a batch loss`),
      );
    }
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const plan: Plan = {
    losses,
    baseline,
    options: perLossOptions(keyValueFlags("loss-opt", flags["loss-opt"]), losses),
    seeds: numberFlag("seeds", flags.seeds, 3, { integer: true, min: 1 }),
    resamples: numberFlag("resamples", flags.resamples, 2000, { integer: true, min: 100 }),
    out: typeof flags.out === "string" ? flags.out : `runs/compare-${stamp}`,
    force: Boolean(flags.force),
    resume: Boolean(flags.resume),
    norm: choiceFlag<NormMethod>("norm", flags.norm, [...NORM_METHODS], "none"),
    normParams: {},
  };
  const normGiven = keyValueFlags("norm-opt", flags["norm-opt"]);
  if (plan.norm === "none" && Object.keys(normGiven).length > 0) {
    throw new UsageError("--norm-opt needs --norm invsoftmax|dbnorm|nnn");
  }
  if (plan.norm !== "none") {
    if (typeof flags.ltr === "string") {
      throw new UsageError("--norm applies to retrieval, not --ltr");
    }
    try {
      plan.normParams = normParams(plan.norm, normGiven);
    } catch (e) {
      throw new UsageError(`--norm-opt: ${(e as Error).message}`);
    }
  }
  if (plan.resume && plan.force) throw new UsageError("--resume and --force are exclusive");
  if (plan.resume && typeof flags.out !== "string") {
    throw new UsageError("--resume needs --out DIR: the compare folder to continue");
  }
  if (plan.resume && ltr) throw new UsageError("--resume applies to retrieval, not --ltr");
  if (typeof flags.ltr === "string") return await compareLtr(flags, flags.ltr, plan);
  return await compareRetrieval(flags, plan);
}

if (import.meta.main) {
  await runMain(
    main,
    HELP,
    "a lower --batch (the per-step score matrices); the training part's features are kept in " +
      "one GPU buffer per modality, so a larger dataset needs fewer items or lower-dimensional " +
      "features",
  );
}
