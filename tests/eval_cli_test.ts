import { assertAllClose, assertEquals, assertOk, rng, runCli, sharedData } from "./util.ts";
import { readNpy, writeNpy } from "../src/data/npy.ts";
import { METRIC_KEYS, type RetrievalMetrics } from "../src/eval/metrics.ts";
import { retrievalRef } from "../src/reference/retrieval.ts";

/** Runs `deno task eval`'s script with `args`; returns exit code, stdout and stderr. */
const runEval = (...args: string[]) => runCli("eval", ...args);

/** What `--json` says it scored. */
interface ScoredData {
  path: string | null;
  name: string;
  split: string;
  images: number;
  texts: number;
  includesTrainingItems: boolean;
  fingerprint: string;
}

/** Parses stdout that must be exactly one JSON object with the CLI's keys, in order. */
function parseMetrics(out: string): RetrievalMetrics & { data: ScoredData; norm: unknown } {
  const lines = out.trim().split("\n");
  assertEquals(lines.length, 1, `stdout is one line: ${out}`);
  const m = JSON.parse(lines[0]) as RetrievalMetrics & { data: ScoredData; norm: unknown };
  assertEquals(Object.keys(m), ["t2i", "i2t", "rsum", "data", "norm"]);
  assertEquals(Object.keys(m.data), [
    "path",
    "name",
    "split",
    "images",
    "texts",
    "includesTrainingItems",
    "fingerprint",
  ]);
  assertEquals(Object.keys(m.t2i), [...METRIC_KEYS]);
  assertEquals(Object.keys(m.i2t), [...METRIC_KEYS]);
  return m;
}

