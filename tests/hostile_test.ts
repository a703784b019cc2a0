/**
 * Hostile and huge inputs, end to end: each case is a small generated file (a header claiming a
 * huge shape stands for a huge file), run through the CLI as a user would; the exit code, a message
 * naming the file and the fault, and that nothing was written are asserted.
 */

import { assertEquals, assertOk, assertRejects, gpuTest, runCli } from "./util.ts";
import { Image } from "imagescript";
import { encodeNpy, writeNpy } from "../src/data/npy.ts";
import {
  readSafetensors,
  type SafetensorsFile,
  writeSafetensors,
} from "../src/data/safetensors.ts";
import { checkFitsInMemory } from "../src/data/binary_file.ts";
import { DataError } from "../src/data/errors.ts";
import { runTraining } from "../src/train/run.ts";
import {
  readCheckpoint,
  readRunConfig,
  readState,
  RUN_FILES,
  runPath,
} from "../src/train/run_dir.ts";
import { buildModel, type TrainData } from "../src/train/trainer.ts";
import { RunFileError } from "../src/train/schema.ts";
import { trainLtr } from "../src/train/ltr.ts";
import { quietProgress, smallConfig, toyDataset, writeFeatureDir } from "./train_fixtures.ts";

/** Every file under `dir` with the SHA-256 of its bytes, to prove a command wrote nothing. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else {
        const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(p));
        out.set(p, Array.from(new Uint8Array(digest), (b) => b.toString(16)).join(""));
      }
    }
  };
  await walk(dir);
  return out;
}

/**
 * Asserts a failed training command changed nothing under `dir` but the run's `summary.json`,
 * which records the failure (status `failed` and the error).
 */
async function assertOnlyFailureRecorded(
  dir: string,
  before: Map<string, string>,
  run: string,
  error: RegExp,
): Promise<void> {
  const after = await snapshot(dir);
  const summary = runPath(run, RUN_FILES.summary);
  for (const map of [before, after]) map.delete(summary);
  assertEquals(after, before, "nothing but summary.json written");
  const s = JSON.parse(await Deno.readTextFile(summary));
  assertEquals(s.status, "failed");
  assertOk(error.test(s.error), `summary.json records the error: ${s.error}`);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-hostile-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts a failed command: exit code, stdout empty, every pattern in stderr, no stack trace. */
function assertFails(r: { code: number; out: string; err: string }, code: number, ...p: RegExp[]) {
  assertEquals([r.code, r.out], [code, ""], r.err);
  for (const pattern of p) assertOk(pattern.test(r.err), `stderr matches ${pattern}:\n${r.err}`);
  assertOk(!/\n\s+at /.test(r.err), `no stack trace:\n${r.err}`);
}

/** Writes `images`/`texts` as a safetensors file laid out by hand (offsets as given). */
function featureFile(
  layout: Record<string, [number, number]>,
  dataBytes: number,
  headerText?: string,
): Uint8Array {
  const header: Record<string, unknown> = {};
  for (const [name, [begin, end]] of Object.entries(layout)) {
    header[name] = { dtype: "F32", shape: [2, (end - begin) / 8], data_offsets: [begin, end] };
  }
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  const floats = new Float32Array(out.buffer.slice(8 + json.length));
  floats.forEach((_, i) => floats[i] = ((i * 7) % 5) - 2);
  out.set(new Uint8Array(floats.buffer), 8 + json.length);
  return out;
}

Deno.test("hostile safetensors: aliased, duplicated and trailing data fail naming tensor and offsets", async () => {
  await withDir(async (dir) => {
    const cases: [Uint8Array, RegExp][] = [
      // texts aliases images: both read bytes [0, 32).
      [
        featureFile({ images: [0, 32], texts: [0, 32] }, 32),
        /tensor 'texts' \[0, 32\] overlaps tensor 'images' \[0, 32\]/,
      ],
      [
        featureFile({ images: [0, 32], texts: [16, 48] }, 48),
        /tensor 'texts' \[16, 48\] overlaps tensor 'images' \[0, 32\]/,
      ],
      [
        featureFile(
          {},
          64,
          '{"images": {"dtype": "F32", "shape": [2, 4], "data_offsets": [0, 32]}, ' +
            '"texts": {"dtype": "F32", "shape": [2, 4], "data_offsets": [32, 64]}, ' +
            '"texts": {"dtype": "F32", "shape": [2, 4], "data_offsets": [0, 32]}}',
        ),
        /key "texts" appears twice/,
      ],
      [
        featureFile({ images: [0, 32], texts: [32, 64] }, 72),
        /8 unexpected bytes at the end of the data section after tensor 'texts' \[32, 64\]/,
      ],
    ];
    for (const [bytes, pattern] of cases) {
      const file = `${dir}/bad.safetensors`;
      await Deno.writeFile(file, bytes);
      const before = await snapshot(dir);
      assertFails(await runCli("eval", "--data", file, "--json"), 1, /bad\.safetensors/, pattern);
      assertEquals(await snapshot(dir), before, "nothing written");
    }
  });
});

Deno.test("hostile npy: a header claiming a huge shape fails at once with the file named", async () => {
  await withDir(async (dir) => {
    // 100 million rows declared, 4 KB present; and a valid 10-row texts.npy.
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 512), }";
    const text = header.padEnd(117, " ") + "\n";
    const bytes = new Uint8Array(10 + text.length + 4096);
    bytes.set(encodeNpy(new Float32Array(0), [0]).subarray(0, 8));
    new DataView(bytes.buffer).setUint16(8, text.length, true);
    bytes.set(new TextEncoder().encode(text), 10);
    await Deno.writeFile(`${dir}/images.npy`, bytes);
    await writeNpy(`${dir}/texts.npy`, new Float32Array(10 * 512), [10, 512]);
    const started = performance.now();
    const r = await runCli("eval", "--data", dir, "--json");
    assertFails(
      r,
      1,
      /images\.npy: truncated data: shape \(100000000, 512\) of float32 needs 204800000000 bytes/,
    );
    // Rows that are no multiple of the image rows fail from the headers, before any data.
    await writeNpy(`${dir}/images.npy`, new Float32Array(3 * 512), [3, 512]);
    assertFails(
      await runCli("eval", "--data", dir, "--json"),
      1,
      /texts\.npy has 10 rows and .*images\.npy 3: without a pairs\.csv/,
    );
    assertOk(performance.now() - started < 60_000, "fails fast");
    // Data larger than the memory is refused before allocating, naming the file.
    try {
      checkFitsInMemory(2 ** 60, `${dir}/images.npy`);
      throw new Error("not refused");
    } catch (e) {
      assertOk(e instanceof DataError, String(e));
      assertOk(
        /images\.npy: the data needs .* of memory, more than the .* available/.test(
          (e as Error).message,
        ),
      );
    }
  });
});

