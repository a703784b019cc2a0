/**
 * `deno task compare`: trains every chosen loss with the same budget, seeds, model and split, and
 * writes `results.csv`, `results.md`, `results.json` and `compare.png`. With `--ltr DIR` it instead
 * trains a linear scorer on `DIR/rank.train` with each loss and reports NDCG@1/3/5/10 on
 * `DIR/rank.test`.
 *
 * @module
 */

import { stringify } from "csv-stringify";
import { COMPARED_LOSSES, lossNames } from "../losses/mod.ts";
import { getLoss, resolveOptions } from "../losses/registry.ts";
import { readSvmlight } from "../data/svmlight.ts";
import { writeFileAtomic } from "../data/errors.ts";
import type { RetrievalMetrics } from "../eval/metrics.ts";
import { barChart, grid } from "../report/charts.ts";
import { environment } from "../report/environment.ts";
import { curvesPng, hasImages } from "../report/run_plots.ts";
import { loadTrainData } from "../train/data.ts";
import { Progress } from "../train/progress.ts";
import { type RunSummary, runTraining } from "../train/run.ts";
import { trainLtr } from "../train/ltr.ts";
import { runPath, writeJson } from "../train/run_dir.ts";
import type { TrainConfig } from "../train/trainer.ts";
import {
  keyValueFlags,
  numberFlag,
  type OptionSpec,
  parseFlags,
  runMain,
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
    help: "losses to compare",
    default: COMPARED_LOSSES.join(","),
  },
  "loss-opt": {
    type: "string",
    value: "LOSS.K=V",
    multiple: true,
    help: "an option of one loss, repeatable (e.g. --loss-opt lambdaloss.scheme=ndcgLoss2PP)",
  },
  seeds: { type: "string", value: "N", help: "training seeds per loss (0..N-1)", default: "3" },
  epochs: { type: "string", value: "N", help: "epochs per run (retrieval)", default: "10" },
  batch: { type: "string", value: "B", help: "images per batch", default: "128" },
  lr: {
    type: "string",
    value: "X",
    help: "peak learning rate (retrieval: as train's auto; LTR: 0.01)",
    default: "auto",
  },
  steps: { type: "string", value: "N", help: "full-batch steps per LTR run", default: "300" },
  "val-fraction": {
    type: "string",
    value: "F",
    help: "validation fraction of user data",
    default: "0.2",
  },
  "max-steps": {
    type: "string",
    value: "N",
    help: "cap on steps per retrieval run (0 = none)",
    default: "0",
  },
  out: { type: "string", value: "DIR", help: "output folder", default: "runs/compare-<time>" },
  help: { type: "boolean", help: "show this help" },
};

const HELP = usage(
  "deno task compare [--data DIR | --ltr DIR] [--losses a,b] [--seeds N] [--out DIR]",
  "Trains every loss with the same budget, seeds, model and split and tabulates the results\n" +
    "(mean ± std over seeds). Retrieval metrics are those of each run's kept checkpoint (best\n" +
    "validation rsum) on the test split when the data has one (the embedded default), else on\n" +
    `validation. Losses: ${lossNames().join(", ")}.`,
  SPECS,
);

