import { assertAllClose, assertEquals, gpuTest, randn } from "./util.ts";
import { backward } from "../src/autodiff/tape.ts";
import { scope, Tensor, untracked } from "../src/autodiff/tensor.ts";
import { mul } from "../src/ops/elementwise.ts";
import { addBias, l2Normalize, logSumExp, mean as meanOf, sumAll } from "../src/ops/reduce.ts";
import { matmul } from "../src/ops/matmul.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { adamwRef, type AdamWRefParam, adamwStepRef } from "../src/reference/adamw.ts";

// loss = Σ w ⊙ c, so d loss / d w = c exactly: the update is compared with the CPU twin.
async function runSteps(
  options: {
    decayTo?: "zero" | "init";
    maxGradNorm?: number;
    clamp?: [number, number];
    fused?: boolean;
  },
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
    fused: options.fused,
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

gpuTest("unfused AdamW (one dispatch per parameter) matches the CPU twin", async () => {
  for (const options of [{}, { decayTo: "init" as const }, { maxGradNorm: 0.5 }]) {
    const { got, ref, status } = await runSteps({ ...options, fused: false });
    assertAllClose(got, ref, { atol: 1e-5, rtol: 1e-4 }, JSON.stringify(options));
    assertEquals(status, 0);
  }
});

/**
 * Parameters of edge sizes (1, 256, 257, one fused chunk of 1024 and one past it, several chunks
 * and not a multiple of 4), each with its own decay and
 * one clamped; `missing[t]` lists the parameters without a gradient at step t. Both paths are
 * compared with {@link adamwStepRef}, weights and moments.
 */
async function edgeSteps(fused: boolean, decayTo: "zero" | "init", missing: number[][]) {
  const sizes = [1, 256, 257, 2101, 1024, 1025];
  const decays = [0, 0.1, 0.01, 0.3, 0.05, 0];
  const clamps: ([number, number] | undefined)[] = [
    undefined,
    undefined,
    [-0.5, 0.6],
    undefined,
    undefined,
    [-0.2, 0.2],
  ];
  const w0 = sizes.map((n, i) => randn(n, 10 + i));
  const tensors = sizes.map((n, i) => Tensor.param(w0[i], [n]));
  const opt = new AdamW(
    tensors.map((tensor, i) => ({ tensor, weightDecay: decays[i], clamp: clamps[i] })),
    { lr: 0.03, weightDecay: 99, maxGradNorm: 2, decayTo, fused },
  );
  const ref: AdamWRefParam[] = sizes.map((n, i) => ({
    w: Float64Array.from(w0[i]),
    grad: null,
    state: { m: new Float64Array(n), v: new Float64Array(n) },
    weightDecay: decays[i],
    clamp: clamps[i],
    anchor: decayTo === "init" ? w0[i] : undefined,
  }));
  missing.forEach((absent, t) => {
    tensors.forEach((p, i) => {
      const g = absent.includes(i) ? null : randn(p.size, 100 * t + i, 2);
      ref[i].grad = g;
      if (g) p.grad = untracked(() => Tensor.from(g, [p.size]));
    });
    opt.step();
    opt.zeroGrad();
    adamwStepRef(ref, { lr: 0.03, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: t + 1, maxGradNorm: 2 });
  });
  const state = opt.stateTensors();
  for (let i = 0; i < sizes.length; i++) {
    const what = `${fused ? "fused" : "unfused"} ${decayTo} parameter ${i} (${sizes[i]})`;
    assertAllClose(await tensors[i].read(), ref[i].w, { atol: 2e-5, rtol: 1e-4 }, what);
    assertAllClose(await state[`adam.${i}.m`].read(), ref[i].state.m, { atol: 1e-6 }, what);
    assertAllClose(await state[`adam.${i}.v`].read(), ref[i].state.v, { atol: 1e-6 }, what);
  }
  opt.dispose();
  tensors.forEach((t) => t.dispose());
}

gpuTest(
  "fused AdamW matches the twin on edge sizes; a parameter without gradient is untouched",
  async () => {
    // Steps 2 and 3 leave parameters out: their weights and moments must not move (no decay).
    const missing = [[], [1, 3, 5], [0, 1], []];
    for (const decayTo of ["zero", "init"] as const) {
      await edgeSteps(true, decayTo, missing);
      await edgeSteps(false, decayTo, missing);
    }
  },
);

gpuTest(
  "fused AdamW: a parameter without a gradient keeps its exact weights and moments",
  async () => {
    const a = Tensor.param(randn(300, 1), [300]);
    const b = Tensor.param(randn(40, 2), [40]);
    const opt = new AdamW([a, b], { lr: 0.1, weightDecay: 0.5 });
    a.grad = untracked(() => Tensor.from(randn(300, 3), [300]));
    b.grad = untracked(() => Tensor.from(randn(40, 4), [40]));
    opt.step();
    opt.zeroGrad();
    const before = { w: await b.read(), ...await readState(opt, 1) };
    a.grad = untracked(() => Tensor.from(randn(300, 5), [300]));
    opt.step(); // b has no gradient
    opt.zeroGrad();
    const after = { w: await b.read(), ...await readState(opt, 1) };
    assertEquals([...after.w], [...before.w]);
    assertEquals([...after.m], [...before.m]);
    assertEquals([...after.v], [...before.v]);
    opt.dispose();
    a.dispose();
    b.dispose();
  },
);

async function readState(opt: AdamW, i: number) {
  const s = opt.stateTensors();
  return { m: await s[`adam.${i}.m`].read(), v: await s[`adam.${i}.v`].read() };
}

gpuTest(
  "fused AdamW: state written through stateTensors() is what the next step uses",
  async () => {
    const w0 = randn(500, 7);
    const grads = [randn(500, 8), randn(500, 9), randn(500, 10)];
    const run = (opt: AdamW, w: Tensor, from: number) => {
      for (let t = from; t < grads.length; t++) {
        w.grad = untracked(() => Tensor.from(grads[t], [500]));
        opt.step();
        opt.zeroGrad();
      }
    };
    const w1 = Tensor.param(w0, [500]);
    const opt1 = new AdamW([w1], { lr: 0.05 });
    run(opt1, w1, 0);
    // Stop after 2 steps, save, restore into a fresh optimiser, take step 3 there.
    const w2 = Tensor.param(w0, [500]);
    const opt2 = new AdamW([w2], { lr: 0.05 });
    w2.grad = untracked(() => Tensor.from(grads[0], [500]));
    opt2.step();
    opt2.zeroGrad();
    w2.grad = untracked(() => Tensor.from(grads[1], [500]));
    opt2.step();
    opt2.zeroGrad();
    const saved = { w: await w2.read(), ...await readState(opt2, 0), t: opt2.t };
    const w3 = Tensor.param(saved.w, [500]);
    const opt3 = new AdamW([w3], { lr: 0.05 });
    const slots = opt3.stateTensors();
    slots["adam.0.m"].write(saved.m);
    slots["adam.0.v"].write(saved.v);
    opt3.t = saved.t;
    run(opt3, w3, 2);
    assertAllClose(await w3.read(), await w1.read(), { atol: 1e-6 });
    [opt1, opt2, opt3].forEach((o) => o.dispose());
    [w1, w2, w3].forEach((t) => t.dispose());
  },
);

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

gpuTest(
  "fused AdamW == unfused on an InfoNCE training step (a parameter without gradient too)",
  async () => {
    const run = async (fused: boolean) => {
      const x = Tensor.from(randn(16 * 24, 1), [16, 24]);
      const y = Tensor.from(randn(16 * 20, 2), [16, 20]);
      const params = [
        Tensor.param(randn(24 * 8, 3, 0.3), [24, 8]),
        Tensor.param(new Float64Array(8), [8]),
        Tensor.param(randn(20 * 8, 4, 0.3), [20, 8]),
        Tensor.param(new Float64Array(8), [8]),
        Tensor.param(randn(5, 5), [5]), // in no loss: no gradient
      ];
      const opt = new AdamW(params, { lr: 0.01, maxGradNorm: 1, fused });
      for (let s = 0; s < 3; s++) {
        scope(() => {
          const t = l2Normalize(addBias(matmul(x, params[0]), params[1]));
          const v = l2Normalize(addBias(matmul(y, params[2]), params[3]));
          backward(meanOf(logSumExp(matmul(t, v, { transB: true }))));
          opt.step();
          opt.zeroGrad();
        });
      }
      const out = await Promise.all(params.map((p) => p.read()));
      opt.dispose();
      [x, y, ...params].forEach((t) => t.dispose());
      return out;
    };
    const fused = await run(true);
    const unfused = await run(false);
    fused.forEach((f, i) =>
      assertAllClose(f, unfused[i], { atol: 1e-6, rtol: 1e-5 }, `param ${i}`)
    );
    assertEquals([...fused[4]], [...new Float32Array(randn(5, 5))]);
  },
);
