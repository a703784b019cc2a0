import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertThrows,
  gpuTest,
  gradCheck,
  randn,
} from "./util.ts";
import { rt } from "../src/gpu/runtime.ts";
import { backward, noGrad, zeroGrad } from "../src/autodiff/tape.ts";
import { keep, scope, Tensor } from "../src/autodiff/tensor.ts";
import { add, gelu, mul, relu } from "../src/ops/elementwise.ts";
import { addBias, l2Normalize, logSumExp, mean, mulScalar, sumAll } from "../src/ops/reduce.ts";
import { matmul } from "../src/ops/matmul.ts";
import { matmulRef } from "../src/reference/matmul.ts";
import { geluRef, reluRef } from "../src/reference/elementwise.ts";
import { l2NormalizeRef, logSumExpRef } from "../src/reference/reduce.ts";

// A 2-layer MLP head with L2-normalised output, a learnable temperature and an InfoNCE-like loss:
// every op of the training path composed, checked end to end against float64 finite differences.
const [B, D, H, O] = [6, 5, 7, 4];

function mlpRef(
  x: Float64Array,
  w1: Float64Array,
  b1: Float64Array,
  w2: Float64Array,
  act: "relu" | "gelu",
) {
  const h = matmulRef(x, w1, B, H, D).map((v, i) => v + b1[i % H]);
  const a = act === "relu" ? reluRef(h) : geluRef(h);
  return l2NormalizeRef(matmulRef(a, w2, B, O, H), B, O);
}

for (const act of ["relu", "gelu"] as const) {
  gpuTest(
    `composed MLP + similarity + logsumexp gradients match finite differences (${act})`,
    async () => {
      await gradCheck(
        [
          { shape: [B, D], data: randn(B * D, 1), grad: false },
          { shape: [D, H], data: randn(D * H, 2, 0.5) },
          { shape: [H], data: randn(H, 3, 0.1) },
          { shape: [H, O], data: randn(H * O, 4, 0.5) },
          { shape: [1], data: [2.5] },
        ],
        (x, w1, b1, w2, s) => {
          const h = addBias(matmul(x, w1), b1);
          const z = l2Normalize(matmul(act === "relu" ? relu(h) : gelu(h), w2));
          const sim = mulScalar(matmul(z, z, { transB: true }), s);
          return logSumExp(sim);
        },
        (x, w1, b1, w2, s) => {
          const z = mlpRef(x, w1, b1, w2, act);
          const sim = matmulRef(z, z, B, B, O, false, true).map((v) => v * s[0]);
          return logSumExpRef(sim, B, B);
        },
        { atol: 5e-4, rtol: 5e-3 },
      );
    },
  );
}

gpuTest("a tensor used twice receives the sum of both gradients", async () => {
  const x = Tensor.param([1, 2, 3], [3]);
  scope(() => backward(sumAll(add(mul(x, x), x)))); // d/dx (x² + x) = 2x + 1
  assertAllClose(await x.grad!.read(), [3, 5, 7], { atol: 1e-6 });
  // a second backward accumulates into .grad
  scope(() => backward(sumAll(x)));
  assertAllClose(await x.grad!.read(), [4, 6, 8], { atol: 1e-6 });
  zeroGrad([x]);
  assertEquals(x.grad, null);
  x.dispose();
});

gpuTest("noGrad records nothing and backward through it is refused", () => {
  const x = Tensor.param([1, 2], [2]);
  const y = noGrad(() => mul(x, x));
  assertEquals(y.requiresGrad, false);
  assertEquals(y.creator, null);
  assertThrows(() => backward(y), /does not depend on any tensor that requires grad/);
  y.dispose();
  x.dispose();
});

gpuTest("scope disposes intermediates, keeps returned tensors, and cleans up after a throw", () => {
  const pool = rt().pool;
  const before = pool.liveCount;
  let inner: Tensor | null = null;
  const kept = scope(() => {
    inner = Tensor.zeros([4]);
    return add(inner, inner);
  });
  assertEquals(inner!.disposed, true);
  assertEquals(kept.disposed, false);
  assertEquals(pool.liveCount, before + 1);
  kept.dispose();
  assertThrows(() =>
    scope(() => {
      Tensor.zeros([8]);
      throw new Error("boom");
    }), /boom/);
  assertEquals(pool.liveCount, before);
  const k = scope(() => keep(Tensor.zeros([2])));
  assertEquals(k.disposed, false);
  k.dispose();
  assertThrows(() => k.buffer, /used after dispose/);
});

gpuTest("a deep chain backpropagates without stack overflow and stays finite", async () => {
  const x = Tensor.param(randn(8, 5), [2, 4]);
  scope(() => {
    let y = x;
    for (let i = 0; i < 3000; i++) y = add(y, mul(y, Tensor.full([2, 4], 1e-4)));
    backward(mean(y));
  });
  const g = await x.grad!.read();
  assertFinite(g, "deep chain gradient");
  assertAllClose(g, new Array(8).fill((1 + 1e-4) ** 3000 / 8), { rtol: 1e-3 });
  x.grad!.dispose();
  x.dispose();
});