Deno.test("hostile images: the pixel limit is checked from the header, with a flag to raise it", async () => {
  await withDir(async (dir) => {
    const img = new Image(24, 16);
    img.fill(Image.rgbaToColor(200, 40, 40, 255));
    const png = await img.encode();
    await Deno.writeFile(`${dir}/small.png`, png);
    // Only a PNG header, declaring 16000 × 16000 pixels.
    const huge = png.slice(0, 33);
    new DataView(huge.buffer).setUint32(16, 16000);
    new DataView(huge.buffer).setUint32(20, 16000);
    await Deno.writeFile(`${dir}/huge.png`, huge);
    await Deno.writeTextFile(`${dir}/captions.csv`, "image,caption\nsmall.png,red\nhuge.png,big\n");
    const before = await snapshot(dir);
    assertFails(
      await runCli("eval", "--data", dir, "--json"),
      1,
      /huge\.png: the image declares 16000 × 16000 pixels \(256\.0 MP\), over the limit of 40 MP; raise it with --max-megapixels/,
    );
    await Deno.writeTextFile(`${dir}/captions.csv`, "image,caption\nsmall.png,red\n");
    await Deno.remove(`${dir}/huge.png`);
    assertFails(
      await runCli("eval", "--data", dir, "--json", "--max-megapixels", "0.0001"),
      1,
      /small\.png: the image declares 24 × 16 pixels .* over the limit of 0\.0001 MP/,
    );
    assertEquals((await snapshot(dir)).size, before.size - 1, "nothing written");
  });
});

