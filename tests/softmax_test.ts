// The loss `softmax` (kernels/softmax.wgsl, src/losses/softmax.ts) against its float64 CPU twin
// (src/reference/softmax.ts): the suite every loss passes (tests/losses_fixtures.ts), InfoNCE in
// closed form, and both directions in one call (symmetricSoftmaxLoss).

import { lossSuite } from "./losses_fixtures.ts";
import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertThrows,
  gpuTest,
  gradCheck,
  randn,
  rng,
} from "./util.ts";
import { rankingLoss } from "../src/losses/mod.ts";
import { softmaxLoss, symmetricSoftmaxLoss } from "../src/losses/softmax.ts";
import { softmaxLossRef } from "../src/reference/softmax.ts";
import { backward } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { axpby, scale } from "../src/ops/elementwise.ts";
import { transpose } from "../src/ops/transpose.ts";

lossSuite("softmax");

gpuTest("softmax with one relevant item is InfoNCE: -log softmax(s)[positive]", async () => {
  const scores = [[2.0, -1.0, 0.5, 0.25], [0.1, 0.2, 0.3, 0.4]];
  const labels = [[0, 0, 1, 0], [1, 0, 0, 0]];
  const infoNce = scores.map((row, l) => {
    const pos = labels[l].indexOf(1);
    return -Math.log(Math.exp(row[pos]) / row.reduce((a, v) => a + Math.exp(v), 0));
  });
  const gpu = await rankingLoss("softmax", scores, labels);
  assertAllClose([gpu], [(infoNce[0] + infoNce[1]) / 2], { atol: 1e-6, rtol: 1e-6 }, "InfoNCE");
  // several relevant items: the target is uniform over them (binary labels)
  const multi = await rankingLoss("softmax", [[1, 2, 3]], [[1, 1, 0]]);
  const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
  assertAllClose([multi], [0.5 * (lse - 1) + 0.5 * (lse - 2)], { rtol: 1e-6 }, "two positives");
});

/** Exact NDCG of one list (no cutoff), ties impossible in the data below. */

// ---------------------------------------------------------------------------------------------
// Both directions in one call

/** Rows of an `[r, c]` flat array. */
function rowsOf(data: ArrayLike<number>, r: number, c: number): number[][] {
  return Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => data[i * c + j]));
}

/** The transpose of rows. */
function transposed(rows: number[][]): number[][] {
  return rows[0].map((_, j) => rows.map((row) => row[j]));
}

/** Float64 twin: ½ softmax(αS, Y) + ½ softmax(αSᵀ, Yᵀ) from the one-direction reference. */
function symmetricRef(s: ArrayLike<number>, y: ArrayLike<number>, r: number, c: number, alpha = 1) {
  const scores = rowsOf(s, r, c).map((row) => row.map((v) => alpha * v));
  const labels = rowsOf(y, r, c);
  return 0.5 * softmaxLossRef(scores, labels) +
    0.5 * softmaxLossRef(transposed(scores), transposed(labels));
}

/**
 * Seeded labels `[r, c]`: graded (0–3) with about a quarter relevant, some padding (−1), one row and
 * one column without a relevant item (they contribute 0 in their direction).
 */
function twoWayLabels(r: number, c: number, seed: number): Float32Array {
  const next = rng(seed);
  const y = new Float32Array(r * c);
  for (let i = 0; i < y.length; i++) {
    const u = next();
    y[i] = u < 0.1 ? -1 : u < 0.75 ? 0 : Math.ceil(next() * 3);
  }
  if (r > 2) { for (let j = 0; j < c; j++) y[j] = Math.min(y[j], 0); }
  if (c > 2) { for (let i = 0; i < r; i++) y[i * c + c - 1] = Math.min(y[i * c + c - 1], 0); }
  return y;
}

const TWO_WAY_SHAPES: [number, number][] = [[1, 1], [2, 3], [5, 4], [17, 9], [40, 67]];

