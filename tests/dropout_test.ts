import {
  assertAllClose,
  assertEquals,
  assertOk,
  assertThrows,
  gpuTest,
  gradCheck,
  randn,
} from "./util.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { backward } from "../src/autodiff/tape.ts";
import { mul } from "../src/ops/elementwise.ts";
import { sumAll } from "../src/ops/reduce.ts";
import { dropout } from "../src/ops/dropout.ts";
import { dropoutMaskRef, dropoutRef } from "../src/reference/dropout.ts";

gpuTest("dropout matches the CPU reference mask bit for bit", async () => {
  for (
    const [n, p, seed, step] of [[1, 0.5, 1, 0], [257, 0.1, 7, 3], [100000, 0.3, 0xffffffff, 9]]
  ) {
    const x = randn(n, n + 1);
    const y = scope(() => dropout(Tensor.from(x), p, { seed, step }));
    const got = await y.read();
    const keep = dropoutMaskRef(n, p, seed, step);
    for (let i = 0; i < n; i++) {
      if ((got[i] !== 0) !== (keep[i] === 1) && x[i] !== 0) {
        throw new Error(`n=${n}: element ${i} kept=${got[i] !== 0}, reference ${keep[i]}`);
      }
    }
    assertAllClose(got, dropoutRef(x, p, seed, step), { atol: 1e-7, rtol: 1e-6 }, `n=${n}`);
    y.dispose();
  }
});

gpuTest(
  "dropout keeps about 1 − p of the elements and is deterministic per (seed, step)",
  async () => {
    const n = 200000;
    const ones = Tensor.full([n], 1);
    const [a, b, c, d] = [
      dropout(ones, 0.25, { seed: 3, step: 1 }),
      dropout(ones, 0.25, { seed: 3, step: 1 }),
      dropout(ones, 0.25, { seed: 3, step: 2 }),
      dropout(ones, 0.25, { seed: 4, step: 1 }),
    ];
    const [va, vb, vc, vd] = [await a.read(), await b.read(), await c.read(), await d.read()];
    const kept = va.reduce((s, v) => s + (v !== 0 ? 1 : 0), 0) / n;
    // Binomial: sd = sqrt(0.25·0.75/n) ≈ 0.001, so ±0.006 is 6 sd.
    assertOk(Math.abs(kept - 0.75) < 0.006, `kept fraction ${kept}, expected 0.75`);
    assertAllClose(Array.from(new Set(va)).sort(), [0, 1 / 0.75], { atol: 1e-6 }, "values");
    assertEquals(va, vb);
    const agree = (x: Float32Array, y: Float32Array) =>
      x.reduce((s, v, i) => s + ((v !== 0) === (y[i] !== 0) ? 1 : 0), 0) / n;
    // Independent masks agree on 0.75² + 0.25² = 62.5 % of elements.
    assertOk(Math.abs(agree(va, vc) - 0.625) < 0.01, `step masks agree on ${agree(va, vc)}`);
    assertOk(Math.abs(agree(va, vd) - 0.625) < 0.01, `seed masks agree on ${agree(va, vd)}`);
    [ones, a, b, c, d].forEach((t) => t.dispose());
  },
);

gpuTest("dropout backward applies the same mask and scale to the gradient", async () => {
  const n = 1000;
  const x = Tensor.param(randn(n, 5), [n], "x");
  const w = randn(n, 6);
  scope(() => backward(sumAll(mul(dropout(x, 0.4, { seed: 11, step: 2 }), Tensor.from(w)))));
  const keep = dropoutMaskRef(n, 0.4, 11, 2);
  const expected = Float64Array.from(w, (v, i) => keep[i] ? v / 0.6 : 0);
  assertAllClose(await x.grad!.read(), expected, { atol: 1e-6, rtol: 1e-5 }, "dx");
  x.grad?.dispose();
  x.dispose();
});

gpuTest("dropout with p = 0 is the identity and bad arguments throw clearly", () => {
  scope(() => {
    const x = Tensor.zeros([3]);
    assertOk(dropout(x, 0, { seed: 1, step: 0 }) === x, "p = 0 returns the input");
    assertThrows(() => dropout(x, 1, { seed: 1, step: 0 }), /p must be in \[0, 1\), got 1/);
    assertThrows(() => dropout(x, -0.1, { seed: 1, step: 0 }), /p must be in/);
    assertThrows(() => dropout(x, 0.5, { seed: -1, step: 0 }), /seed must be a u32/);
    assertThrows(() => dropout(x, 0.5, { seed: 1, step: 1.5 }), /step must be a u32/);
  });
});

gpuTest("dropout gradient matches finite differences", async () => {
  const opts = { seed: 5, step: 1 };
  await gradCheck(
    [{ shape: [40], data: randn(40, 12) }],
    (x) => dropout(x, 0.3, opts),
    (x) => dropoutRef(x, 0.3, opts.seed, opts.step),
  );
});