/** Compares printed metrics (rounded to 4 decimals) with the float64 reference. */
function assertMatchesReference(got: RetrievalMetrics, ref: RetrievalMetrics, what: string) {
  for (const dir of ["t2i", "i2t"] as const) {
    for (const key of METRIC_KEYS) {
      assertAllClose(
        [got[dir][key]],
        [ref[dir][key]],
        { atol: 5.1e-5, rtol: 0 },
        `${what} ${dir} ${key}`,
      );
    }
  }
  assertAllClose([got.rsum], [ref.rsum], { atol: 5.1e-5, rtol: 0 }, `${what} rsum`);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-eval-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const FLICKR = sharedData("flickr8k-clip-b32-val");

Deno.test({
  name: "deno task eval --data flickr8k --json gives the independent zero-shot figures",
  ignore: FLICKR === null,
  fn: async () => {
    const { code, out, err } = await runEval("--data", FLICKR!, "--json");
    assertEquals(code, 0, err);
    const m = parseMetrics(out);
    // The independent numpy computation (float64 cosine, rank = 1 + #{j ≠ i : s_j ≥ s_i}, the
    // same pessimistic tie rule): t2i R@1 55.9 R@5 80.8 R@10 88.6 MedR 1 MeanR 6.318;
    // i2t R@1 55.8 R@5 83.1 R@10 91.8 MedR 1 MeanR 4.531; rsum 456.0.
    assertEquals([m.t2i["R@1"], m.t2i["R@5"], m.t2i["R@10"], m.t2i.MedR], [55.9, 80.8, 88.6, 1]);
    assertEquals([m.i2t["R@1"], m.i2t["R@5"], m.i2t["R@10"], m.i2t.MedR], [55.8, 83.1, 91.8, 1]);
    assertEquals([m.t2i.MeanR, m.i2t.MeanR, m.rsum], [6.318, 4.531, 456]);
    // MRR = mean(1 / rank) in %, from the same numpy ranks: t2i 67.2302, i2t 67.9676.
    assertEquals([m.t2i.MRR, m.i2t.MRR], [67.2302, 67.9676]);
    // And every metric equals the float64 CPU reference on the same data.
    const images = await readNpy(`${FLICKR}/images.npy`);
    const texts = await readNpy(`${FLICKR}/texts.npy`);
    const identity = Int32Array.from({ length: texts.shape[0] }, (_, t) => t);
    const ref = retrievalRef(texts.data, images.data, texts.shape[1], identity).metrics;
    assertMatchesReference(m, ref, "flickr8k");
    assertEquals(
      [m.data.path, m.data.split, m.data.images, m.data.texts, m.data.includesTrainingItems],
      [FLICKR, "all", 1000, 1000, false],
    );
    assertOk(
      err.includes(`eval: flickr8k-clip-b32-val (${FLICKR}), all of it: 1000 texts × 1000 images`),
      err,
    );
  },
});

Deno.test("deno task eval: table and --json on a small generated features dir", async () => {
  await withDir(async (dir) => {
    const [ni, k, dim] = [6, 2, 4];
    const u = rng(3);
    const images = Float32Array.from({ length: ni * dim }, () => u() - 0.5);
    // Caption t belongs to image ⌊t / k⌋ (the Karpathy layout): a noisy copy of it.
    const texts = Float32Array.from(
      { length: ni * k * dim },
      (_, e) => images[Math.floor(e / dim / k) * dim + (e % dim)] + 0.6 * (u() - 0.5),
    );
    await writeNpy(`${dir}/images.npy`, images, [ni, dim]);
    await writeNpy(`${dir}/texts.npy`, texts, [ni * k, dim]);
    const [table, json] = await Promise.all([
      runEval("--data", dir),
      runEval("--data", dir, "--json"),
    ]);
    assertEquals([table.code, json.code], [0, 0], table.err + json.err);
    const name = dir.split("/").at(-1)!;
    for (
      const line of [
        `${name} (${dir}), all of it: 12 texts × 6 images, 4-d`,
        "text → image",
        "image → text",
        "rsum ",
      ]
    ) {
      assertOk(table.out.includes(line), `table has "${line}":\n${table.out}`);
    }
    const relation = Int32Array.from({ length: ni * k }, (_, t) => Math.floor(t / k));
    const ref = retrievalRef(texts, images, dim, relation).metrics;
    assertMatchesReference(parseMetrics(json.out), ref, "small");
    assertOk(table.out.includes(`rsum ${ref.rsum.toFixed(2)}`), table.out);
    // The table carries the header: stderr does not repeat it.
    assertEquals(table.err.includes("12 texts × 6 images"), false, table.err);
  });
});

Deno.test("deno task eval: different text and image dims fail clearly (exit 1)", async () => {
  await withDir(async (dir) => {
    await writeNpy(`${dir}/images.npy`, new Float32Array(8).fill(1), [2, 4]);
    await writeNpy(`${dir}/texts.npy`, new Float32Array(6).fill(1), [2, 3]);
    const { code, out, err } = await runEval("--data", dir, "--json");
    assertEquals([code, out], [1, ""]);
    assertOk(
      err.includes(
        "texts have 3 dims, images 4: zero-shot cosine needs equal dims; train a model first " +
          "or pass --checkpoint",
      ),
      err,
    );
  });
});

Deno.test("deno task eval: --help, and bad flags exit 2 with the usage", async () => {
  const help = await runEval("--help");
  assertEquals(help.code, 0);
  for (const flag of ["--data DIR", "--json", "--split", "--image-chunk N", "(default: "]) {
    assertOk(help.out.includes(flag), `help lists ${flag}:\n${help.out}`);
  }
  for (
    const [args, message] of [
      [["--bogus"], "Unknown option '--bogus'"],
      [["--image-chunk", "0"], "--image-chunk must be between 1"],
      [["--split", "nope"], "--split must be one of all, train, val, test"],
      [["extra"], "unexpected argument 'extra'"],
    ] as const
  ) {
    const r = await runEval(...args);
    assertEquals([r.code, r.out], [2, ""], `${args}: ${r.err}`);
    assertOk(r.err.includes(message) && r.err.includes("Usage: deno task eval"), r.err);
  }
});

Deno.test({
  name: "deno task eval --norm: bank of the train part, recorded in the JSON; overlaps refused",
  ignore: FLICKR === null,
  fn: async () => {
    const base = ["--data", FLICKR!, "--split", "test", "--json"];
    const none = parseMetrics((await runEval(...base)).out);
    assertEquals(none.norm, { method: "none" });
    for (const norm of ["invsoftmax", "dbnorm", "nnn"]) {
      const r = await runEval(...base, "--norm", norm, "--bank", FLICKR!);
      assertEquals(r.code, 0, r.err);
      const m = parseMetrics(r.out) as ReturnType<typeof parseMetrics> & {
        norm: { method: string; bank: { split: string; texts: number; fingerprint: string } };
      };
      assertEquals([m.norm.method, m.norm.bank.split, m.norm.bank.texts], [norm, "train", 800]);
      assertEquals(m.norm.bank.fingerprint, m.data.fingerprint);
      assertOk(r.err.includes(`${norm} (`) && r.err.includes("train part: 800 texts"), r.err);
    }
    // NNN with its defaults changes the test figures (measured: rsum 562 → 567).
    const nnn = parseMetrics(
      (await runEval(...base, "--norm", "nnn", "--bank", FLICKR!, "--norm-opt", "alpha=0")).out,
    );
    assertEquals(nnn.rsum, none.rsum, "alpha = 0 is no normalisation");
    // The bank may not hold the evaluated queries; the flags are checked.
    const all = await runEval("--data", FLICKR!, "--norm", "nnn", "--bank", FLICKR!);
    assertEquals(all.code, 2, all.err);
    assertOk(all.err.includes("would contain the evaluated queries"), all.err);
    const noBank = await runEval("--data", FLICKR!, "--split", "test", "--norm", "nnn");
    assertEquals(noBank.code, 2);
    assertOk(noBank.err.includes("--norm needs a bank"), noBank.err);
    const tune = await runEval(...base, "--norm", "nnn", "--bank", FLICKR!, "--norm-tune");
    assertEquals(tune.code, 2);
    assertOk(tune.err.includes("needs --checkpoint"), tune.err);
    const opt = await runEval(...base, "--norm", "nnn", "--bank", FLICKR!, "--norm-opt", "beta=2");
    assertEquals(opt.code, 2);
    assertOk(opt.err.includes("nnn has no parameter 'beta'"), opt.err);
  },
});

Deno.test({
  name: "eval --checkpoint --norm: the run's training part is the bank, --norm-tune picks on val",
  ignore: FLICKR === null,
  fn: async () => {
    await withDir(async (dir) => {
      const run = `${dir}/run`;
      const t = await runCli(
        "train",
        ...["--data", FLICKR!, "--epochs", "1", "--max-steps", "2", "--out", run, "--json"],
      );
      assertEquals(t.code, 0, t.err);
      const r = await runEval("--checkpoint", run, "--norm", "invsoftmax", "--norm-tune", "--json");
      assertEquals(r.code, 0, r.err);
      const m = parseMetrics(r.out) as ReturnType<typeof parseMetrics> & {
        norm: {
          params: { beta: number; k: number };
          bank: { split: string };
          tuned: { on: string };
        };
      };
      assertEquals([m.data.split, m.norm.bank.split, m.norm.tuned.on], ["test", "train", "val"]);
      assertOk(r.err.includes("--norm-tune chose invsoftmax"), r.err);
      assertOk(r.err.includes("on the validation part"), r.err);
      // 15 grid points (5 betas × 3 ks), each scored on the validation part.
      assertEquals(r.err.split("validation rsum").length - 1, 15, r.err);
      const train = await runEval("--checkpoint", run, "--split", "train", "--norm", "nnn");
      assertEquals(train.code, 2, train.err);
      assertOk(train.err.includes("would contain the evaluated queries"), train.err);
      const val = await runEval(
        "--checkpoint",
        run,
        "--split",
        "val",
        "--norm",
        "nnn",
        "--norm-tune",
      );
      assertEquals(val.code, 2, val.err);
    });
  },
});
