// `deno task eval --checkpoint RUN --data DIR --json` against an independent computation: the
// checkpoint's weights read with the safetensors reader, both heads evaluated in float64 on the CPU
// with the reference ops, and the metrics computed by the float64 retrieval reference.
import { assertAllClose, assertEquals, gpuTest } from "./util.ts";
import { quietProgress, smallConfig, toyDataset, writeFeatureDir } from "./train_fixtures.ts";
import { readSafetensors } from "../src/data/safetensors.ts";
import { loadFeatureDataset } from "../src/data/features.ts";
import { METRIC_KEYS, type RetrievalMetrics } from "../src/eval/metrics.ts";
import { retrievalMetricsRef } from "../src/reference/retrieval.ts";
import { matmulRef } from "../src/reference/matmul.ts";
import { addBiasRef, geluRef } from "../src/reference/elementwise.ts";
import { l2NormalizeRef } from "../src/reference/reduce.ts";
import { runTraining } from "../src/train/run.ts";
import { loadTrainData } from "../src/train/data.ts";

const ROOT = new URL("..", import.meta.url).pathname;

function headRef(
  x: Float64Array,
  rows: number,
  t: Record<string, { shape: number[]; data: ArrayLike<number> }>,
  prefix: string,
): Float64Array {
  const [din, hidden] = t[`${prefix}.W1`].shape;
  const out = t[`${prefix}.W2`].shape[1];
  const h = addBiasRef(
    matmulRef(x, t[`${prefix}.W1`].data, rows, hidden, din),
    t[`${prefix}.b1`].data,
    hidden,
  );
  const y = addBiasRef(
    matmulRef(geluRef(h), t[`${prefix}.W2`].data, rows, out, hidden),
    t[`${prefix}.b2`].data,
    out,
  );
  return l2NormalizeRef(y, rows, out);
}

gpuTest("eval --checkpoint --json agrees with an independent float64 computation", async () => {
  const dir = await Deno.makeTempDir();
  await writeFeatureDir(
    dir,
    toyDataset({ images: 60, imageDim: 10, textDim: 8, seed: 5, noise: 0.5 }),
  );
  const run = `${dir}/run`;
  const data = await loadTrainData(dir, { valFraction: 0.25, testFraction: 0 });
  await runTraining(
    smallConfig(run, {
      data: dir,
      loss: "listnet",
      epochs: 2,
      warmup: 0,
      seed: 1,
      valFraction: 0.25,
      model: { head: "mlp", embedDim: 6, hidden: 12 },
    }),
    { data, progress: quietProgress() },
  );

  // All of the run's own data takes --split all, and the output says it includes training items.
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "src/cli/eval.ts",
      "--checkpoint",
      run,
      "--data",
      dir,
      "--split",
      "all",
      "--json",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  const got = JSON.parse(new TextDecoder().decode(stdout)) as RetrievalMetrics & {
    data: { split: string; includesTrainingItems: boolean; texts: number };
  };
  assertEquals(got.data.split, "all");
  assertEquals(got.data.includesTrainingItems, true);

  const ckpt = await readSafetensors(`${run}/checkpoint.safetensors`);
  const tensors = ckpt.tensors as Record<string, { shape: number[]; data: ArrayLike<number> }>;
  const ds = await loadFeatureDataset(dir);
  const te = headRef(Float64Array.from(ds.texts), ds.numTexts, tensors, "text");
  const ie = headRef(Float64Array.from(ds.images), ds.numImages, tensors, "image");
  const ref = retrievalMetricsRef(te, ie, 6, ds.textToImage, false);
  for (const d of ["t2i", "i2t"] as const) {
    for (const key of METRIC_KEYS) {
      assertAllClose([got[d][key]], [ref[d][key]], { atol: 5.1e-5, rtol: 0 }, `${d} ${key}`);
    }
  }
  assertAllClose([got.rsum], [ref.rsum], { atol: 1e-3, rtol: 0 }, "rsum");
  await Deno.remove(dir, { recursive: true });
});
