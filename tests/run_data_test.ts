/**
 * Evaluation trust, library level: one split function everywhere, run data found again by
 * fingerprint, run folders that never mix, divergence stopping cleanly, per-query ranks files and
 * the paired bootstrap.
 */
import {
  assertAllClose,
  assertEquals,
  assertOk,
  assertRejects,
  assertThrows,
  gpuTest,
} from "./util.ts";
import { quietProgress, smallConfig, toyDataset, writeFeatureDir } from "./train_fixtures.ts";
import { loadDataset, loadRetrievalSplits } from "../src/data/load.ts";
import { assignImages, DEFAULT_SPLIT, splitByImage } from "../src/data/split.ts";
import { fingerprintDataset } from "../src/data/source.ts";
import { oneToOne } from "../src/data/relation.ts";
import { writeNpy } from "../src/data/npy.ts";
import { loadTrainData, resolveRunData, runDataRecord } from "../src/train/data.ts";
import { runTraining } from "../src/train/run.ts";
import {
  prepareNewRunDir,
  ranksFile,
  readRunConfig,
  removeTempFiles,
  RUN_FILES,
  runPath,
} from "../src/train/run_dir.ts";
import type { TrainData } from "../src/train/trainer.ts";
import { parseRanksCsv, ranksCsv } from "../src/eval/ranks_file.ts";
import { retrievalMetrics, type RetrievalRanks } from "../src/eval/metrics.ts";
import { formatDifference, pairedBootstrap, pairedDifference } from "../src/eval/bootstrap.ts";
import { readSafetensors } from "../src/data/safetensors.ts";

async function tempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-trust-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("split: one assignment, 80/10/10 by default, used by loading and training alike", async () => {
  const parts = assignImages(50, DEFAULT_SPLIT);
  assertEquals([parts.train.length, parts.val.length, parts.test.length], [40, 5, 5]);
  const all = [...parts.train, ...parts.val, ...parts.test].sort((a, b) => a - b);
  assertEquals(all, Array.from({ length: 50 }, (_, i) => i), "a partition of the images");
  await tempDir(async (dir) => {
    const ds = toyDataset({ images: 50, seed: 7 });
    await writeFeatureDir(dir, ds);
    const viaLoad = await loadRetrievalSplits(dir);
    const viaTrain = await loadTrainData(dir);
    for (const part of ["train", "val", "test"] as const) {
      const expected = splitByImage(ds, DEFAULT_SPLIT)[part];
      assertEquals(viaLoad[part].images, expected.images, `load ${part}`);
      assertEquals(viaTrain[part]!.images, expected.images, `train ${part}`);
    }
    assertEquals(viaTrain.split!.parts.test.images, 5);
    assertEquals(viaTrain.source!.fingerprint, await fingerprintDataset(ds));
  });
});

Deno.test("fingerprint: the same content anywhere is the same data; a changed value is not", async () => {
  const ds = toyDataset({ images: 12, seed: 1 });
  const a = await fingerprintDataset(ds);
  assertEquals(await fingerprintDataset({ ...ds, name: "elsewhere" }), a);
  const texts = ds.texts.slice();
  texts[5] += 1e-6;
  assertOk((await fingerprintDataset({ ...ds, texts })) !== a);
  const relation = ds.textToImage.slice();
  [relation[0], relation[1]] = [relation[1], relation[0]];
  assertOk(
    relation[0] === relation[1] ||
      (await fingerprintDataset({ ...ds, textToImage: relation })) !== a,
  );
  assertOk(/^sha256:[0-9a-f]{64}$/.test(a), a);
});

