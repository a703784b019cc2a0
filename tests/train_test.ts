import { assertAllClose, assertEquals, assertOk, gpuTest } from "./util.ts";
import { readSafetensors } from "../src/data/safetensors.ts";
import { runTraining } from "../src/train/run.ts";
import type { TrainData } from "../src/train/trainer.ts";
import { quietProgress, smallConfig, toyDataset } from "./train_fixtures.ts";
import { readCheckpoint, RUN_FILES, runPath } from "../src/train/run_dir.ts";
import { BatchSampler } from "../src/train/batches.ts";
import { buildRelation, gradeOf, oneToOne } from "../src/data/relation.ts";
import { learningRate } from "../src/train/schedule.ts";

const DATA: TrainData = {
  train: toyDataset({ images: 96, seed: 1, name: "toy-train" }),
  val: toyDataset({ images: 48, seed: 2, name: "toy-val" }),
};
const quiet = quietProgress();
const config = smallConfig;

gpuTest(
  "training improves validation rsum by a wide margin and writes the run folder",
  async () => {
    const dir = await Deno.makeTempDir();
    const out = await runTraining(config(dir), { data: DATA, progress: quiet });
    const s = out.summary!;
    assertOk(s.best!.rsum > s.initial!.rsum + 100, `rsum ${s.initial!.rsum} → ${s.best!.rsum}`);
    // The trainer draws no pictures (the CLI does, through its hooks); toy features have no images.
    const pictures: string[] = [RUN_FILES.curves, RUN_FILES.examples];
    for (const f of Object.values(RUN_FILES)) {
      if (pictures.includes(f)) continue;
      assertOk((await Deno.stat(runPath(dir, f))).size > 0, `${f} written`);
    }
    assertEquals(
      JSON.parse(await Deno.readTextFile(runPath(dir, RUN_FILES.summary))).status,
      "completed",
    );
    const csv = await Deno.readTextFile(runPath(dir, RUN_FILES.metrics));
    assertEquals(csv.trim().split("\n").length, 1 + 1 + 3, "header + epoch 0 + 3 epochs");
    // standard safetensors layout: 8-byte little-endian header length, JSON header, data
    const bytes = await Deno.readFile(runPath(dir, RUN_FILES.checkpoint));
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
    assertEquals(header["text.W1"].dtype, "F32");
    assertEquals(header.__metadata__.format, "crossrank-dual-encoder/1");
    await Deno.remove(dir, { recursive: true });
  },
);

gpuTest("the same seed gives the same metrics; another seed does not", async () => {
  const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir(), await Deno.makeTempDir()];
  const [a, b, c] = [
    await runTraining(config(dirs[0], { epochs: 2 }), { data: DATA, progress: quiet }),
    await runTraining(config(dirs[1], { epochs: 2 }), { data: DATA, progress: quiet }),
    await runTraining(config(dirs[2], { epochs: 2, seed: 4 }), { data: DATA, progress: quiet }),
  ];
  assertEquals(a.summary!.best, b.summary!.best);
  assertOk(JSON.stringify(a.summary!.best) !== JSON.stringify(c.summary!.best), "seed matters");
  for (const d of dirs) await Deno.remove(d, { recursive: true });
});

// The resumed run also does its own warm-up forward and backward (trainLoop) before step 8, which
// the uninterrupted run does not: equal weights show that the warm-up changes nothing.
gpuTest("an interrupted run resumes to the same result as an uninterrupted one", async () => {
  const [full, cut] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  const reference = await runTraining(config(full), { data: DATA, progress: quiet });
  let steps = 0;
  const first = await runTraining(config(cut), {
    data: DATA,
    progress: quiet,
    interrupted: () => ++steps === 8, // asked before each step: stops after 7, mid-epoch 2 (6 per epoch)
  });
  assertEquals(first.interrupted, true);
  assertEquals(first.step, 7);
  const resumed = await runTraining(config(cut), { data: DATA, progress: quiet, resume: true });
  assertEquals(resumed.summary!.steps, reference.summary!.steps);
  assertAllClose(
    [resumed.summary!.best!.rsum, resumed.summary!.best!.t2i.mAP],
    [reference.summary!.best!.rsum, reference.summary!.best!.t2i.mAP],
    { atol: 1e-9, rtol: 0 },
    "resumed vs uninterrupted",
  );
  const a = await readSafetensors(runPath(full, RUN_FILES.checkpoint));
  const b = await readSafetensors(runPath(cut, RUN_FILES.checkpoint));
  assertAllClose(b.tensors["text.W1"].data, a.tensors["text.W1"].data, { atol: 0, rtol: 0 });
  for (const d of [full, cut]) await Deno.remove(d, { recursive: true });
});

