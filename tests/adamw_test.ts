import { assertAllClose, assertEquals, gpuTest, randn } from "./util.ts";
import { backward } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { mul } from "../src/ops/elementwise.ts";
import { sumAll } from "../src/ops/reduce.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { adamwRef } from "../src/reference/adamw.ts";

// loss = Σ w ⊙ c, so d loss / d w = c exactly: the update is compared with the CPU twin.
async function runSteps(
  options: { decayTo?: "zero" | "init"; maxGradNorm?: number; clamp?: [number, number] },
  steps = 5,
) {
  const n = 300;
  const w0 = randn(n, 1);
  const c = randn(n, 2, 3);
  const w = Tensor.param(w0, [n]);
  const ct = Tensor.from(c);
  const opt = new AdamW([{ tensor: w, clamp: options.clamp }], {
    lr: 0.05,
    weightDecay: 0.1,
    decayTo: options.decayTo,
    maxGradNorm: options.maxGradNorm,
  });
  for (let t = 0; t < steps; t++) {
    scope(() => {
      backward(sumAll(mul(w, ct)));
      opt.step();
      opt.zeroGrad();
    });
  }
  const got = await w.read();
  const ref = Float64Array.from(w0);
  const state = { m: new Float64Array(n), v: new Float64Array(n) };
  const norm = Math.sqrt(c.reduce((s, v) => s + v * v, 0));
  const gradScale = options.maxGradNorm && norm > options.maxGradNorm
    ? options.maxGradNorm / (norm + 1e-6)
    : 1;
  for (let t = 1; t <= steps; t++) {
    adamwRef(ref, c, state, {
      lr: 0.05,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.1,
      t,
      gradScale,
      anchor: options.decayTo === "init" ? w0 : undefined,
      clamp: options.clamp,
    });
  }
  const status = await opt.firstNonFiniteStep();
  opt.dispose();
  w.dispose();
  ct.dispose();
  return { got, ref, status };
}

gpuTest("AdamW matches the CPU twin (decay toward zero)", async () => {
  const { got, ref, status } = await runSteps({});
  assertAllClose(got, ref, { atol: 1e-5, rtol: 1e-4 });
  assertEquals(status, 0);
});

gpuTest("AdamW decays toward the initial weights when asked", async () => {
  const { got, ref } = await runSteps({ decayTo: "init" });
  assertAllClose(got, ref, { atol: 1e-5, rtol: 1e-4 });
});

gpuTest("AdamW clips the global gradient norm and clamps values", async () => {
  const { got, ref } = await runSteps({ maxGradNorm: 0.5, clamp: [-0.8, 0.9] });
  assertAllClose(got, ref, { atol: 1e-5, rtol: 1e-4 });
  for (const v of got) {
    if (v < -0.8 - 1e-7 || v > 0.9 + 1e-7) throw new Error(`clamp violated: ${v}`);
  }
});

gpuTest("a non-finite gradient skips the update and records the step", async () => {
  const w = Tensor.param([1, 2, 3], [3]);
  const opt = new AdamW([w], { lr: 0.1 });
  const bad = Tensor.from([1, NaN, 1]);
  const good = Tensor.from([1, 1, 1]);
  scope(() => {
    backward(sumAll(mul(w, good)));
    opt.step();
    opt.zeroGrad();
  });
  const after1 = await w.read();
  scope(() => {
    backward(sumAll(mul(w, bad)));
    opt.step();
    opt.zeroGrad();
  });
  assertAllClose(await w.read(), after1, { atol: 0 }, "weights unchanged by the NaN step");
  assertEquals(await opt.firstNonFiniteStep(), 2);
  [w, bad, good].forEach((t) => t.dispose());
  opt.dispose();
});