gpuTest(
  "a run's data is found again: held-out part by default, moved or changed data handled",
  async () => {
    await tempDir(async (dir) => {
      const data = `${dir}/data`;
      await Deno.mkdir(data);
      await writeFeatureDir(data, toyDataset({ images: 60, seed: 5, noise: 0.5 }));
      const run = `${dir}/run`;
      const outcome = await runTraining(
        smallConfig(run, { data, epochs: 1, valFraction: 0.1, testFraction: 0.1 }),
        { progress: quietProgress() },
      );
      const record = runDataRecord(run, await readRunConfig(run));
      const own = await resolveRunData(run, record, {});
      assertEquals([own.split, own.own, own.includesTrainingItems], ["test", true, false]);
      assertEquals(own.dataset.numImages, 6);
      assertEquals(outcome.summary!.ranksPart, "test");
      // The run's test part is exactly what eval scores by default, and training items only on request.
      const all = await resolveRunData(run, record, { split: "all" });
      assertEquals([all.split, all.includesTrainingItems, all.dataset.numImages], [
        "all",
        true,
        60,
      ]);
      const train = await resolveRunData(run, record, { split: "train" });
      assertEquals([train.includesTrainingItems, train.dataset.numImages], [true, 48]);
      // Moved: the recorded path is gone; the same content elsewhere is recognised as the run's own.
      const moved = `${dir}/moved`;
      await Deno.rename(data, moved);
      await assertRejects(() => resolveRunData(run, record, {}), /no longer exists/);
      const found = await resolveRunData(run, record, { dataPath: moved });
      assertEquals([found.own, found.split], [true, "test"]);
      // Changed: the same folder with other values is refused, naming the fingerprints.
      await Deno.rename(moved, data);
      const texts = await Deno.readFile(`${data}/texts.npy`);
      texts[texts.length - 4] ^= 1; // the last value's lowest mantissa bit
      await Deno.writeFile(`${data}/texts.npy`, texts);
      await assertRejects(() => resolveRunData(run, record, {}), /changed since the run/);
      // Other data is scored whole, never flagged as training items.
      const other = `${dir}/other`;
      await Deno.mkdir(other);
      await writeFeatureDir(other, toyDataset({ images: 20, seed: 9 }));
      const elsewhere = await resolveRunData(run, record, { dataPath: other });
      assertEquals([elsewhere.own, elsewhere.split, elsewhere.includesTrainingItems], [
        false,
        "all",
        false,
      ]);
    });
  },
);

