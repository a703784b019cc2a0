// SiMix (src/losses/simix.ts): the plan (relevant pairs, α, labels), mixed scores equal to the
// convex combination of their sources, the gradient reaching both sources, and recallk on the
// extended lists.

import {
  assertAllClose,
  assertEquals,
  assertOk,
  assertThrows,
  gpuTest,
  rng,
  runCli,
} from "./util.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { backward } from "../src/autodiff/tape.ts";
import { simix, simixPlan } from "../src/losses/simix.ts";
import { rankingLossTensor } from "../src/losses/mod.ts";
import { sumAll } from "../src/ops/reduce.ts";
import { mul } from "../src/ops/elementwise.ts";
import { runTraining } from "../src/train/run.ts";
import type { TrainData } from "../src/train/trainer.ts";
import { quietProgress, smallConfig, toyDataset, writeFeatureDir } from "./train_fixtures.ts";

// 3 lists of 5 candidates: list 0 has relevant 0, 1, 3; list 1 relevant 1, 3 (a duplicate pair);
// list 2 has none and a padded candidate 4
const LABELS = [1, 2, 0, 1, 0, 0, 1, 0, 3, 0, 0, 0, 0, 0, -1];

gpuTest("simixPlan mixes each relevant pair once, with α in [0, 1) and the mixed labels", () => {
  const plan = simixPlan(LABELS, 3, 5, rng(1));
  assertEquals(plan.pairs.map(([a, b]) => `${a}-${b}`).join(" "), "0-1 0-3 1-3");
  assertOk(plan.pairs.every(([, , a]) => a >= 0 && a < 1), "α in [0, 1)");
  const width = 8;
  const row = (l: number) => Array.from(plan.labels.subarray(l * width, (l + 1) * width));
  assertEquals(row(0).join(","), "1,2,0,1,0,1,1,1"); // min grades of both-relevant pairs
  assertEquals(row(1).join(","), "0,1,0,3,0,0,0,1"); // only 1-3 is relevant to list 1
  assertEquals(row(2).join(","), "0,0,0,0,-1,0,0,0");
  // a cap keeps a seeded subset
  const capped = simixPlan(LABELS, 3, 5, rng(1), 2);
  assertEquals(capped.pairs.length, 2);
  assertEquals(simixPlan([0, 0, 1, 0], 2, 2, rng(1)).pairs.length, 0);
  assertThrows(() => simixPlan(LABELS, 3, 4, rng(1)), /15 labels for 3 lists of 4/);
});

gpuTest("simix scores are the convex mixes and the gradient reaches both sources", async () => {
  const u = rng(3);
  const scores = Array.from({ length: 15 }, () => Math.fround(u() * 2 - 1));
  const plan = simixPlan(LABELS, 3, 5, rng(4));
  const s = Tensor.param(Float32Array.from(scores), [3, 5], "scores");
  const w = Array.from({ length: 3 * 8 }, () => Math.fround(u() - 0.5));
  const out = scope(() => {
    const mixed = simix(s, plan);
    backward(sumAll(mul(mixed.scores, Tensor.from(Float32Array.from(w), [3, 8]))));
    return mixed.scores;
  });
  const [got, grad] = [await out.read(), await s.grad!.read()];
  const want: number[] = [];
  const wantGrad = new Array(15).fill(0);
  for (let l = 0; l < 3; l++) {
    for (let i = 0; i < 5; i++) {
      want.push(scores[l * 5 + i]);
      wantGrad[l * 5 + i] += w[l * 8 + i];
    }
    plan.pairs.forEach(([a, b, alpha], p) => {
      want.push(alpha * scores[l * 5 + a] + (1 - alpha) * scores[l * 5 + b]);
      wantGrad[l * 5 + a] += alpha * w[l * 8 + 5 + p];
      wantGrad[l * 5 + b] += (1 - alpha) * w[l * 8 + 5 + p];
    });
  }
  assertAllClose(got, want, { atol: 1e-6, rtol: 1e-5 }, "mixed scores");
  assertAllClose(grad, wantGrad, { atol: 1e-6, rtol: 1e-5 }, "gradient to the sources");
  // the first n columns pass through exactly
  for (let l = 0; l < 3; l++) {
    for (let i = 0; i < 5; i++) assertEquals(got[l * 8 + i], scores[l * 5 + i], "pass-through");
  }
  for (const t of [out, s.grad!, s]) t.dispose();
});

