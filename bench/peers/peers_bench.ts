/**
 * Peers in the same `deno bench` run: crossrank's kernels next to TensorFlow.js on the same
 * machine, so every ratio below comes from one process, one adapter and one load situation.
 *
 * Peers (dev-only, fetched by Deno from npm on first run; nothing is added to the import map):
 * - `@tensorflow/tfjs@4.22.0` (tfjs-core 4.22.0 plus its gradients; see the import below) with
 *   `@tensorflow/tfjs-backend-webgpu@4.22.0`: WebGPU on the
 *   same adapter as crossrank (llvmpipe through wgpu's GL backend here: `initGpu()` runs first and
 *   sets `DENO_WEBGPU_BACKEND=gl` before tfjs asks `navigator.gpu` for its adapter). tfjs sees Deno
 *   as Node (`IS_NODE`), which does not matter to the WebGPU backend.
 * - `@tensorflow/tfjs-backend-wasm@4.22.0`: XNNPACK with SIMD on ONE thread. tfjs disables its
 *   threaded build under Node/Deno, and forcing `WASM_HAS_MULTITHREAD_SUPPORT` fails
 *   (`ERR_WORKER_PATH`: the emscripten pthread pool hands `worker_threads` a blob URL). The
 *   `.wasm` files are located with `setWasmPaths` on the package's folder in Deno's npm cache.
 *
 * Cases (one `Deno.bench` group per workload, crossrank the baseline so Deno prints ratios):
 * - matmul 512³, 1024³ and the retrieval shape (5000×512)·(1000×512)ᵀ: crossrank `matmul`
 *   (blocked kernel), tfjs-webgpu and tfjs-wasm `tf.matMul`. Each call records `reps` products
 *   and waits once (crossrank `rt().sync()`, tfjs a one-element readback of the last product).
 *   For the retrieval shape tfjs-wasm also runs on B stored K × N (no transpose), its fast layout.
 * - one InfoNCE (CLIP) training step at batch 256, 512 → 256 linear heads for text and image,
 *   row-L2-normalised, S = T·Iᵀ / 0.07, loss = mean of row- and column-wise softmax cross-entropy
 *   with the diagonal as target, gradients and an Adam update (lr 1e-3, β 0.9/0.999, ε 1e-8, no
 *   weight decay): crossrank ops + `AdamW` vs tfjs `optimizer.minimize` with `tf.train.adam`, on
 *   the same seeded inputs and initial weights. crossrank twice: the op chain tfjs records too
 *   (the baseline), and its fused ops for the same loss (`biasL2Normalize`,
 *   `symmetricSoftmaxLoss`). At load the losses are checked equal (initial and after 3 steps,
 *   tolerance 1e-3), so the cases do equal work.
 *
 * A throughput table (GFLOP/s, steps/s, crossrank speed ÷ peer speed) prints after the last case.
 *
 * Run: `deno task bench:peers`. `CROSSRANK_BENCH_QUICK=1` skips the retrieval shape
 * (the slowest group).
 *
 * @module
 */

// Inline npm specifiers on purpose: the peers are dev-only and fetched only when this bench runs.
// The union package `@tensorflow/tfjs` re-exports tfjs-core and, unlike tfjs-core's Node build,
// registers the gradients that `optimizer.minimize` needs (tfjs-core keeps them in an ESM-only
// `dist/register_all_gradients.js` whose extensionless imports Deno cannot resolve).
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
// deno-lint-ignore no-import-prefix
import { getThreadsCount, setWasmPaths } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import { fileURLToPath } from "node:url";
import { initGpu, rt } from "../../src/gpu/runtime.ts";
import { scope, Tensor, untracked } from "../../src/autodiff/tensor.ts";
import { backward, noGrad } from "../../src/autodiff/tape.ts";
import { matmul } from "../../src/ops/matmul.ts";
import { axpby, scale, sub } from "../../src/ops/elementwise.ts";
import { addBias, l2Normalize, logSumExp, mean, rowDot } from "../../src/ops/reduce.ts";
import { transpose } from "../../src/ops/transpose.ts";
import { AdamW } from "../../src/optim/adamw.ts";
import { biasL2Normalize } from "../../src/ops/fused.ts";
import { symmetricSoftmaxLoss } from "../../src/losses/softmax.ts";
import {
  amortisedBench,
  BenchReport,
  INFONCE,
  INFONCE_ADAM,
  infoNceInit,
  infoNceTensors,
  seededNormal,
} from "../util.ts";

