/**
 * First contact: what a new user meets. No benchmark peers in the main lockfile, progress lines,
 * Ctrl-C stopping at the next step with the exact resume command, warnings for tiny parts, and
 * pictures with captions.
 */
import { assertEquals, assertOk, gpuTest } from "./util.ts";
import { quietProgress, smallConfig, toyDataset, writeFeatureDir } from "./train_fixtures.ts";
import { formatClock, formatProgress } from "../src/train/progress.ts";
import { smallPartWarning } from "../src/train/data.ts";
import { buildModel, initialState, type TrainData, trainLoop } from "../src/train/trainer.ts";
import { intervalChart } from "../src/report/charts.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("the main lockfile holds no benchmark peer: train, eval, compare and test fetch only what they use", async () => {
  const lock = JSON.parse(await Deno.readTextFile(`${ROOT}deno.lock`));
  const packages = Object.keys(lock.npm ?? {});
  assertEquals(packages.filter((p) => /tensorflow|core-js/.test(p)), [], "no tfjs in deno.lock");
  const peers = JSON.parse(await Deno.readTextFile(`${ROOT}bench/peers/deno.lock`));
  assertOk(Object.keys(peers.npm).some((p) => p.startsWith("@tensorflow/tfjs-core@")));
  // What the command-line entry points import, resolved from the cache without the network.
  for (const entry of ["train", "eval", "compare"]) {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", `src/cli/${entry}.ts`],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(code, 0, new TextDecoder().decode(stderr));
    const info = JSON.parse(new TextDecoder().decode(stdout));
    const npm = Object.keys(info.npmPackages ?? {}).map((p) => p.replace(/@[^@]+$/, ""));
    for (const name of npm) {
      assertOk(
        ["imagescript", "csv-parse", "csv-stringify"].includes(name),
        `${entry} uses ${name}`,
      );
    }
  }
});

Deno.test("progress line: tqdm-style counts, rate, elapsed and remaining time, optional fields", () => {
  const line = formatProgress({
    label: "epoch 3/10",
    done: 56,
    total: 130,
    unit: "steps",
    elapsed: 4.2,
    rate: 12.34,
    extra: "loss 0.5234  lr 1.00e-3",
  });
  assertEquals(
    line,
    "epoch 3/10   43% |████▎     | 56/130 [0:04<0:06, 12.3 steps/s]  loss 0.5234  lr 1.00e-3",
  );
  const first = formatProgress({ label: "x", done: 0, total: 5, unit: "runs", elapsed: 0 });
  assertEquals(first, "x    0% |          | 0/5 [0:00<?, 0.0 runs/s]");
  assertEquals(formatClock(3725), "1:02:05");
});

gpuTest(
  "the loss is shown only once read, and an interrupt during validation stops before the next step",
  async () => {
    const data: TrainData = {
      train: toyDataset({ images: 64, seed: 1, name: "toy-train" }),
      val: toyDataset({ images: 16, seed: 2, name: "toy-val" }),
    };
    const config = smallConfig("/tmp/unused", { epochs: 3, logEvery: 50 });
    const { model, optimizer } = buildModel(config, data);
    const lines: string[] = [];
    const progress = quietProgress();
    progress.update = (p) => lines.push(formatProgress(p));
    let stop = false;
    try {
      const result = await trainLoop(config, data, model, optimizer, initialState(), {
        progress,
        interrupted: () => stop,
        // The user presses Ctrl-C while epoch 1 is being validated.
        onEpoch: (record) => {
          if (record.epoch === 1) stop = true;
          return Promise.resolve();
        },
      });
      assertEquals(result.interrupted, true);
      const perEpoch = 4; // 64 images / batch 16
      assertEquals(result.state.globalStep, perEpoch, "no step after the interrupt");
      // --log-every 50 > steps per epoch: nothing was read during epoch 1, so no loss is shown.
      assertOk(lines.length > 0 && lines.every((l) => !l.includes("loss")), lines.join("\n"));
      assertOk(!lines.some((l) => l.includes("…")), "no placeholder");
    } finally {
      optimizer.dispose();
      model.dispose();
    }
  },
);

Deno.test("Ctrl-C: stops, saves, and prints the resume command in the form the user ran", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-sigint-" });
  try {
    await Deno.mkdir(`${dir}/feats`);
    await writeFeatureDir(`${dir}/feats`, toyDataset({ images: 400, seed: 3 }));
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "src/cli/train.ts",
        "--data",
        `${dir}/feats`,
        "--out",
        `${dir}/run`,
        "--epochs",
        "50",
        "--batch",
        "16",
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      // As under `npx -y deno@… task train`.
      env: { npm_config_user_agent: "npm/11.19.1 node/v20.20.2 linux x64 workspaces/false" },
    }).spawn();
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let err = "";
    while (!/epoch 1\/50/.test(err)) {
      const { value, done } = await reader.read();
      if (done) break;
      err += value;
    }
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      err += value;
    }
    const status = await child.status;
    await child.stdout.cancel();
    assertEquals(status.code, 130, err);
    assertOk(
      err.includes(`resume with: npx -y deno@${Deno.version.deno} task train --resume ${dir}/run`),
      err,
    );
    const summary = JSON.parse(await Deno.readTextFile(`${dir}/run/summary.json`));
    assertEquals(summary.status, "interrupted");
    assertOk((await Deno.stat(`${dir}/run/state.safetensors`)).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a part under 100 images is flagged with its size", () => {
  const small = toyDataset({ images: 16, seed: 1 });
  const warning = smallPartWarning("validation", small);
  assertOk(warning !== null && warning.includes("only 16 images (32 texts)"), warning ?? "");
  assertEquals(smallPartWarning("validation", toyDataset({ images: 100, seed: 1 })), null);
});

Deno.test("interval chart: one row per item, drawn at the asked width", async () => {
  const img = await intervalChart(
    [
      { label: "softmax", value: 0, lo: 0, hi: 0 },
      { label: "listnet", value: -3.5, lo: -6, hi: -1 },
    ],
    { title: "Δ rsum", xLabel: "rsum points", reference: 0, note: "95 % CI", width: 400 },
  );
  assertEquals(img.width, 400);
  assertOk(img.height > 2 * 24, `height ${img.height}`);
});