gpuTest("recallk on SiMix-extended lists is finite and differs from the plain lists", async () => {
  const u = rng(5);
  const scores = Array.from({ length: 15 }, () => Math.fround(u() * 0.2 - 0.1));
  const s = Tensor.param(Float32Array.from(scores), [3, 5], "scores");
  const plan = simixPlan(LABELS, 3, 5, rng(6));
  const [plain, mixedLoss] = scope(() => {
    const y = Tensor.from(Float32Array.from(LABELS), [3, 5]);
    const mixed = simix(s, plan);
    const l = rankingLossTensor("recallk", mixed.scores, mixed.labels, {});
    backward(l);
    return [rankingLossTensor("recallk", s, y, {}), l];
  });
  const [a, b, g] = [await plain.read(), await mixedLoss.read(), await s.grad!.read()];
  assertOk(Number.isFinite(b[0]) && g.every(Number.isFinite), "finite loss and gradient");
  assertOk(Math.abs(a[0] - b[0]) > 1e-6, `SiMix changed nothing: ${a[0]} vs ${b[0]}`);
  for (const t of [plain, mixedLoss, s.grad!, s]) t.dispose();
});

const TOY: TrainData = {
  train: toyDataset({ images: 96, seed: 1, name: "toy-train" }),
  val: toyDataset({ images: 48, seed: 2, name: "toy-val" }),
};

gpuTest("training recallk with --simix improves validation rsum", async () => {
  const dir = await Deno.makeTempDir();
  const out = await runTraining(smallConfig(dir, { loss: "recallk", simix: true }), {
    data: TOY,
    progress: quietProgress(),
  });
  const s = out.summary!;
  assertOk(s.best!.rsum > s.initial!.rsum + 50, `rsum ${s.initial!.rsum} → ${s.best!.rsum}`);
  await Deno.remove(dir, { recursive: true });
});

gpuTest(
  "--simix says so when no list holds two relevant items (one caption per image)",
  async () => {
    const logs = async (captions: number) => {
      const dir = await Deno.makeTempDir();
      const lines: string[] = [];
      const progress = quietProgress();
      progress.log = (line: string) => void lines.push(line);
      const one: TrainData = {
        train: toyDataset({ images: 48, captions, seed: 1, name: "toy-train" }),
        val: toyDataset({ images: 16, captions, seed: 2, name: "toy-val" }),
      };
      await runTraining(smallConfig(dir, { loss: "recallk", simix: true, epochs: 1 }), {
        data: one,
        progress,
      });
      await Deno.remove(dir, { recursive: true });
      return lines.filter((l) => l.includes("SiMix added no candidates"));
    };
    assertEquals((await logs(1)).length, 1, "one warning with one caption per image");
    assertEquals((await logs(2)).length, 0, "no warning when images have two captions");
  },
);

gpuTest(
  "compare runs a LOSS+simix variant under its own name, and refuses it for --ltr",
  async () => {
    const dir = await Deno.makeTempDir();
    await writeFeatureDir(dir, toyDataset({ images: 60, seed: 7 }));
    const out = `${dir}/cmp`;
    const args = ["--data", dir, "--losses", "recallk+simix", "--seeds", "1", "--epochs", "1"];
    const ran = await runCli("compare", ...args, "--max-steps", "2", "--out", out);
    assertEquals(ran.code, 0, ran.err);
    const table = await Deno.readTextFile(`${out}/results.md`);
    assertOk(/\| recallk\+simix \| \d/.test(table), `no recallk+simix row with figures:\n${table}`);
    const ltr = await runCli("compare", "--ltr", dir, "--losses", "recallk+simix", "--out", out);
    assertEquals(ltr.code, 2);
    assertOk(/recallk\+simix: SiMix mixes in-batch retrieval candidates/.test(ltr.err), ltr.err);
    await Deno.remove(dir, { recursive: true });
  },
);