/** Version of every tfjs package used here (they are released together). */
const TFJS_VERSION = "4.22.0";

const report = new BenchReport(
  "peers: crossrank vs tfjs (one run, same machine)",
  "crossrank/peer speed",
);
const loadAverage = () => Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
report.notes.push(
  `load average (1/5/15 min) at start: ${loadAverage()} on ${navigator.hardwareConcurrency} CPUs`,
);
globalThis.addEventListener(
  "unload",
  () => report.notes.push(`load average at end: ${loadAverage()}`),
);
report.printOnUnload();
const quick = Deno.env.get("CROSSRANK_BENCH_QUICK") === "1";

// crossrank first: it sets DENO_WEBGPU_BACKEND=gl, which tfjs-webgpu's adapter request then uses.
await initGpu();
report.notes.push(
  `crossrank adapter: ${rt().gpu.adapterName} (${rt().gpu.backend}); Deno ${Deno.version.deno}`,
);

type Backend = "webgpu" | "wasm";
const LABEL: Record<Backend, string> = { webgpu: "tfjs-webgpu", wasm: "tfjs-wasm" };

/** Why a tfjs backend cannot run here, or null when it is ready. */
const unavailable: Record<Backend, string | null> = { webgpu: null, wasm: null };

setWasmPaths(
  fileURLToPath(new URL("./", import.meta.resolve("npm:@tensorflow/tfjs-backend-wasm@4.22.0"))),
);
for (const backend of ["webgpu", "wasm"] as const) {
  try {
    if (!(await tf.setBackend(backend))) unavailable[backend] = "backend failed to initialise";
    await tf.ready();
  } catch (error) {
    unavailable[backend] = String(error);
  }
}
if (!unavailable.webgpu) {
  // tfjs-webgpu keeps its adapter's info on the backend (not public API; for the record only).
  const info = (tf.findBackend("webgpu") as { adapterInfo?: { vendor?: string } } | null)
    ?.adapterInfo;
  const vendor = Number(info?.vendor);
  report.notes.push(
    `tfjs-webgpu adapter vendor: ${Number.isFinite(vendor) ? `0x${vendor.toString(16)}` : "?"}` +
      " (0x10005 = Mesa, i.e. the same llvmpipe)",
  );
}
if (!unavailable.wasm) {
  await tf.setBackend("wasm");
  report.notes.push(
    `tfjs ${TFJS_VERSION}: wasm threads ${getThreadsCount()}, SIMD ${
      tf.env().getBool("WASM_HAS_SIMD_SUPPORT")
    }`,
  );
}

/** Makes `backend` the active tfjs backend (ops run where the active backend is). */
async function use(backend: Backend): Promise<void> {
  if (tf.getBackend() !== backend) await tf.setBackend(backend);
}

/** Waits until every queued tfjs op has run, reading back one element of `t`. */
async function settle(t: tf.Tensor): Promise<void> {
  const one = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), 0, 1));
  await one.data();
  one.dispose();
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return a.length === b.length ? d : Infinity;
}

// ---------------------------------------------------------------------------------------------
// matmul

interface MatmulShape {
  group: string;
  /** Output rows. */
  m: number;
  /** Output columns. */
  n: number;
  /** Inner dimension. */
  k: number;
  /** B is stored N × K and used transposed (the retrieval layout: queries · galleryᵀ). */
  transB: boolean;
  /** Products recorded per bench call (one wait per call). */
  reps: number;
  /** Measured calls after the warm-up (the bench's `n`; Deno runs n + 1). */
  calls: number;
  ignore?: string;
}