gpuTest(
  "a non-finite loss stops training, names the step, and keeps the last checkpoint",
  async () => {
    const dir = await Deno.makeTempDir();
    let steps = 0;
    // Epoch 1 trains on clean data and writes a checkpoint; stop early in epoch 2 …
    const first = await runTraining(config(dir), {
      data: DATA,
      progress: quiet,
      interrupted: () => ++steps === 8, // stops after 7 steps
    });
    assertEquals(first.interrupted, true);
    const before = await Deno.readFile(runPath(dir, RUN_FILES.checkpoint));
    // … then resume on data with a NaN caption: the next loss is NaN.
    const bad = toyDataset({ images: 96, seed: 1, name: "toy-nan" });
    bad.texts.fill(NaN, 0, 12 * 192);
    const out = await runTraining(config(dir), {
      data: { train: bad, val: DATA.val },
      progress: quiet,
      resume: true,
    });
    assertEquals(out.summary, null);
    assertOk(
      /training stopped at step 8: the (loss|gradient norm) is not finite; the last good checkpoint \(epoch 1/
        .test(out.error!),
      out.error,
    );
    assertEquals(await Deno.readFile(runPath(dir, RUN_FILES.checkpoint)), before);
    await Deno.remove(dir, { recursive: true });
  },
);

gpuTest(
  "weights that blow up stop training at the epoch's end, naming the weight norm",
  async () => {
    // lr 1e4 with Adam moves every weight by about 1e4 a step: finite, but far past 1000 × the start.
    const dir = await Deno.makeTempDir();
    const out = await runTraining(config(dir, { epochs: 1, lr: 1e4, warmup: 0 }), {
      data: DATA,
      progress: quiet,
    });
    assertEquals(out.summary, null);
    assertOk(/the weight norm grew to .*the weights diverged/.test(out.error!), out.error);
    await Deno.remove(dir, { recursive: true });
  },
);

gpuTest("the checkpoint reloads into a model with the same validation metrics", async () => {
  const dir = await Deno.makeTempDir();
  const out = await runTraining(config(dir, { epochs: 2 }), { data: DATA, progress: quiet });
  const ckpt = await readCheckpoint(dir);
  assertEquals(ckpt.config.text.kind, "mlp");
  assertEquals(ckpt.metadata.epoch, String(out.summary!.bestEpoch));
  assertEquals(JSON.parse(ckpt.metadata.metrics).rsum, out.summary!.best!.rsum);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("batch sampler: every image once per epoch, captions grouped, relevance consistent", () => {
  const t2i = new Int32Array([0, 0, 0, 1, 2, 2, 3, 4, 4, 4, 4]);
  const sampler = new BatchSampler(oneToOne(t2i), 5, {
    batchImages: 2,
    captionsPerImage: 2,
    seed: 1,
  });
  const batches = sampler.epoch(0);
  assertEquals(batches.length, sampler.batchesPerEpoch);
  assertEquals(batches.flatMap((b) => b.images).sort(), [0, 1, 2, 3, 4]);
  for (const b of batches) {
    b.texts.forEach((t, r) => {
      b.images.forEach((img, c) => {
        assertEquals(b.relevance[r * b.images.length + c], t2i[t] === img ? 1 : 0);
        assertEquals(b.relevanceT[c * b.texts.length + r], t2i[t] === img ? 1 : 0);
      });
    });
  }
  assertEquals(JSON.stringify(sampler.epoch(3)), JSON.stringify(sampler.epoch(3)));
  assertOk(JSON.stringify(sampler.epoch(3)) !== JSON.stringify(sampler.epoch(4)));
});

Deno.test("batch sampler: graded labels — each pair's grade, in both directions", () => {
  // 4 images; texts 0, 1 → image 0; 2 → 1; 3 → 2; 4 → 3. Text 0 is also relevant to image 2
  // (grade 1) and image 3 (grade 2); text 3 to image 0 (grade 2).
  const { relation } = buildRelation(5, 4, [
    { text: 0, image: 0, grade: 3 },
    { text: 0, image: 2, grade: 1 },
    { text: 0, image: 3, grade: 2 },
    { text: 1, image: 0, grade: 3 },
    { text: 2, image: 1, grade: 3 },
    { text: 3, image: 2, grade: 3 },
    { text: 3, image: 0, grade: 2 },
    { text: 4, image: 3, grade: 1 },
  ], "t");
  const sampler = new BatchSampler(relation, 4, { batchImages: 3, captionsPerImage: 2, seed: 2 });
  let labelled = 0;
  for (const epoch of [0, 1, 2]) {
    for (const b of sampler.epoch(epoch)) {
      b.texts.forEach((t, r) => {
        b.images.forEach((img, c) => {
          const grade = gradeOf(relation, t, img);
          assertEquals(b.relevance[r * b.images.length + c], grade, `text ${t} image ${img}`);
          assertEquals(b.relevanceT[c * b.texts.length + r], grade);
          if (grade > 0 && img !== relation.images[relation.offsets[t]]) labelled++;
        });
        // The text's own image is in the batch with its highest grade: never a negative.
        const own = b.images.indexOf(relation.images[relation.offsets[t]]);
        assertEquals(b.relevance[r * b.images.length + own], relation.grades[relation.offsets[t]]);
      });
    }
  }
  assertOk(labelled > 0, "partly relevant images in a batch carry their grade");
});

Deno.test("learning-rate schedule: linear warmup, cosine to the floor", () => {
  const o = { lr: 1, totalSteps: 110, warmupSteps: 10, minRatio: 0.1 };
  assertAllClose(
    [1, 5, 10, 60, 110].map((s) => learningRate(s, o)),
    [0.1, 0.5, 1, 0.55, 0.1],
    { atol: 1e-12 },
  );
});

Deno.test("batch sampler: longestList bounds every batch's text and image lists", () => {
  // 7 images with 3, 1, 0, 2, 5, 1, 1 captions (image 2 has none).
  const t2i = new Int32Array([0, 0, 0, 1, 3, 3, 4, 4, 4, 4, 4, 5, 6]);
  for (const [batchImages, captionsPerImage] of [[2, 2], [3, 1], [4, 9], [100, 2]]) {
    const sampler = new BatchSampler(oneToOne(t2i), 7, { batchImages, captionsPerImage, seed: 3 });
    const bound = sampler.longestList;
    for (const epoch of [0, 1, 2]) {
      for (const b of sampler.epoch(epoch)) {
        assertOk(
          b.texts.length <= bound && b.images.length <= bound,
          `${b.texts.length} > ${bound}`,
        );
      }
    }
    // At most one image more than the batch, times the most captions an image contributes.
    const perImage = Math.min(captionsPerImage, 5);
    assertEquals(bound, (Math.min(batchImages, 6) + 1) * perImage);
  }
});