gpuTest("symmetricSoftmaxLoss equals ½ softmax(S) + ½ softmax(Sᵀ) in float64", async () => {
  for (const [r, c] of TWO_WAY_SHAPES) {
    for (const alpha of [1, 1 / 0.07]) {
      const s = Float32Array.from(randn(r * c, r * 31 + c, 0.3));
      const y = r * c === 1 ? Float32Array.of(1) : twoWayLabels(r, c, r + 7 * c);
      const loss = scope(() =>
        symmetricSoftmaxLoss(Tensor.from(s, [r, c]), Tensor.from(y, [r, c]), alpha)
      );
      const got = await loss.item();
      loss.dispose();
      const want = symmetricRef(s, y, r, c, alpha);
      assertAllClose([got], [want], { atol: 1e-5, rtol: 1e-5 }, `${r}×${c}, α ${alpha}`);
    }
  }
});

gpuTest("symmetricSoftmaxLoss: the gradient matches finite differences", async () => {
  for (const [r, c] of [[1, 1], [3, 5], [9, 6]] as [number, number][]) {
    const y = r * c === 1 ? Float32Array.of(1) : twoWayLabels(r, c, 3 * r + c);
    const alpha = 2.5;
    await gradCheck(
      [{ shape: [r, c], data: randn(r * c, 11 * r + c, 0.5) }, {
        shape: [r, c],
        data: y,
        grad: false,
      }],
      (s, labels) => symmetricSoftmaxLoss(s, labels, alpha),
      (s, labels) => [symmetricRef(s, labels, r, c, alpha)],
      { h: 1e-5 },
    );
  }
});

gpuTest("symmetricSoftmaxLoss: the gradient has the bits of the two-call chain", async () => {
  for (const [r, c] of TWO_WAY_SHAPES) {
    for (const alpha of [1, 1 / 0.07]) {
      const s = Float32Array.from(randn(r * c, 5 * r + c, 0.4));
      const y = r * c === 1 ? Float32Array.of(1) : twoWayLabels(r, c, 2 * r + c);
      const grads: Float32Array[] = [];
      for (const fused of [true, false]) {
        const param = Tensor.param(s, [r, c], "scores");
        scope(() => {
          const labels = Tensor.from(y, [r, c]);
          if (fused) {
            backward(symmetricSoftmaxLoss(param, labels, alpha));
          } else {
            const scaled = alpha === 1 ? param : scale(param, alpha);
            backward(axpby(
              0.5,
              softmaxLoss(scaled, labels),
              0.5,
              softmaxLoss(transpose(scaled), transpose(labels)),
            ));
          }
        });
        grads.push(await param.grad!.read());
        param.grad!.dispose();
        param.dispose();
      }
      assertFinite(grads[0], "fused gradient");
      for (let i = 0; i < grads[0].length; i++) {
        // === : the same value (+0 and −0 alike)
        if (grads[0][i] !== grads[1][i]) {
          throw new Error(
            `${r}×${c}, α ${alpha}: entry ${i} fused ${grads[0][i]}, two calls ${grads[1][i]}`,
          );
        }
      }
    }
  }
});

gpuTest("symmetricSoftmaxLoss: extreme scores stay finite, padding gets no gradient", async () => {
  const [r, c] = [4, 5];
  const s = Float32Array.from(randn(r * c, 3, 1e30));
  const y = twoWayLabels(r, c, 9);
  y[6] = -1;
  const param = Tensor.param(s, [r, c], "scores");
  const loss = scope(() => {
    const l = symmetricSoftmaxLoss(param, Tensor.from(y, [r, c]), 1);
    backward(l);
    return l;
  });
  assertFinite([await loss.item()], "loss");
  const g = await param.grad!.read();
  assertFinite(g, "gradient");
  assertEquals(g[6], 0);
  loss.dispose();
  param.grad!.dispose();
  param.dispose();
});

gpuTest("symmetricSoftmaxLoss refuses bad input with the shape or value", () => {
  scope(() => {
    const s = Tensor.zeros([2, 3]);
    assertThrows(() => symmetricSoftmaxLoss(s, Tensor.zeros([3, 2])), /2×3|\[2, 3\]|shape/);
    assertThrows(() => symmetricSoftmaxLoss(s, Tensor.zeros([2, 3]), NaN), /alpha must be finite/);
    assertThrows(
      () => symmetricSoftmaxLoss(Tensor.zeros([3000, 1]), Tensor.zeros([3000, 1])),
      /columns of 3000 items/,
    );
  });
});