const SHAPES: MatmulShape[] = [
  // Products per wait: enough that the ~11 ms GPU wait is a small part of a call (16 × ~7 ms at
  // 512³, 4 × ~55 ms at 1024³); every library does the same products per call.
  { group: "matmul 512×512×512", m: 512, n: 512, k: 512, transB: false, reps: 16, calls: 3 },
  { group: "matmul 1024×1024×1024", m: 1024, n: 1024, k: 1024, transB: false, reps: 4, calls: 3 },
  {
    group: "matmul (5000×512)·(1000×512)ᵀ",
    m: 5000,
    n: 1000,
    k: 512,
    transB: true,
    reps: 1,
    calls: 1,
    ignore: quick ? "CROSSRANK_BENCH_QUICK=1" : undefined,
  },
];

/** Equal work: on a small odd shape, every library's product matches crossrank's. */
async function checkMatmulAgreement(): Promise<void> {
  const [m, n, k] = [37, 29, 53];
  const a = seededNormal(m * k, 11);
  const b = seededNormal(n * k, 12);
  const product = scope(() =>
    matmul(Tensor.from(a, [m, k]), Tensor.from(b, [n, k]), { transB: true })
  );
  const ours = await product.read();
  product.dispose();
  for (const backend of ["webgpu", "wasm"] as const) {
    if (unavailable[backend]) continue;
    await use(backend);
    const c = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [n, k]), false, true));
    const d = maxAbsDiff(ours, await c.data());
    c.dispose();
    if (!(d < 1e-4)) {
      throw new Error(`peers: ${LABEL[backend]} matMul differs from crossrank by ${d} at 37×29×53`);
    }
    report.notes.push(
      `matmul 37×29×53 ·ᵀ agrees: crossrank vs ${LABEL[backend]} max |Δ| ${d.toExponential(1)}`,
    );
  }
}
await checkMatmulAgreement();