function meanStd(values: number[]): { mean: number; std: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(n, 1);
  const variance = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

function pm(values: number[], digits = 1): string {
  const { mean, std } = meanStd(values);
  return values.length > 1
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
  for (const l of losses) resolveOptions(getLoss(l), out[l]);
  return out;
}

interface Row {
  loss: string;
  seed: number;
  split: string;
  metrics: RetrievalMetrics;
  summary: RunSummary;
}

const COLUMNS = ["R@1", "R@5", "R@10"] as const;

async function compareRetrieval(
  flags: ReturnType<typeof parseFlags>,
  out: string,
  losses: string[],
) {
  const progress = new Progress();
  const seeds = numberFlag("seeds", flags.seeds, 3, { integer: true, min: 1 });
  const options = perLossOptions(keyValueFlags("loss-opt", flags["loss-opt"]), losses);
  const dataPath = typeof flags.data === "string" ? flags.data : null;
  const valFraction = numberFlag("val-fraction", flags["val-fraction"], 0.2, {
    min: 0.01,
    max: 0.9,
  });
  const data = await loadTrainData(dataPath, { valFraction, log: (l) => progress.log(l) });
  const rows: Row[] = [];
  for (const loss of losses) {
    for (let seed = 0; seed < seeds; seed++) {
      const config: TrainConfig = {
        data: dataPath,
        loss,
        lossOptions: options[loss],
        epochs: numberFlag("epochs", flags.epochs, 10, { integer: true, min: 1 }),
        batch: numberFlag("batch", flags.batch, 128, { integer: true, min: 2 }),
        captionsPerImage: 2,
        lr: flags.lr === undefined ? null : numberFlag("lr", flags.lr, 0.002, { min: 0 }),
        minLrRatio: 0.01,
        warmup: 0.05,
        weightDecay: 0.01,
        decayTo: "auto",
        clip: 1,
        seed,
        dataSeed: 0,
        valFraction,
        model: {},
        logEvery: 50,
        maxSteps: numberFlag("max-steps", flags["max-steps"], 0, { integer: true, min: 0 }),
        out: runPath(out, `runs/${loss}-s${seed}`),
      };
      const plots = { curves: curvesPng, hasImages };
      const result = await runTraining(config, { data, progress, plots });
      if (!result.summary) {
        progress.log(
          `${loss} seed ${seed}: ${result.error ?? "interrupted"} — excluded from the table`,
        );
        continue;
      }
      const s = result.summary;
      const split = s.test ? "test" : "val";
      rows.push({ loss, seed, split, metrics: (s.test ?? s.best)!, summary: s });
    }
  }
  if (rows.length === 0) throw new Error("compare: no run finished");
  const header = [
    "loss",
    "seed",
    "split",
    ...COLUMNS.map((k) => `t2i_${k}`),
    ...COLUMNS.map((k) => `i2t_${k}`),
    "rsum",
    "t2i_MedR",
    "i2t_MedR",
    "t2i_mAP",
    "i2t_mAP",
    "train_seconds",
    "steps_per_sec",
    "best_epoch",
  ];
  const csvRows = rows.map((r) => [
    r.loss,
    r.seed,
    r.split,
    ...COLUMNS.map((k) => r.metrics.t2i[k]),
    ...COLUMNS.map((k) => r.metrics.i2t[k]),
    r.metrics.rsum,
    r.metrics.t2i.MedR,
    r.metrics.i2t.MedR,
    r.metrics.t2i.mAP,
    r.metrics.i2t.mAP,
    r.summary.trainSeconds,
    r.summary.stepsPerSec,
    r.summary.bestEpoch,
  ]);
  await writeFileAtomic(
    runPath(out, "results.csv"),
    new TextEncoder().encode(stringify([header, ...csvRows])),
  );
  const byLoss = losses.map((loss) => ({ loss, rs: rows.filter((r) => r.loss === loss) })).filter((
    g,
  ) => g.rs.length > 0);
  const split = rows[0].split;
  const md = [
    `| loss | t2i R@1 | t2i R@5 | t2i R@10 | i2t R@1 | i2t R@5 | i2t R@10 | rsum | t2i MedR | i2t MedR | train s | steps/s |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...byLoss.map(({ loss, rs }) =>
      `| ${loss} | ${COLUMNS.map((k) => pm(rs.map((r) => r.metrics.t2i[k]))).join(" | ")} | ` +
      `${COLUMNS.map((k) => pm(rs.map((r) => r.metrics.i2t[k]))).join(" | ")} | ` +
      `${pm(rs.map((r) => r.metrics.rsum))} | ${pm(rs.map((r) => r.metrics.t2i.MedR))} | ` +
      `${pm(rs.map((r) => r.metrics.i2t.MedR))} | ${
        pm(rs.map((r) => r.summary.trainSeconds), 0)
      } | ` +
      `${pm(rs.map((r) => r.summary.stepsPerSec), 2)} |`
    ),
  ];
  // The model before training, on the same split (zero-shot for adapters on pretrained features,
  // random initial heads otherwise); only when the table's split is validation, where it was measured.
  const initial = rows.map((r) => r.summary.initial).filter((m) => m !== null);
  if (split === "val" && initial.length > 0) {
    const one = (f: (m: RetrievalMetrics) => number) => pm(initial.map(f));
    md.push(
      `| _before training_ | ${COLUMNS.map((k) => one((m) => m.t2i[k])).join(" | ")} | ` +
        `${COLUMNS.map((k) => one((m) => m.i2t[k])).join(" | ")} | ${one((m) => m.rsum)} | ` +
        `${one((m) => m.t2i.MedR)} | ${one((m) => m.i2t.MedR)} | — | — |`,
    );
  }
  const env = await environment();
  const note =
    `Dataset ${
      rows[0].summary.dataset.replace(/-train$/, "")
    }, metrics on the ${split} split, mean ± std over ` +
    `${seeds} seed(s); ${env.adapter}, Deno ${env.deno}, commit ${env.commit.slice(0, 10)}.`;
  await writeFileAtomic(
    runPath(out, "results.md"),
    new TextEncoder().encode(`${note}\n\n${md.join("\n")}\n`),
  );
  await writeJson(runPath(out, "results.json"), {
    kind: "compare-retrieval",
    environment: env,
    args: Deno.args,
    split,
    runs: rows.map((r) => ({ loss: r.loss, seed: r.seed, metrics: r.metrics, summary: r.summary })),
  });
  const rsum = await barChart(
    [{
      label: "rsum",
      values: byLoss.map(({ rs }) => meanStd(rs.map((r) => r.metrics.rsum)).mean),
      errors: byLoss.map(({ rs }) => meanStd(rs.map((r) => r.metrics.rsum)).std),
    }],
    byLoss.map((g) => g.loss),
    { title: `rsum (${split}), mean ± std over seeds`, width: 560 },
  );
  const recall = await barChart(
    (["t2i", "i2t"] as const).flatMap((dir) =>
      COLUMNS.map((k) => ({
        label: `${dir} ${k}`,
        values: byLoss.map(({ rs }) => meanStd(rs.map((r) => r.metrics[dir][k])).mean),
        errors: byLoss.map(({ rs }) => meanStd(rs.map((r) => r.metrics[dir][k])).std),
      }))
    ),
    byLoss.map((g) => g.loss),
    { title: `recall (${split}, %)`, width: 900 },
  );
  await writeFileAtomic(runPath(out, "compare.png"), await grid([[rsum, recall]]).encode());
  console.log(`${note}\n\n${md.join("\n")}`);
  progress.log(`wrote ${out}/results.{csv,md,json} and compare.png`);
}

async function compareLtr(
  flags: ReturnType<typeof parseFlags>,
  dir: string,
  out: string,
  losses: string[],
) {
  const progress = new Progress();
  const seeds = numberFlag("seeds", flags.seeds, 3, { integer: true, min: 1 });
  const options = perLossOptions(keyValueFlags("loss-opt", flags["loss-opt"]), losses);
  const steps = numberFlag("steps", flags.steps, 300, { integer: true, min: 1 });
  const lr = numberFlag("lr", flags.lr, 0.01, { min: 0 });
  const train = await readSvmlight(`${dir}/rank.train`);
  const test = await readSvmlight(`${dir}/rank.test`, { dim: train.dim });
  progress.log(
    `LTR: ${train.queries.length} train queries, ${test.queries.length} test queries, ${train.dim} features`,
  );
  const ks = [1, 3, 5, 10];
  const rows: { loss: string; seed: number; ndcg: Record<string, number>; seconds: number }[] = [];
  for (const loss of losses) {
    for (let seed = 0; seed < seeds; seed++) {
      try {
        const r = await trainLtr(train, test, {
          loss,
          lossOptions: options[loss],
          steps,
          lr,
          seed,
          ks,
        });
        rows.push({ loss, seed, ndcg: r.test, seconds: r.trainSeconds });
        progress.log(
          `${loss} seed ${seed}: ${
            ks.map((k) => `NDCG@${k} ${r.test[`NDCG@${k}`].toFixed(4)}`).join("  ")
          }`,
        );
      } catch (e) {
        progress.log(`${loss} seed ${seed}: ${(e as Error).message} — excluded`);
      }
    }
  }
  const header = ["loss", "seed", ...ks.map((k) => `NDCG@${k}`), "train_seconds"];
  await writeFileAtomic(
    runPath(out, "results.csv"),
    new TextEncoder().encode(
      stringify([
        header,
        ...rows.map((r) => [r.loss, r.seed, ...ks.map((k) => r.ndcg[`NDCG@${k}`]), r.seconds]),
      ]),
    ),
  );
  const byLoss = losses.map((loss) => ({ loss, rs: rows.filter((r) => r.loss === loss) })).filter((
    g,
  ) => g.rs.length > 0);
  const md = [
    `| loss | ${ks.map((k) => `NDCG@${k}`).join(" | ")} | train s |`,
    `| --- | ${ks.map(() => "---:").join(" | ")} | ---: |`,
    ...byLoss.map(({ loss, rs }) =>
      `| ${loss} | ${ks.map((k) => pm(rs.map((r) => r.ndcg[`NDCG@${k}`]), 4)).join(" | ")} | ${
        pm(rs.map((r) => r.seconds), 1)
      } |`
    ),
  ];
  const env = await environment();
  const note = `Linear scorer on ${train.path} (${steps} full-batch steps, lr ${lr}), NDCG on ` +
    `${test.path}, mean ± std over ${seeds} seed(s); ${env.adapter}, Deno ${env.deno}, commit ${
      env.commit.slice(0, 10)
    }.`;
  await writeFileAtomic(
    runPath(out, "results.md"),
    new TextEncoder().encode(`${note}\n\n${md.join("\n")}\n`),
  );
  await writeJson(runPath(out, "results.json"), {
    kind: "compare-ltr",
    environment: env,
    args: Deno.args,
    rows,
  });
  const chart = await barChart(
    ks.map((k) => ({
      label: `NDCG@${k}`,
      values: byLoss.map(({ rs }) => meanStd(rs.map((r) => r.ndcg[`NDCG@${k}`])).mean),
      errors: byLoss.map(({ rs }) => meanStd(rs.map((r) => r.ndcg[`NDCG@${k}`])).std),
    })),
    byLoss.map((g) => g.loss),
    { title: "NDCG on rank.test", width: 900 },
  );
  await writeFileAtomic(runPath(out, "compare.png"), await chart.encode());
  console.log(`${note}\n\n${md.join("\n")}`);
}

async function main(): Promise<number> {
  const flags = parseFlags(Deno.args, SPECS);
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  const losses = (typeof flags.losses === "string" ? flags.losses : COMPARED_LOSSES.join(","))
    .split(",").map((s) => s.trim()).filter(Boolean);
  for (const l of losses) getLoss(l);
  if (typeof flags.ltr === "string" && typeof flags.data === "string") {
    throw new UsageError("--ltr and --data are exclusive");
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const out = typeof flags.out === "string" ? flags.out : `runs/compare-${stamp}`;
  await Deno.mkdir(out, { recursive: true });
  if (typeof flags.ltr === "string") await compareLtr(flags, flags.ltr, out, losses);
  else await compareRetrieval(flags, out, losses);
  return 0;
}

if (import.meta.main) await runMain(main, HELP);
