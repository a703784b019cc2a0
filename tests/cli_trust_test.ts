/**
 * Evaluation trust, as a user meets it on the command line: train on a feature set, then
 * `eval --checkpoint RUN` with and without `--data` scores the same held-out part with the figures
 * training printed; run folders never mix; exit codes; `compare`'s paired intervals and failures.
 */
import { assertEquals, assertOk } from "./util.ts";
import { toyDataset, writeFeatureDir } from "./train_fixtures.ts";
import { parseRanksCsv } from "../src/eval/ranks_file.ts";
import { retrievalMetrics } from "../src/eval/metrics.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function cli(script: string, ...args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `src/cli/${script}.ts`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs `body` in a temporary folder holding a 100-image toy feature folder `feats`; removes it. */
async function withToyFeatures(
  seed: number,
  body: (dir: string, data: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-cli-" });
  try {
    const data = `${dir}/feats`;
    await Deno.mkdir(data);
    await writeFeatureDir(data, toyDataset({ images: 100, seed, noise: 0.6 }));
    await body(dir, data);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const SMALL = [
  "--epochs",
  "2",
  "--batch",
  "16",
  "--head",
  "mlp",
  "--embed-dim",
  "8",
  "--hidden",
  "16",
];

Deno.test("train, then eval --checkpoint: the run's held-out part, the figures training printed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-cli-" });
  try {
    const data = `${dir}/feats`;
    await Deno.mkdir(data);
    await writeFeatureDir(data, toyDataset({ images: 100, seed: 4, noise: 0.6 }));
    const run = `${dir}/run`;
    const train = await cli("train", "--data", data, "--out", run, "--json", ...SMALL);
    assertEquals(train.code, 0, train.err);
    const lines = train.out.trim().split("\n");
    assertEquals(lines.length, 1, `--json prints one object on stdout: ${train.out}`);
    const summary = JSON.parse(lines[0]);
    assertEquals(summary.split.parts.test, { images: 10, texts: 20 });

    const plain = await cli("eval", "--checkpoint", run, "--json");
    const withData = await cli("eval", "--checkpoint", run, "--data", data, "--json");
    assertEquals([plain.code, withData.code], [0, 0], plain.err + withData.err);
    const a = JSON.parse(plain.out);
    const b = JSON.parse(withData.out);
    assertEquals(a.data.split, "test");
    assertEquals(a.data.includesTrainingItems, false);
    assertEquals([a.data.images, a.data.texts], [10, 20]);
    assertEquals(
      { ...a, data: null },
      { ...b, data: null },
      "same figures with and without --data",
    );
    assertEquals(
      a.rsum,
      Math.round(summary.test.rsum * 1e4) / 1e4,
      "the test figure training printed",
    );

    // The validation part: the figure training printed for the kept checkpoint.
    const val = JSON.parse(
      (await cli("eval", "--checkpoint", run, "--split", "val", "--json")).out,
    );
    assertEquals(val.rsum, Math.round(summary.best.rsum * 1e4) / 1e4);
    assertEquals(val.data.includesTrainingItems, false);

    // Training items only when asked, and said so in the table.
    const trainPart = await cli("eval", "--checkpoint", run, "--split", "train");
    assertEquals(trainPart.code, 0, trainPart.err);
    assertOk(trainPart.out.includes("INCLUDES TRAINING ITEMS"), trainPart.out);

    // --ranks writes per-query ranks that reproduce the printed metrics.
    const ranksPath = `${dir}/ranks.csv`;
    const ranked = await cli("eval", "--checkpoint", run, "--json", "--ranks", ranksPath);
    const m = retrievalMetrics(parseRanksCsv(await Deno.readTextFile(ranksPath), ranksPath));
    assertEquals(Math.round(m.rsum * 1e4) / 1e4, JSON.parse(ranked.out).rsum);

    // The data is gone: a clear error naming the path, exit 1.
    await Deno.rename(data, `${dir}/moved`);
    const gone = await cli("eval", "--checkpoint", run, "--json");
    assertEquals([gone.code, gone.out], [1, ""]);
    assertOk(gone.err.includes("no longer exists") && gone.err.includes("--data"), gone.err);
    const moved = await cli("eval", "--checkpoint", run, "--data", `${dir}/moved`, "--json");
    assertEquals(JSON.parse(moved.out).rsum, a.rsum, "moved data is recognised by its content");
    await Deno.rename(`${dir}/moved`, data);

    // Run folders never mix; --resume refuses contradicting flags.
    const again = await cli("train", "--data", data, "--out", run, ...SMALL);
    assertEquals(again.code, 2, again.err);
    assertOk(again.err.includes("is not empty") && again.err.includes("--force"), again.err);
    const resume = await cli("train", "--resume", run, "--lr", "0.5");
    assertEquals(resume.code, 2, resume.err);
    assertOk(resume.err.includes("--lr 0.5"), resume.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exit codes: bad flags exit 2 with the usage line, data faults exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-cli-" });
  try {
    for (
      const [script, args, message] of [
        ["train", ["--loss", "nosuch"], "unknown loss 'nosuch'"],
        ["train", ["--loss-opt", "bogus=1"], "unknown option 'bogus'"],
        ["train", ["--k", "5"], "--k need --rerank"],
        ["compare", ["--losses", "softmax,nosuch", "--out", `${dir}/c1`], "unknown loss 'nosuch'"],
        [
          "compare",
          ["--loss-opt", "listnet.x=1", "--losses", "listnet", "--out", `${dir}/c2`],
          "unknown option 'x'",
        ],
      ] as const
    ) {
      const r = await cli(script, ...args);
      assertEquals([r.code, r.out], [2, ""], `${args}: ${r.err}`);
      assertOk(r.err.includes(message) && r.err.includes(`Usage: deno task ${script}`), r.err);
    }
    const missing = await cli("compare", "--data", `${dir}/nope`, "--out", `${dir}/c3`);
    assertEquals(missing.code, 1, missing.err);
    assertOk(missing.err.includes(`${dir}/nope`), missing.err);
    for (const c of ["c1", "c2", "c3"]) {
      assertEquals(await exists(`${dir}/${c}`), false, `${c} not created`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compare: paired intervals against the baseline, ranks kept, failures exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-cli-" });
  try {
    const data = `${dir}/feats`;
    await Deno.mkdir(data);
    await writeFeatureDir(data, toyDataset({ images: 100, seed: 6, noise: 0.6 }));
    const out = `${dir}/cmp`;
    const args = [
      "--data",
      data,
      "--seeds",
      "2",
      "--epochs",
      "1",
      "--batch",
      "16",
      "--resamples",
      "200",
    ];
    const r = await cli("compare", ...args, "--losses", "listnet", "--out", out);
    assertEquals(r.code, 0, r.err);
    assertOk(r.out.includes("Δ vs softmax [95% CI]") && r.out.includes("| listnet |"), r.out);
    assertOk(r.out.includes("held-out test part"), r.out);
    const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
    assertEquals(results.baseline, "softmax");
    assertEquals(results.part, "test");
    const p = results.paired.listnet.rsum;
    assertOk(p.lo <= p.diff && p.diff <= p.hi, JSON.stringify(p));
    for (const loss of ["softmax", "listnet"]) {
      for (const seed of [0, 1]) {
        const file = `${out}/ranks/${loss}-s${seed}.csv`;
        const m = retrievalMetrics(parseRanksCsv(await Deno.readTextFile(file), file));
        const run = results.runs.find((x: { loss: string; seed: number }) =>
          x.loss === loss && x.seed === seed
        );
        assertEquals(m, run.metrics, `${file} reproduces the reported metrics`);
      }
    }
    // A run that diverges is marked failed and the command exits 1.
    const bad = await cli(
      "compare",
      ...args,
      "--seeds",
      "1",
      "--lr",
      "1e30",
      "--out",
      `${dir}/bad`,
    );
    assertEquals(bad.code, 1, bad.err);
    assertOk(bad.out.includes("failed"), bad.out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compare --resume: completed runs reused only when their config and data match", async () => {
  await withToyFeatures(6, async (dir, data) => {
    const out = `${dir}/cmp`;
    const args = ["--data", data, "--seeds", "1", "--epochs", "1", "--batch", "16"];
    const first = await cli("compare", ...args, "--losses", "listnet", "--out", out);
    assertEquals(first.code, 0, first.err);
    const before = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
    // The listnet run is interrupted: its summary no longer says completed.
    await Deno.writeTextFile(
      `${out}/runs/listnet-s0/summary.json`,
      JSON.stringify({ status: "interrupted", error: "killed" }),
    );
    const again = await cli("compare", ...args, "--losses", "listnet", "--out", out, "--resume");
    assertEquals(again.code, 0, again.err);
    assertOk(again.err.includes("softmax, seed 0: reused"), again.err);
    assertOk(!again.err.includes("listnet, seed 0: reused"), again.err);
    assertOk(again.out.includes("1 of 2 runs were reused"), again.out);
    const record0 = JSON.parse(await Deno.readTextFile(`${out}/compare.json`));
    const commit = String(record0.invocations[0].commit).slice(0, 10);
    assertOk(again.out.includes(`earlier invocations ran commit ${commit}`), again.out);
    const after = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
    const run = (r: { runs: { loss: string; resumed: boolean; metrics: unknown }[] }, l: string) =>
      r.runs.find((x) => x.loss === l)!;
    assertEquals(run(after, "softmax").resumed, true);
    assertEquals(run(after, "listnet").resumed, false);
    assertEquals(run(after, "softmax").metrics, run(before, "softmax").metrics);
    const record = JSON.parse(await Deno.readTextFile(`${out}/compare.json`));
    assertEquals(record.invocations.map((i: { resume: boolean }) => i.resume), [false, true]);
    // A completed run made with another budget is refused, naming the field; nothing is trained.
    const other = await cli("compare", ...args, "--epochs", "2", "--out", out, "--resume");
    assertEquals(other.code, 2, other.err);
    assertOk(other.err.includes("epochs 1") && other.err.includes("plans 2"), other.err);
    const notCompare = await cli("compare", ...args, "--out", `${dir}/feats`, "--resume");
    assertEquals(notCompare.code, 2, notCompare.err);
    assertOk(notCompare.err.includes("not a compare folder"), notCompare.err);
    const both = await cli("compare", ...args, "--out", out, "--resume", "--force");
    assertEquals(both.code, 2, both.err);
  });
});

Deno.test("compare --norm: each run scored with and without the normalisation, paired", async () => {
  await withToyFeatures(6, async (dir, data) => {
    const out = `${dir}/cmp`;
    const r = await cli(
      "compare",
      ...["--data", data, "--seeds", "1", "--epochs", "1", "--batch", "16", "--resamples", "200"],
      ...["--losses", "listnet", "--norm", "nnn", "--norm-opt", "k=8", "--out", out],
    );
    assertEquals(r.code, 0, r.err);
    assertOk(r.out.includes("With nnn (alpha=0.75, k=8), bank = each run's training part"), r.out);
    assertOk(r.out.includes("Δ rsum vs raw [95% CI]"), r.out);
    const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
    assertEquals(results.norm.method, "nnn");
    assertEquals(results.norm.runs.length, 2);
    for (const run of results.norm.runs) {
      const file = `${out}/${run.ranks}`;
      const m = retrievalMetrics(parseRanksCsv(await Deno.readTextFile(file), file));
      assertEquals(m, run.metrics, `${file} reproduces the normalised metrics`);
    }
    const p = results.norm.paired.listnet.vsRaw.rsum;
    assertOk(p.lo <= p.diff && p.diff <= p.hi, JSON.stringify(p));
    const bad = await cli("compare", "--data", data, "--norm-opt", "k=3", "--out", `${dir}/b`);
    assertEquals(bad.code, 2, bad.err);
  });
});

Deno.test("a run on the embedded default: eval --checkpoint regenerates it and scores its test part", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-cli-" });
  try {
    const run = `${dir}/run`;
    const t = await cli("train", "--out", run, "--epochs", "1", "--max-steps", "2", "--json");
    assertEquals(t.code, 0, t.err);
    const e = await cli("eval", "--checkpoint", run, "--json");
    assertEquals(e.code, 0, e.err);
    const got = JSON.parse(e.out);
    assertEquals(
      [
        got.data.path,
        got.data.name,
        got.data.split,
        got.data.images,
        got.data.includesTrainingItems,
      ],
      [null, "default", "test", 200, false],
    );
    assertEquals(got.rsum, Math.round(JSON.parse(t.out).test.rsum * 1e4) / 1e4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train refuses a batch whose lists a loss cannot sort here, before any training", async () => {
  const out = await Deno.makeTempDir({ prefix: "crossrank-bigbatch-" });
  try {
    const r = await cli("train", "--batch", "1600", "--max-steps", "1", "--out", out, "--force");
    assertEquals(r.code, 1, r.err);
    assertOk(
      /--batch 1600 with --captions-per-image 2 gives in-batch lists of up to 3202 items, over the 2978/
        .test(r.err),
      r.err,
    );
    assertOk(!r.err.includes("epoch 0 (before training)"), "refused only after validating");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