Deno.test("hostile paths: an image outside the dataset folder is refused with its line", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/data/images`, { recursive: true });
    const img = new Image(8, 8);
    img.fill(Image.rgbaToColor(1, 2, 3, 255));
    await Deno.writeFile(`${dir}/data/images/a.png`, await img.encode());
    await Deno.writeFile(`${dir}/x.png`, await img.encode());
    await Deno.writeTextFile(
      `${dir}/data/captions.csv`,
      "image,caption\na.png,one\n../../x.png,escape\n",
    );
    assertFails(
      await runCli("eval", "--data", `${dir}/data`),
      1,
      /captions\.csv line 3: image "\.\.\/\.\.\/x\.png" resolves to .*\/x\.png, outside the image folder/,
    );
  });
});

gpuTest("images without captions are distractors everywhere, counted in the header", async () => {
  await withDir(async (dir) => {
    await writeNpy(`${dir}/images.npy`, Float32Array.from({ length: 12 }, (_, i) => i % 5), [
      3,
      4,
    ]);
    await writeNpy(`${dir}/texts.npy`, Float32Array.from({ length: 8 }, (_, i) => i % 3), [2, 4]);
    await Deno.writeTextFile(`${dir}/pairs.csv`, "text,image\n0,0\n1,2\n");
    const json = await runCli("eval", "--data", dir, "--json");
    assertEquals(json.code, 0, json.err);
    assertOk(
      json.err.includes("2 texts × 3 images (1 without captions: gallery distractors)"),
      json.err,
    );
    const table = await runCli("eval", "--data", dir);
    assertEquals(table.code, 0, table.err);
    assertOk(table.out.includes("2 texts × 3 images (2 images have texts and query)"), table.out);
  });
});

Deno.test("hostile sizes: --hidden and an svmlight index of 10^7 fail naming the flag or line", async () => {
  await withDir(async (dir) => {
    const ds = toyDataset({ images: 20, seed: 1, imageDim: 8, textDim: 8 });
    await writeFeatureDir(dir, ds);
    const out = `${dir}/run`;
    assertFails(
      await runCli("train", "--data", dir, "--hidden", "100000000", "--out", out),
      2,
      /error: --hidden 100000000: text head W1 would be 8 × 100000000 floats .* hidden ≤ \d+ fits/,
    );
    assertEquals([...Deno.readDirSync(out)].map((e) => e.name), [RUN_FILES.summary]);
    await assertOnlyFailureRecorded(out, new Map(), out, /hidden 100000000/);

    await Deno.mkdir(`${dir}/ltr`);
    await Deno.writeTextFile(`${dir}/ltr/rank.train`, "1 qid:1 1:1\n0 qid:1 10000000:1\n");
    await Deno.writeTextFile(`${dir}/ltr/rank.test`, "1 qid:1 1:1\n0 qid:1 2:1\n");
    const cmp = `${dir}/cmp`;
    assertFails(
      await runCli("compare", "--ltr", `${dir}/ltr`, "--out", cmp, "--seeds", "1"),
      1,
      /rank\.train line 2: feature index 10000000 is over the limit of 100000 features/,
    );
    assertEquals((await snapshot(cmp).catch(() => new Map())).size, 0, "nothing written");
  });
});

gpuTest("hostile LTR: a padded feature tensor over one GPU buffer names the file", async () => {
  const queries = [{
    qid: "1",
    features: new Float32Array(0),
    labels: new Float32Array(400),
    numDocs: 400,
  }];
  await assertRejects(
    () =>
      trainLtr({ path: "wide.txt", dim: 100_000, queries }, { path: "t", dim: 100_000, queries }, {
        loss: "listnet",
      }),
    /wide\.txt: 1 queries padded to 400 documents × 100000 features need .* in one GPU buffer/,
  );
});

// ---------------------------------------------------------------------------------------------
// Run files: config.json, checkpoint.safetensors, state.safetensors

const DATA: TrainData = {
  train: toyDataset({ images: 24, seed: 1, name: "toy-train" }),
  val: toyDataset({ images: 8, seed: 2, name: "toy-val" }),
};

/** A finished one-epoch run folder whose config names a feature directory of the same dims. */
async function makeRun(dir: string): Promise<string> {
  const out = `${dir}/run`;
  await Deno.mkdir(`${dir}/features`);
  await writeFeatureDir(`${dir}/features`, DATA.train);
  await runTraining(smallConfig(out, { epochs: 1, data: `${dir}/features` }), {
    data: DATA,
    progress: quietProgress(),
  });
  return out;
}

/** Rewrites a safetensors file through `edit`. */
async function rewrite(path: string, edit: (f: SafetensorsFile) => void): Promise<void> {
  const f = await readSafetensors(path);
  edit(f);
  await writeSafetensors(path, f.tensors, f.metadata);
}

gpuTest(
  "hostile checkpoints: every metadata field and weight is validated, naming it",
  async () => {
    await withDir(async (dir) => {
      const run = await makeRun(dir);
      const ckpt = runPath(run, RUN_FILES.checkpoint);
      const good = await Deno.readFile(ckpt);
      const model = (await readSafetensors(ckpt)).metadata.model;
      const cases: [(f: SafetensorsFile) => void, RegExp][] = [
        [(f) => f.metadata.model = "{}", /metadata\.model\.text: missing/],
        [
          (f) => f.metadata.model = model.replace('"kind":"mlp"', '"kind":"transformer"'),
          /metadata\.model\.text\.kind: "transformer" is not one of linear, mlp, adapter/,
        ],
        [(f) => f.metadata.model = "", /metadata\.model: not valid JSON/],
        [
          (f) => f.metadata.model = model.replace('"hidden":16', '"hidden":-3'),
          /metadata\.model\.text\.hidden: -3 is not an integer ≥ 1/,
        ],
        [
          (f) => f.metadata.format = "crossrank-dual-encoder/2",
          /written by a newer crossrank \(format crossrank-dual-encoder\/2; this version reads crossrank-dual-encoder\/1\)/,
        ],
        [(f) => f.metadata.format = "other/1", /not a crossrank checkpoint \(format is 'other\/1'/],
        [(f) => f.metadata.epoch = "x", /metadata\.epoch: "x" is not a decimal integer/],
        [
          (f) => (f.tensors["text.W1"].data as Float32Array)[3] = NaN,
          /tensor 'text\.W1': non-finite weight NaN at element 3: the file is corrupt \(the weights, not the data\)/,
        ],
        [(f) => delete f.tensors["image.b2"], /tensor 'image\.b2': missing/],
        [
          (f) => f.tensors["text.b1"] = { ...f.tensors["text.b1"], shape: [4, 4] },
          /tensor 'text\.b1': shape \[4, 4\], the model needs \[16\]/,
        ],
      ];
      const data = `${dir}/data`;
      await Deno.mkdir(data);
      await writeFeatureDir(data, DATA.val!);
      for (const [i, [edit, pattern]] of cases.entries()) {
        await Deno.writeFile(ckpt, good);
        await rewrite(ckpt, edit);
        await assertRejects(() => readCheckpoint(run), pattern);
        try {
          await readCheckpoint(run);
        } catch (e) {
          assertOk(e instanceof RunFileError, String(e));
          assertEquals((e as RunFileError).file, ckpt);
        }
        // The command line says the same (a sample of the cases: each is a process start).
        if (i < 2 || i === 4 || i === 7) {
          const before = await snapshot(dir);
          assertFails(
            await runCli("eval", "--checkpoint", run, "--data", data, "--json"),
            1,
            /checkpoint\.safetensors: /,
            pattern,
          );
          assertEquals(await snapshot(dir), before, "nothing written");
        }
      }
    });
  },
);

gpuTest(
  "hostile training state and config: garbage loop JSON or config fields are refused",
  async () => {
    await withDir(async (dir) => {
      const run = await makeRun(dir);
      const statePath = runPath(run, RUN_FILES.state);
      const good = await Deno.readFile(statePath);
      const runId = String((await readRunConfig(run)).runId);
      const cases: [(f: SafetensorsFile) => void, RegExp][] = [
        [(f) => f.metadata.loop = "", /state\.safetensors: metadata\.loop: not valid JSON/],
        [(f) => f.metadata.loop = "{}", /metadata\.loop\.epoch: missing/],
        [
          (f) => f.metadata.loop = f.metadata.loop.replace('"epoch":1', '"epoch":"one"'),
          /metadata\.loop\.epoch: "one" is not an integer ≥ 0/,
        ],
        [(f) => f.metadata.adam_t = "NaN", /metadata\.adam_t: "NaN" is not a decimal integer/],
        [(f) => delete f.tensors["adam.0.m"], /tensor 'adam\.0\.m': missing/],
        [
          (f) => (f.tensors["model.text.W1"].data as Float32Array)[0] = Infinity,
          /tensor 'model\.text\.W1': non-finite weight Infinity/,
        ],
      ];
      for (const [i, [edit, pattern]] of cases.entries()) {
        await Deno.writeFile(statePath, good);
        await rewrite(statePath, edit);
        const { model, optimizer } = buildModel(smallConfig(run, { epochs: 1 }), DATA);
        try {
          await assertRejects(() => readState(run, model, optimizer, runId), pattern);
        } finally {
          model.dispose();
          optimizer.dispose();
        }
        if (i < 2) {
          const before = await snapshot(dir);
          assertFails(await runCli("train", "--resume", run), 1, /state\.safetensors: /, pattern);
          // A resume that cannot start writes nothing: summary.json keeps the run's last outcome.
          assertEquals(await snapshot(dir), before, "a failed resume writes nothing");
        }
      }
      await Deno.writeFile(statePath, good);

      // config.json: every field the code reads, with the field named; extra fields are kept.
      const configPath = runPath(run, RUN_FILES.config);
      const config = JSON.parse(await Deno.readTextFile(configPath));
      const configCases: [Record<string, unknown>, RegExp][] = [
        [{ ...config, epochs: 0 }, /config\.json: epochs: 0 is not an integer ≥ 1/],
        [{ ...config, decayTo: "sideways" }, /decayTo: "sideways" is not one of auto, zero, init/],
        [
          { ...config, model: { ...config.model, head: "rnn" } },
          /model\.head: "rnn" is not one of/,
        ],
        [{ ...config, batch: undefined }, /config\.json: batch: missing/],
        [{ ...config, rerank: true }, /a rerank run's config; a trained retrieval run is needed/],
      ];
      for (const [value, pattern] of configCases) {
        await Deno.writeTextFile(configPath, JSON.stringify(value));
        await assertRejects(() => readRunConfig(run), pattern);
      }
      await Deno.writeTextFile(configPath, '{"epochs": 1, "epochs": 2}');
      await assertRejects(() => readRunConfig(run), /key "epochs" appears twice/);
      await Deno.writeTextFile(configPath, JSON.stringify({ ...config, note: { by: "hand" } }));
      assertEquals((await readRunConfig(run)).note, { by: "hand" });
      for (
        const [value, pattern] of [
          [{ ...config, split: { seed: 1 } }, /config\.json: split\.valFraction: missing/],
          [{ ...config, dataSource: { path: 3 } }, /dataSource\.path: 3 is not a string/],
          [{ ...config, testFraction: undefined }, /config\.json: testFraction: missing/],
        ] as const
      ) {
        await Deno.writeTextFile(configPath, JSON.stringify(value));
        await assertRejects(() => readRunConfig(run), pattern);
      }
      await Deno.writeTextFile(configPath, JSON.stringify({ ...config, valFraction: "x" }));
      const before = await snapshot(dir);
      assertFails(
        await runCli("train", "--resume", run),
        1,
        /config\.json: valFraction: "x" is not a finite number in \[0, 0\.99\]/,
      );
      assertEquals(await snapshot(dir), before, "nothing written");
    });
  },
);

Deno.test("feature scale: eval gives the same figures at 1e-15 and 1e19; a zero row is named", async () => {
  await withDir(async (dir) => {
    const ds = toyDataset({ images: 40, imageDim: 8, textDim: 8, seed: 12 });
    const rsums: number[] = [];
    for (const scale of [1, 1e-15, 1e19]) {
      const d = `${dir}/x${scale}`;
      await Deno.mkdir(d);
      await writeFeatureDir(d, {
        ...ds,
        images: Float32Array.from(ds.images, (v) => v * scale),
        texts: Float32Array.from(ds.texts, (v) => v * scale),
      });
      const r = await runCli("eval", "--data", d, "--json");
      assertEquals(r.code, 0, r.err);
      rsums.push(JSON.parse(r.out).rsum);
    }
    assertEquals(rsums, [rsums[0], rsums[0], rsums[0]], "scale does not change the figures");
    const zero = `${dir}/zero`;
    await Deno.mkdir(zero);
    const texts = ds.texts.slice();
    texts.fill(0, 3 * 8, 4 * 8);
    await writeFeatureDir(zero, { ...ds, texts });
    assertFails(
      await runCli("eval", "--data", zero, "--json"),
      1,
      /texts\.npy: row 3 is all zeros/,
    );
  });
});

Deno.test("a buffer over the GPU binding limit names the flag that helps (exit 1)", async () => {
  // What the CLIs print when an input outgrows one GPU buffer: the size, the limit and their hint.
  const script = `
    import { runMain } from "./src/cli/args.ts";
    import { BindingLimitError } from "./src/gpu/device.ts";
    await runMain(() => { throw new BindingLimitError("toy texts", 2 ** 31, 2 ** 27); },
      "Usage: t", "lower --batch");`;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(stderr);
  assertEquals(code, 1, err);
  assertOk(
    err.includes(
      "error: toy texts needs 2.00 GiB (2147483648 bytes), over this device's " +
        "maxStorageBufferBindingSize of 128.0 MiB: lower --batch",
    ),
    err,
  );
});