gpuTest(
  "run folders never mix: a non-empty --out is refused, --force clears only run folders",
  async () => {
    await tempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/notes.txt`, "mine");
      await assertRejects(() => prepareNewRunDir(dir, false), /is not empty/);
      await assertRejects(() => prepareNewRunDir(dir, true), /not a crossrank run folder/);
      assertEquals(await Deno.readTextFile(`${dir}/notes.txt`), "mine", "nothing deleted");
      const run = `${dir}/run`;
      const data: TrainData = {
        train: toyDataset({ images: 32, seed: 1, name: "toy-train" }),
        val: toyDataset({ images: 16, seed: 2, name: "toy-val" }),
      };
      await runTraining(smallConfig(run, { epochs: 1 }), { data, progress: quietProgress() });
      await assertRejects(
        () => runTraining(smallConfig(run, { epochs: 1 }), { data, progress: quietProgress() }),
        /--force/,
      );
      await Deno.writeTextFile(`${run}/checkpoint.safetensors.tmp-123-abc`, "half");
      assertEquals(await removeTempFiles(run), 1);
      const again = await runTraining(smallConfig(run, { epochs: 1, seed: 9 }), {
        data,
        progress: quietProgress(),
        force: true,
      });
      assertEquals(again.summary!.seed, 9);
      assertEquals((await readRunConfig(run)).seed, 9, "the new run's config, not the old one's");
    });
  },
);

gpuTest("resume refuses a state written by another run", async () => {
  await tempDir(async (dir) => {
    const data: TrainData = {
      train: toyDataset({ images: 32, seed: 1, name: "toy-train" }),
      val: toyDataset({ images: 16, seed: 2, name: "toy-val" }),
    };
    const [a, b] = [`${dir}/a`, `${dir}/b`];
    await runTraining(smallConfig(a, { epochs: 1 }), { data, progress: quietProgress() });
    let steps = 0;
    await runTraining(smallConfig(b, { epochs: 2 }), {
      data,
      progress: quietProgress(),
      interrupted: () => ++steps === 2,
    });
    // b saved its own state on the interrupt; put a's in its place.
    await Deno.copyFile(runPath(a, RUN_FILES.state), runPath(b, RUN_FILES.state));
    await assertRejects(
      () =>
        runTraining(smallConfig(b, { epochs: 2 }), {
          data,
          progress: quietProgress(),
          resume: true,
        }),
      /belongs to another run/,
    );
  });
});

gpuTest("divergence stops cleanly: named step, failed summary, no poisoned state", async () => {
  await tempDir(async (dir) => {
    const data: TrainData = {
      train: toyDataset({ images: 64, seed: 1, name: "toy-train" }),
      val: toyDataset({ images: 16, seed: 2, name: "toy-val" }),
    };
    const out = await runTraining(
      smallConfig(dir, { lr: 1e3, warmup: 0.5, epochs: 4, clip: 0 }),
      { data, progress: quietProgress() },
    );
    assertEquals(out.summary, null);
    assertOk(/training stopped at step \d+: /.test(out.error ?? ""), out.error);
    assertOk(out.error!.includes("lower --lr"), out.error);
    const summary = JSON.parse(await Deno.readTextFile(runPath(dir, RUN_FILES.summary)));
    assertEquals([summary.status, summary.step], ["failed", out.step]);
    // Whatever state was saved holds finite, unexploded weights (the last good ones).
    try {
      const state = await readSafetensors(runPath(dir, RUN_FILES.state));
      for (const [name, t] of Object.entries(state.tensors)) {
        for (const v of t.data as Float32Array) assertOk(Number.isFinite(v), `${name} finite`);
      }
    } catch (e) {
      assertOk(
        e instanceof Error && /no such file|NotFound|cannot read/i.test(e.message),
        String(e),
      );
    }
  });
});

function toyRanks(t2i: number[], i2t: number[], textToImage: number[]): RetrievalRanks {
  return {
    numImages: Math.max(...textToImage) + 1,
    textToImage: Int32Array.from(textToImage),
    relevance: oneToOne(textToImage),
    t2i: Uint32Array.from(t2i),
    i2t: Uint32Array.from(i2t),
  };
}

Deno.test("ranks file: round-trips to the same metrics; bad files name the line", () => {
  const r = toyRanks([1, 3, 2, 12], [2, 1, 5, 1], [0, 0, 1, 2]);
  const text = ranksCsv(r);
  assertEquals(text.split("\n")[0], "direction,query,item,rank");
  assertEquals(text.trim().split("\n").length, 1 + 4 + 4);
  const back = parseRanksCsv(text, "r.csv");
  assertEquals(retrievalMetrics(back), retrievalMetrics(r));
  assertThrows(
    () => parseRanksCsv("direction,query,item,rank\nt2i,0,0,x\n", "bad.csv"),
    /bad\.csv:2/,
  );
  assertThrows(() => parseRanksCsv("a,b\n", "bad.csv"), /header/);
});

Deno.test("paired bootstrap: zero for identical runs, better or worse when clear, seeded", () => {
  const n = 200;
  const relation = Array.from({ length: n }, (_, t) => t);
  const same = toyRanks(
    relation.map((t) => 1 + (t % 7)),
    relation.map((t) => 1 + (t % 5)),
    relation,
  );
  const d0 = pairedBootstrap([same, same], [same], { resamples: 500 });
  for (const m of ["t2i R@1", "i2t R@1", "rsum"] as const) {
    assertEquals([d0[m].diff, d0[m].lo, d0[m].hi], [0, 0, 0], m);
    assertEquals(d0[m].verdict, "no significant difference");
  }
  // A candidate that ranks the right item first on 30 % more queries is clearly better.
  const better = toyRanks(
    relation.map((t) => (t % 10 < 3 ? 1 : 1 + (t % 7))),
    relation.map((t) => 1 + (t % 5)),
    relation,
  );
  const d1 = pairedBootstrap([better], [same], { resamples: 1000, seed: 3 });
  assertOk(d1["t2i R@1"].diff > 0 && d1["t2i R@1"].lo > 0, JSON.stringify(d1["t2i R@1"]));
  assertEquals(d1["t2i R@1"].verdict, "better");
  assertEquals(d1["i2t R@1"].verdict, "no significant difference");
  assertOk(d1.rsum.lo <= d1.rsum.diff && d1.rsum.diff <= d1.rsum.hi);
  assertEquals(
    pairedBootstrap([same], [better], { resamples: 1000, seed: 3 })["t2i R@1"].verdict,
    "worse",
  );
  assertEquals(pairedBootstrap([better], [same], { resamples: 1000, seed: 3 }), d1, "seeded");
  // The point estimate is the difference of the seed-averaged metrics.
  const m = (r: RetrievalRanks) => retrievalMetrics(r);
  assertAllClose([d1.rsum.diff], [m(better).rsum - m(same).rsum], { atol: 1e-9 });
  assertAllClose([d1["t2i MRR"].diff], [m(better).t2i.MRR - m(same).t2i.MRR], { atol: 1e-9 });
  assertEquals(d1["t2i MRR"].verdict, "better");
  const other = toyRanks([1, 2], [1, 1], [0, 1]);
  assertThrows(() => pairedBootstrap([other], [same]), /same queries/);
  assertEquals(
    formatDifference({ diff: 0.04, lo: -1.23, hi: 2, verdict: "better" }),
    "0.0 [-1.2, +2.0]",
  );
});

Deno.test("paired difference: a known mean difference is inside its interval", () => {
  const u = (() => {
    let s = 1;
    return () => ((s = (s * 48271) % 2147483647) / 2147483647);
  })();
  const base = Array.from({ length: 400 }, () => u());
  const cand = base.map((v) => v + 0.05 + 0.02 * (u() - 0.5));
  const d = pairedDifference([{ candidate: [cand], baseline: [base], scale: 1 }], { seed: 1 });
  assertAllClose([d.diff], [0.05], { atol: 0.005 });
  assertOk(d.lo < d.diff && d.diff < d.hi && d.lo > 0.04 && d.hi < 0.06, JSON.stringify(d));
});

Deno.test("loadDataset records where the data came from", async () => {
  await tempDir(async (dir) => {
    await writeNpy(`${dir}/images.npy`, new Float32Array([1, 0, 0, 1]), [2, 2]);
    await writeNpy(`${dir}/texts.npy`, new Float32Array([1, 0, 0, 1]), [2, 2]);
    const { source } = await loadDataset(dir);
    assertEquals([source.path, source.absolutePath, source.images, source.texts], [
      dir,
      await Deno.realPath(dir),
      2,
      2,
    ]);
    assertEquals(source.generator, null);
  });
});

gpuTest("a run writes its held-out ranks, which reproduce its test metrics", async () => {
  await tempDir(async (dir) => {
    const data = `${dir}/data`;
    await Deno.mkdir(data);
    await writeFeatureDir(data, toyDataset({ images: 40, seed: 2 }));
    const run = `${dir}/run`;
    const out = await runTraining(smallConfig(run, { data, epochs: 1, testFraction: 0.2 }), {
      progress: quietProgress(),
    });
    const text = await Deno.readTextFile(runPath(run, ranksFile("test")));
    assertEquals(retrievalMetrics(parseRanksCsv(text, "ranks")), out.summary!.test);
    assertOk(out.summary!.initialTest !== null);
  });
});