for (const s of SHAPES) {
  const { m, n, k, transB, reps } = s;
  const calls = s.calls;
  const aData = seededNormal(m * k, 1);
  const bData = seededNormal(k * n, 2);
  const bShape = transB ? [n, k] : [k, n];
  const flop = 2 * m * n * k;
  let a: Tensor | null = null;
  let b: Tensor | null = null;
  amortisedBench(report, {
    group: s.group,
    name: `crossrank matmul ${s.group.slice(7)}`,
    baseline: true,
    reps,
    n: calls,
    work: flop,
    unit: "GFLOP/s",
    scale: 1e9,
    ignore: s.ignore,
    before: () => {
      a ??= untracked(() => Tensor.from(aData, [m, k], { label: "A" }));
      b ??= untracked(() => Tensor.from(bData, bShape, { label: "B" }));
    },
    run: async (count) => {
      scope(() => {
        for (let r = 0; r < count; r++) matmul(a!, b!, { transB });
      });
      await rt().sync();
    },
  });
  // The same product on the storage-buffer operand path (the kernel before the texture path), in
  // the same run, for before/after ratios.
  amortisedBench(report, {
    group: s.group,
    name: `crossrank matmul ${s.group.slice(7)} (buffer operands)`,
    reps,
    n: calls,
    work: flop,
    unit: "GFLOP/s",
    scale: 1e9,
    ignore: s.ignore,
    before: () => {
      a ??= untracked(() => Tensor.from(aData, [m, k], { label: "A" }));
      b ??= untracked(() => Tensor.from(bData, bShape, { label: "B" }));
    },
    run: async (count) => {
      Deno.env.set("CROSSRANK_MATMUL_OPERANDS", "buffer");
      try {
        scope(() => {
          for (let r = 0; r < count; r++) matmul(a!, b!, { transB });
        });
      } finally {
        Deno.env.delete("CROSSRANK_MATMUL_OPERANDS");
      }
      await rt().sync();
    },
  });
  const peerCases: { backend: Backend; plain: boolean }[] = [
    { backend: "webgpu", plain: false },
    { backend: "wasm", plain: false },
  ];
  // tfjs-wasm is far slower with transposeB (measured ~10×): also time it on B stored K × N, its
  // fast layout, so the table shows the peer at its best as well as on the retrieval layout.
  if (transB) peerCases.push({ backend: "wasm", plain: true });
  for (const { backend, plain } of peerCases) {
    let ta: tf.Tensor2D | null = null;
    let tb: tf.Tensor2D | null = null;
    amortisedBench(report, {
      group: s.group,
      name: `${LABEL[backend]} tf.matMul ${s.group.slice(7)}${plain ? " (B stored K×N)" : ""}`,
      reps,
      n: calls,
      work: flop,
      unit: "GFLOP/s",
      scale: 1e9,
      ignore: s.ignore ?? unavailable[backend] ?? undefined,
      before: async () => {
        await use(backend);
        ta ??= tf.tensor2d(aData, [m, k]);
        tb ??= plain
          ? tf.tidy(() => tf.transpose(tf.tensor2d(bData, [n, k])))
          : tf.tensor2d(bData, bShape as [number, number]);
      },
      run: async (count) => {
        let last: tf.Tensor | null = null;
        for (let r = 0; r < count; r++) {
          last?.dispose();
          last = tf.matMul(ta!, tb!, false, transB && !plain);
        }
        await settle(last!);
        last!.dispose();
      },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// InfoNCE (CLIP) training step

const { batch: BATCH, dIn: D_IN, dOut: D_OUT, logitScale: LOGIT_SCALE } = INFONCE;
/** Steps per call (one wait): 8 × ~30 ms, so the ~11 ms wait is a small part of a call. */
const STEPS_PER_CALL = 8;
const CHECK_STEPS = 3;
const LOSS_TOLERANCE = 1e-3;

/** The seeded inputs and initial weights every implementation starts from. */
const INIT = infoNceInit();

/** One implementation of the InfoNCE model: its loss now, and `count` recorded training steps. */
interface InfoNceModel {
  /** The loss on the current weights (a readback). */
  loss(): Promise<number>;
  /** Records `count` training steps and waits once until they have run. */
  train(count: number): Promise<void>;
}

/**
 * crossrank's InfoNCE model: the op chain every peer records (`fusedOps` false), or crossrank's
 * fused ops for the same loss (`biasL2Normalize`, and `symmetricSoftmaxLoss` with identity labels).
 */
function crossrankInfoNce(fusedOps: boolean): InfoNceModel {
  const { text, image, textW, textB, imageW, imageB, labels } = infoNceTensors(INIT);
  const opt = new AdamW([textW, textB, imageW, imageB], INFONCE_ADAM);
  const forward = (): Tensor => {
    if (fusedOps) {
      const t = biasL2Normalize(matmul(text, textW), textB);
      const v = biasL2Normalize(matmul(image, imageW), imageB);
      return symmetricSoftmaxLoss(matmul(t, v, { transB: true }), labels, LOGIT_SCALE);
    }
    const t = l2Normalize(addBias(matmul(text, textW), textB));
    const v = l2Normalize(addBias(matmul(image, imageW), imageB));
    const s = scale(matmul(t, v, { transB: true }), LOGIT_SCALE);
    const diag = scale(rowDot(t, v), LOGIT_SCALE);
    // CLIP: ½·mean_i(lse_j S_ij − S_ii) + ½·mean_j(lse_i S_ij − S_jj)
    return mean(sub(axpby(0.5, logSumExp(s), 0.5, logSumExp(transpose(s))), diag));
  };
  return {
    loss: () => noGrad(() => scope(forward)).item(),
    async train(count) {
      for (let i = 0; i < count; i++) {
        scope(() => {
          backward(forward());
          opt.step();
          opt.zeroGrad();
        });
        rt().submit();
      }
      await rt().sync();
    },
  };
}

function tfjsInfoNce(backend: Backend): InfoNceModel {
  const text = tf.tensor2d(INIT.text, [BATCH, D_IN]);
  const image = tf.tensor2d(INIT.image, [BATCH, D_IN]);
  const textW = tf.variable(tf.tensor2d(INIT.textW, [D_IN, D_OUT]));
  const textB = tf.variable(tf.zeros([D_OUT]));
  const imageW = tf.variable(tf.tensor2d(INIT.imageW, [D_IN, D_OUT]));
  const imageB = tf.variable(tf.zeros([D_OUT]));
  const opt = tf.train.adam(
    INFONCE_ADAM.lr,
    INFONCE_ADAM.beta1,
    INFONCE_ADAM.beta2,
    INFONCE_ADAM.eps,
  );
  const normalize = (x: tf.Tensor2D) => tf.div(x, tf.sqrt(tf.sum(tf.square(x), 1, true)));
  const forward = (): tf.Scalar => {
    const t = normalize(tf.add(tf.matMul(text, textW), textB));
    const v = normalize(tf.add(tf.matMul(image, imageW), imageB));
    const s = tf.mul(tf.matMul(t, v, false, true), LOGIT_SCALE);
    const diag = tf.mul(tf.sum(tf.mul(t, v), 1), LOGIT_SCALE);
    const lse = tf.add(tf.mul(tf.logSumExp(s, 1), 0.5), tf.mul(tf.logSumExp(s, 0), 0.5));
    return tf.mean(tf.sub(lse, diag));
  };
  return {
    async loss() {
      await use(backend);
      const l = tf.tidy(forward);
      const value = (await l.data())[0];
      l.dispose();
      return value;
    },
    async train(count) {
      await use(backend);
      for (let i = 0; i < count; i++) opt.minimize(forward, false, [textW, textB, imageW, imageB]);
      await settle(imageB);
    },
  };
}

const models: { name: string; backend: Backend | null; model: InfoNceModel }[] = [
  { name: "crossrank", backend: null, model: crossrankInfoNce(false) },
  { name: "crossrank fused ops", backend: null, model: crossrankInfoNce(true) },
];
for (const backend of ["webgpu", "wasm"] as const) {
  if (unavailable[backend]) continue;
  await use(backend);
  models.push({ name: LABEL[backend], backend, model: tfjsInfoNce(backend) });
}

/** Equal work: same loss on the same initial weights, and again after CHECK_STEPS Adam steps. */
async function checkInfoNceAgreement(): Promise<void> {
  for (const phase of ["initial", `after ${CHECK_STEPS} steps`]) {
    const losses: number[] = [];
    for (const { model } of models) {
      if (phase !== "initial") await model.train(CHECK_STEPS);
      losses.push(await model.loss());
    }
    const parts = models.map((m, i) => `${m.name} ${losses[i].toFixed(5)}`).join(", ");
    for (let i = 1; i < losses.length; i++) {
      const d = Math.abs(losses[i] - losses[0]);
      if (!(d <= LOSS_TOLERANCE)) {
        throw new Error(
          `peers: InfoNCE loss ${phase} differs, ${parts} (|Δ| ${d} > ${LOSS_TOLERANCE})`,
        );
      }
    }
    report.notes.push(`InfoNCE loss ${phase}: ${parts} (tolerance ${LOSS_TOLERANCE})`);
  }
}
await checkInfoNceAgreement();

const STEP_GROUP = `InfoNCE step B=${BATCH} ${D_IN}→${D_OUT}`;
for (const { name, backend, model } of models) {
  amortisedBench(report, {
    group: STEP_GROUP,
    name: `${name} InfoNCE step`,
    baseline: name === "crossrank",
    reps: STEPS_PER_CALL,
    work: 1,
    unit: "steps/s",
    before: backend ? () => use(backend) : undefined,
    run: (count) => model.train(count),
  });
}
