// NeuralNDCG (kernels/neuralndcg.wgsl, src/losses/neuralndcg.ts) against its float64 CPU twin
// (src/reference/neuralndcg.ts) and allRank's published values: both variants, fused and plain,
// finite differences (with Sinkhorn stopping early too), fused == plain, and the numerics of the
// loss docs. Tolerances are stated per test: float32 kernels vs float64 references.

import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertOk,
  assertThrows,
  bytesPattern,
  gpuTest,
  gradCheck,
  rng,
  withBindingLimit,
} from "./util.ts";
import {
  BASE,
  fdGrad,
  flat,
  lists,
  lossAndGrad,
  lossOnly,
  type Rows,
} from "./neuralndcg_fixtures.ts";
import { noGrad } from "../src/autodiff/tape.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { PRELUDE } from "../src/gpu/prelude.ts";
import { neuralSort } from "../src/ops/neuralsort.ts";
import {
  fusedSinkhornIterations,
  neuralNdcgFused,
  type NeuralNdcgOptions,
  neuralNdcgPlain,
  neuralNdcgWeights,
  softDcg,
} from "../src/losses/neuralndcg.ts";
import { lossRef } from "./losses_fixtures.ts";
import { rankingLoss, rankingLossWithGrad } from "../src/losses/api.ts";
import { idcgRef, ndcgRef, neuralNdcgListRef, neuralNdcgRef } from "../src/reference/neuralndcg.ts";

// ---------------------------------------------------------------------------------------------
// The loss: reference values, gradients, fused == plain

const VARIANTS: [string, Partial<NeuralNdcgOptions>][] = [
  ["neuralndcg", {}],
  ["neuralndcg_transposed", { transposed: true }],
  ["no Sinkhorn", { sinkhorn: false }],
  ["transposed, no Sinkhorn", { transposed: true, sinkhorn: false }],
  ["k=3, linear gains, τ=0.5", { k: 3, poweredRelevancies: false, temperature: 0.5 }],
  ["transposed k=2, τ=2", { transposed: true, k: 2, temperature: 2 }],
];

gpuTest("loss matches the reference, fused and plain, on graded and binary lists", async () => {
  for (const [name, opts] of VARIANTS) {
    const o = { ...BASE, ...opts };
    for (const [count, n, maxLabel] of [[1, 1, 3], [3, 7, 3], [4, 13, 1], [2, 41, 4]]) {
      const { scores, labels } = lists(count, n, count * 31 + n, { maxLabel });
      const expected = neuralNdcgRef(scores, labels, o);
      for (const [path, fn] of [["fused", neuralNdcgFused], ["plain", neuralNdcgPlain]] as const) {
        const value = await lossOnly(fn, scores, labels, o);
        // loss is a mean of NDCGs in [0, 1]: absolute float32 error ~1e-6·n
        assertAllClose(
          [value],
          [expected],
          { atol: 2e-6 * n + 1e-6 },
          `${name} ${path} ${count}x${n}`,
        );
      }
    }
  }
});

/** Both paths' gradients against finite differences of the twin, for each variant with `extra`. */
async function pathGradients(
  scores: Rows,
  labels: Rows,
  variants: typeof VARIANTS,
  extra: Partial<NeuralNdcgOptions>,
): Promise<void> {
  const n = scores[0].length;
  for (const [name, opts] of variants) {
    const o = { ...BASE, ...opts, ...extra };
    for (const [path, fn] of [["fused", neuralNdcgFused], ["plain", neuralNdcgPlain]] as const) {
      await gradCheck(
        [{ shape: [scores.length, n], data: flat(scores) }, {
          shape: [scores.length, n],
          data: flat(labels),
          grad: false,
        }],
        (x, y) => fn(x, y, o),
        (x) => [neuralNdcgRef(
          labels.map((_, l) => Array.from(x.subarray(l * n, l * n + n))),
          labels,
          o,
        )],
        { atol: 1e-4, rtol: 2e-3 },
      ).catch((e) => {
        throw new Error(`${name} ${path}: ${e.message}`);
      });
    }
  }
}

gpuTest(
  "loss gradients match finite differences (both variants, ± Sinkhorn, fused and plain)",
  async () => {
    const { scores, labels } = lists(3, 6, 77, { maxLabel: 2, padding: 0.25 });
    // tol 0: a fixed iteration count, so the float64 finite differences are smooth
    await pathGradients(scores, labels, VARIANTS.slice(0, 4), { tol: 0, maxIter: 20 });
  },
);

gpuTest(
  "loss gradients match finite differences with Sinkhorn stopping early (tol > 0)",
  async () => {
    const { scores, labels } = lists(3, 6, 77, { maxLabel: 2, padding: 0.25 });
    const tol = 1e-3;
    const maxIter = 50;
    const stops = (t: number) =>
      scores.map((row, l) =>
        neuralNdcgListRef(row, labels[l], { ...BASE, tol: t, maxIter }).iterations
      );
    // every list stops early, at an iteration that does not move within ±2 % of tol, so float32
    // (the GPU) and float64 (the twin and its finite differences) stop at the same iteration
    const at = stops(tol);
    assertOk(at.every((t) => t < maxIter) && at.some((t) => t > 2), `stopping iterations ${at}`);
    assertEquals(stops(tol * 0.98), at);
    assertEquals(stops(tol * 1.02), at);
    await pathGradients(scores, labels, VARIANTS.slice(0, 2), { tol, maxIter });
  },
);

// allRank's tests/losses/test_neuralndcg.py: at τ = 1e-4 (1e-3 in the padded case) −neuralNDCG
// equals allRank's `ndcg` of the list (its expected values, with gains 2^y − 1, as numbers here).
const ALLRANK: { name: string; scores: number[]; labels: number[]; o: object; value: number }[] = [
  { name: "simple", scores: [0.5, 0.2], labels: [1, 0], o: {}, value: -1 },
  {
    name: "longer",
    scores: [0.5, 0.2, 0.1, 0.4, 1.0, -1.0, 0.63],
    labels: [1, 2, 2, 4, 1, 4, 3],
    o: {},
    value: -0.6302896357,
  },
  {
    name: "stable for very small prediction",
    scores: [0.5, -1e30],
    labels: [1, 0],
    o: {},
    value: -1,
  },
  {
    name: "ignores padded value",
    scores: [0.5, 0.2, 0.1, 0.4, 1.0, -1.0, 0.63, 1.0, 0.5, 0.3],
    labels: [1, 2, 2, 4, 1, 4, 3, -1, -1, -1],
    o: { temperature: 1e-3 },
    value: -0.6302896357,
  },
  {
    name: "at 3",
    scores: [0.5, 0.2, 0.1, 0.4, 1.0, -1.0, 0.63],
    labels: [1, 2, 2, 4, 1, 4, 3],
    o: { k: 3 },
    value: -0.2115762994,
  },
];

gpuTest(
  "allRank's published values hold on the GPU (both variants, both paths) and the twin",
  async () => {
    for (const c of ALLRANK) {
      for (const name of ["neuralndcg", "neuralndcg_transposed"]) {
        const options = { temperature: 1e-4, ...c.o };
        const o = { ...BASE, ...options, transposed: name !== "neuralndcg" };
        assertAllClose(
          [neuralNdcgRef([c.scores], [c.labels], o)],
          [c.value],
          { atol: 1e-9 },
          `${name} ${c.name} CPU`,
        );
        for (const fused of ["plain", "fused"]) {
          const value = await rankingLoss(name, [c.scores], [c.labels], { ...options, fused });
          assertAllClose([value], [c.value], { atol: 1e-6 }, `${name} ${fused} ${c.name}`);
        }
      }
    }
  },
);

gpuTest(
  "fused and plain give the same loss and gradient (several shapes, default options)",
  async () => {
    for (const [count, n, seed] of [[3, 9, 1], [2, 33, 2], [2, 70, 3]]) {
      const { scores, labels } = lists(count, n, seed, { maxLabel: 4, padding: 0.3 });
      for (const transposed of [false, true]) {
        const o = { ...BASE, transposed };
        const f = await lossAndGrad(neuralNdcgFused, scores, labels, o);
        const p = await lossAndGrad(neuralNdcgPlain, scores, labels, o);
        assertAllClose([f.value], [p.value], { atol: 1e-5 }, `loss ${count}x${n}`);
        const scale = Math.max(...Array.from(p.grad, Math.abs));
        assertFinite(f.grad, "fused gradient");
        assertAllClose(
          f.grad,
          p.grad,
          { atol: 1e-3 * scale + 1e-7, rtol: 1e-3 },
          `grad ${count}x${n}`,
        );
      }
    }
  },
);

gpuTest(
  "larger lists (2x300): fused matches the reference, its skipped tiles included",
  async () => {
    // Sorted and tiled, most (4 x 32) tiles of P-hat are exactly zero here and are skipped.
    for (const [tau, spread] of [[1, 1], [0.05, 1]]) {
      const { scores, labels } = lists(2, 300, 9, { spread, padding: 0.1 });
      const o = { ...BASE, temperature: tau, maxIter: 10, tol: 0 };
      const expected = neuralNdcgRef(scores, labels, o);
      const { value, grad } = await lossAndGrad(neuralNdcgFused, scores, labels, o);
      assertAllClose([value], [expected], { atol: 1e-4 }, `loss τ=${tau}`);
      assertFinite(grad, "gradient");
      // spot-check the gradient of a few items against finite differences of the reference
      const h = 1e-4 * tau;
      for (const j of [0, 17, 150, 299]) {
        if (labels[0][j] < 0) continue;
        const up = scores.map((r) => [...r]);
        const down = scores.map((r) => [...r]);
        up[0][j] += h;
        down[0][j] -= h;
        const fd = (neuralNdcgRef(up, labels, o) - neuralNdcgRef(down, labels, o)) / (2 * h);
        assertAllClose(
          [grad[j]],
          [fd],
          { atol: 2e-3 / tau * 1e-2 + 2e-4, rtol: 2e-2 },
          `d/ds[${j}] τ=${tau}`,
        );
      }
    }
  },
);

// ---------------------------------------------------------------------------------------------
// Numerics and semantics the issue names

gpuTest("at τ = 1e-4 neuralndcg equals −NDCG (and −NDCG@k) for tie-free scores", async () => {
  const u = rng(21);
  const count = 4;
  const n = 12;
  const scores: Rows = [];
  const labels: Rows = [];
  for (let l = 0; l < count; l++) {
    // distinct scores 0.1 apart, shuffled; graded labels with padding
    const base = Array.from({ length: n }, (_, j) => Math.fround(0.1 * j - 0.5));
    for (let j = n - 1; j > 0; j--) {
      const r = Math.floor(u() * (j + 1));
      [base[j], base[r]] = [base[r], base[j]];
    }
    scores.push(base);
    labels.push(Array.from({ length: n }, (_, j) => j === 3 ? -1 : Math.floor(u() * 4)));
  }
  for (const k of [0, 1, 5]) {
    let sum = 0;
    let lists = 0;
    scores.forEach((row, l) => {
      if (idcgRef(labels[l], k, true) > 0) {
        sum += ndcgRef(row, labels[l], k, true);
        lists++;
      }
    });
    for (const transposed of [false, true]) {
      const o = { ...BASE, temperature: 1e-4, k, transposed };
      for (const fn of [neuralNdcgFused, neuralNdcgPlain]) {
        const value = await lossOnly(fn, scores, labels, o);
        assertAllClose([value], [-sum / lists], { atol: 1e-5 }, `k=${k} transposed=${transposed}`);
      }
    }
  }
});

gpuTest("finite at ±1e30 scores, at τ = 1e-4 and with ties (loss and gradient)", async () => {
  const scores = [
    [1e30, -1e30, 0, 3, -1e30],
    [2, 2, 2, 1, 1],
    [1e30, 1e30, -1e30, -1e30, 5],
  ];
  const labels = [[1, 2, 0, 3, -1], [1, 0, 2, 0, 1], [3, 0, 1, 2, 0]];
  for (const temperature of [1, 1e-4]) {
    for (const transposed of [false, true]) {
      const o = { ...BASE, temperature, transposed };
      for (const [path, fn] of [["fused", neuralNdcgFused], ["plain", neuralNdcgPlain]] as const) {
        const { value, grad } = await lossAndGrad(fn, scores, labels, o);
        assertFinite([value], `${path} loss τ=${temperature}`);
        assertFinite(grad, `${path} gradient τ=${temperature}`);
        assertOk(value <= 0 && value >= -1 - 1e-6, `${path} loss ${value} outside [-1, 0]`);
      }
    }
  }
  // Ties: the reference handles them the same way (sign(0) = 0); compare at τ = 1.
  const tied = { scores: [[2, 2, 2, 1, 1, 0.5]], labels: [[1, 0, 2, 0, 1, 3]] };
  const o = { ...BASE, tol: 0, maxIter: 15 };
  const { value, grad } = await lossAndGrad(neuralNdcgFused, tied.scores, tied.labels, o);
  assertAllClose([value], [neuralNdcgRef(tied.scores, tied.labels, o)], { atol: 1e-6 }, "tied");
  assertAllClose(grad, fdGrad(tied.scores, tied.labels, o), { atol: 1e-4 }, "tied gradient");
});

gpuTest(
  "all-zero labels and all-padding lists give 0 and no gradient; the others are unchanged",
  async () => {
    const { scores, labels } = lists(2, 6, 4, { padding: 0 });
    labels[0][2] = 2;
    const withEmpty = {
      scores: [...scores, [1, 2, 3, 4, 5, 6], [0.5, -1, 2, 0, 1, 3]],
      labels: [...labels, [0, 0, 0, 0, 0, 0], [-1, -1, -1, -1, -1, -1]],
    };
    for (const fn of [neuralNdcgFused, neuralNdcgPlain]) {
      const a = await lossAndGrad(fn, scores, labels, BASE);
      const b = await lossAndGrad(fn, withEmpty.scores, withEmpty.labels, BASE);
      assertAllClose([b.value], [a.value], { atol: 1e-6 }, "loss ignores empty lists");
      assertAllClose(b.grad.subarray(0, 12), a.grad, { atol: 1e-7 }, "real lists' gradient");
      assertAllClose(
        b.grad.subarray(12),
        new Float32Array(12),
        { atol: 0 },
        "empty lists' gradient",
      );
      const empty = await lossAndGrad(
        fn,
        withEmpty.scores.slice(2),
        withEmpty.labels.slice(2),
        BASE,
      );
      assertEquals(empty.value, 0);
      assertAllClose(empty.grad, new Float32Array(12), { atol: 0 }, "all-empty gradient");
    }
  },
);

gpuTest("padding invariance: padded anywhere = unpadded, zero gradient at padding", async () => {
  const scores = [[0.3, -1.2, 2.0, 0.7, 0.1]];
  const labels = [[1, 0, 3, 2, 1]];
  // the same list with padding slots inserted at the front, in the middle and at the end
  const padded = {
    scores: [[9, 0.3, -1.2, 4, 2.0, 0.7, -7, 0.1, 5]],
    labels: [[-1, 1, 0, -1, 3, 2, -1, 1, -1]],
  };
  const realSlots = [1, 2, 4, 5, 7];
  for (const [name, opts] of VARIANTS.slice(0, 5)) {
    const o = { ...BASE, ...opts };
    for (const fn of [neuralNdcgFused, neuralNdcgPlain]) {
      const a = await lossAndGrad(fn, scores, labels, o);
      const b = await lossAndGrad(fn, padded.scores, padded.labels, o);
      assertAllClose([b.value], [a.value], { atol: 1e-6 }, `${name} loss`);
      assertAllClose(realSlots.map((j) => b.grad[j]), a.grad, { atol: 1e-6 }, `${name} grad`);
      for (const j of [0, 3, 6, 8]) assertEquals(b.grad[j], 0);
    }
  }
});

gpuTest("per-list Sinkhorn stopping: a list's loss does not depend on its batch", async () => {
  const a = lists(1, 3, 12, { padding: 0 });
  const b = lists(1, 40, 13);
  const padTo = (row: number[], fill: number) => [...row, ...Array(40 - row.length).fill(fill)];
  const both = {
    scores: [padTo(a.scores[0], 0), b.scores[0]],
    labels: [padTo(a.labels[0], -1), b.labels[0]],
  };
  const refA = neuralNdcgListRef(a.scores[0], a.labels[0], BASE);
  const refB = neuralNdcgListRef(b.scores[0], b.labels[0], BASE);
  assertOk(refA.iterations < refB.iterations, "the lists stop at different iterations");
  const single = await lossOnly(neuralNdcgFused, a.scores, a.labels, BASE);
  const mixed = await lossOnly(neuralNdcgFused, both.scores, both.labels, BASE);
  const expectedMixed =
    -(refA.dcg / (refA.idcg + PRELUDE.EPS) + refB.dcg / (refB.idcg + PRELUDE.EPS)) / 2;
  assertAllClose([single], [-refA.dcg / (refA.idcg + PRELUDE.EPS)], { atol: 2e-6 }, "alone");
  assertAllClose([mixed], [expectedMixed], { atol: 1e-5 }, "in a batch");
});

gpuTest(
  "lists split into chunks (a small binding limit) give the same loss and gradient",
  async () => {
    const { scores, labels } = lists(7, 10, 8, { maxLabel: 2 });
    labels[3] = labels[3].map(() => 0);
    for (const [name, fn] of [["fused", neuralNdcgFused], ["plain", neuralNdcgPlain]] as const) {
      const whole = await lossAndGrad(fn, scores, labels, BASE);
      // 3 lists per plain matrix chunk (3·10·10 floats), 2 lists per vector chunk (11·2·12 floats)
      await withBindingLimit(name === "plain" ? 1200 : 1100, async () => {
        const chunked = await lossAndGrad(fn, scores, labels, BASE);
        assertAllClose([chunked.value], [whole.value], { atol: 1e-6 }, `${name} loss`);
        assertAllClose(chunked.grad, whole.grad, { atol: 1e-6 }, `${name} gradient`);
        // without a gradient (and outside any scope) the partial sums are freed as it goes
        const value = await lossOnly(fn, scores, labels, BASE);
        assertAllClose([value], [whole.value], { atol: 1e-6 }, `${name} loss, no gradient`);
      });
      assertAllClose([whole.value], [neuralNdcgRef(scores, labels, BASE)], { atol: 1e-5 }, name);
    }
  },
);

// ---------------------------------------------------------------------------------------------
// Stopping on the GPU: the gate of the fused Sinkhorn iterations (kernels/sinkhorn.wgsl)

/** The fused path's iterations and gate on a batch (one readback per chunk). */
async function gateOf(scores: Rows, labels: Rows, o: NeuralNdcgOptions) {
  const s = Tensor.fromRows(scores);
  const y = Tensor.fromRows(labels);
  const out = await fusedSinkhornIterations(s, y, o);
  [s, y].forEach((t) => t.dispose());
  return out;
}

gpuTest(
  "every list converged early: the gate closes after the slowest; loss and gradient = the twin",
  async () => {
    const maxIter = 50;
    for (const [count, n, spread, tol, seed] of [[5, 24, 0.3, 1e-4, 5], [6, 37, 0.2, 1e-4, 7]]) {
      const { scores, labels } = lists(count, n, seed, { spread, padding: 0.25 });
      const o = { ...BASE, tol, maxIter };
      const stops = (t: number) =>
        scores.map((row, l) => neuralNdcgListRef(row, labels[l], { ...o, tol: t }).iterations);
      // stopping iterations that do not move within ±2 % of tol: float32 stops where float64 does
      const at = stops(tol);
      assertEquals(stops(tol * 0.98), at);
      assertEquals(stops(tol * 1.02), at);
      const slowest = Math.max(...at);
      assertOk(slowest < maxIter - 10 && new Set(at).size > 2, `stopping iterations ${at}`);
      const { perList, chunks } = await gateOf(scores, labels, o);
      assertEquals(perList, at, "each list stops where the twin does");
      // the gate closed after the slowest list: nothing after it gets workgroups, forward or back
      assertEquals(chunks, [{ run: slowest, open: false, backward: slowest }]);
      for (const opts of [{}, { transposed: true }]) {
        const oo = { ...o, ...opts };
        const { value, grad } = await lossAndGrad(neuralNdcgFused, scores, labels, oo);
        assertAllClose([value], [neuralNdcgRef(scores, labels, oo)], { atol: 1e-6 }, "loss");
        // the backward replays exactly the iterations each list ran
        assertAllClose(grad, fdGrad(scores, labels, oo), { atol: 1e-4, rtol: 1e-3 }, "gradient");
        // a cap at the slowest list's count gives the same loss and gradient, bit for bit
        const capped = await lossAndGrad(neuralNdcgFused, scores, labels, {
          ...oo,
          maxIter: slowest,
        });
        assertEquals(capped.value, value);
        assertEquals(Array.from(capped.grad), Array.from(grad));
      }
    }
  },
);

gpuTest("lists that never converge run maxIter iterations; the gate stays open", async () => {
  const { scores, labels } = lists(4, 19, 21, { padding: 0.2 });
  for (const [tol, maxIter] of [[0, 12], [1e-6, 3]]) {
    const o = { ...BASE, tol, maxIter };
    const at = scores.map((row, l) => neuralNdcgListRef(row, labels[l], o).iterations);
    assertEquals(at, [maxIter, maxIter, maxIter, maxIter], "the twin runs maxIter");
    const { perList, chunks } = await gateOf(scores, labels, o);
    assertEquals(perList, at);
    assertEquals(chunks, [{ run: maxIter, open: true, backward: maxIter }]);
    const { value, grad } = await lossAndGrad(neuralNdcgFused, scores, labels, o);
    assertAllClose([value], [neuralNdcgRef(scores, labels, o)], { atol: 1e-6 }, "loss");
    assertAllClose(grad, fdGrad(scores, labels, o), { atol: 1e-4, rtol: 1e-3 }, "gradient");
  }
});

gpuTest(
  "all-padding lists stop after one iteration (tol > 0), or run maxIter (tol = 0)",
  async () => {
    const scores = [[0.5, -1, 2, 0], [1, 2, 3, 4]];
    const labels = [[-1, -1, -1, -1], [-1, -1, -1, -1]];
    for (const [tol, iterations] of [[1e-6, 1], [0, 7]]) {
      const o = { ...BASE, tol, maxIter: 7 };
      const { perList, chunks } = await gateOf(scores, labels, o);
      assertEquals(perList, [iterations, iterations]);
      assertEquals(chunks, [{ run: iterations, open: iterations === 7, backward: iterations }]);
      assertEquals(
        perList,
        scores.map((row, l) => neuralNdcgListRef(row, labels[l], o).iterations),
      );
      const { value, grad } = await lossAndGrad(neuralNdcgFused, scores, labels, o);
      assertEquals(value, 0);
      assertAllClose(grad, new Float32Array(8), { atol: 0 }, "no gradient");
    }
  },
);

gpuTest("softDcg and neuralNdcgWeights match the reference formula", async () => {
  const { scores, labels } = lists(3, 8, 41);
  labels[1] = labels[1].map(() => 0);
  const y = Tensor.fromRows(labels);
  const w = neuralNdcgWeights(y, { k: 3 });
  const idcg = labels.map((l) => idcgRef(l, 3, true));
  const positive = idcg.filter((v) => v > 0).length;
  const expectedW = idcg.map((v) => v > 0 ? -1 / ((v + PRELUDE.EPS) * positive) : 0);
  assertAllClose(await w.read(), expectedW, { rtol: 1e-6, atol: 0 }, "weights");
  const s = Tensor.fromRows(scores);
  const p = noGrad(() => neuralSort(s, y, {}));
  const dcg = noGrad(() => softDcg(p, y, w, { k: 3 }));
  const o = { ...BASE, sinkhorn: false, k: 3 };
  assertAllClose([await dcg.item()], [neuralNdcgRef(scores, labels, o)], { atol: 1e-6 }, "dcg");
  [y, w, s, p, dcg].forEach((t) => t.dispose());
});

// ---------------------------------------------------------------------------------------------
// The registered losses and bad input

gpuTest("registered losses run through the public API with allRank's option names", async () => {
  const scores = [[0.5, 0.3, 0.5, 1.2], [1, -1, 0.2, 0.4]];
  const labels = [[1, 0, 2, -1], [0, 1, 1, 2]];
  for (const name of ["neuralndcg", "neuralndcg_transposed"]) {
    const options = { temperature: 0.5, k: 2, powered_relevancies: false, maxIter: 30 };
    const expected = lossRef({ name, options }, scores, labels);
    for (const fused of ["auto", "plain", "fused"]) {
      const value = await rankingLoss(name, scores, labels, { ...options, fused });
      assertAllClose([value], [expected], { atol: 1e-6 }, `${name} ${fused}`);
    }
    const { loss, grad } = await rankingLossWithGrad(name, scores, labels, options);
    assertAllClose([loss], [expected], { atol: 1e-6 }, `${name} with grad`);
    assertEquals(grad[0][3], 0);
    assertFinite(grad.flat(), "gradient");
  }
});

gpuTest("bad options and oversized requests are refused with clear messages", async () => {
  const scores = [[0.5, 0.3]];
  const labels = [[1, 0]];
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ temperature: 0 }, /temperature.*> 0/],
    [{ k: -1 }, /'k' must be an integer ≥ 0/],
    [{ k: 1.5 }, /'k' must be an integer/],
    [{ maxIter: -2 }, /'maxIter' must be an integer ≥ 0/],
    [{ tol: -1 }, /'tol' must be ≥ 0/],
    [{ fused: "fast" }, /'fused' must be one of auto, plain, fused/],
    [{ log_base: 2 }, /unknown option 'log_base'/],
  ];
  for (const [options, pattern] of cases) {
    let message = "";
    await rankingLoss("neuralndcg", scores, labels, options).catch((e) => message = e.message);
    assertOk(pattern.test(message), `${JSON.stringify(options)}: "${message}"`);
  }
  // plain needs lists·n² floats: 1024 x 1000 is refused, naming the estimate, budget, and fix
  const y = Tensor.zeros([1024, 1000]);
  assertThrows(
    () => neuralNdcgPlain(y, y, BASE),
    /neuralndcg' \(fused: 'plain'\): 1024 lists × 1000 items need about 16\.\d+ GiB, over the NeuralNDCG memory budget of 2\.00 GiB; use fused: 'fused'/,
  );
  y.dispose();
  // fused keeps O(n·maxIter) per list for the backward pass: beyond the budget it is refused too
  const big = Tensor.param(new Float32Array(8000 * 1000), [8000, 1000], "scores");
  const bigLabels = Tensor.zeros([8000, 1000]);
  assertThrows(
    () => neuralNdcgFused(big, bigLabels, BASE),
    /'neuralndcg' \(fused\): 8000 lists × 1000 items need about 8\.\d+ GiB, over the NeuralNDCG memory budget of 2\.00 GiB; split the lists/,
  );
  [big, bigLabels].forEach((t) => t.dispose());
  // without a gradient it keeps 2 states, so the limit is higher
  const huge = Tensor.zeros([17000, 1000]);
  assertThrows(() => noGrad(() => neuralNdcgFused(huge, huge, BASE)), /17000 lists × 1000 items/);
  huge.dispose();
  // one P-hat of a 600-item list over a (forced) 1 MiB binding limit: refused naming both sizes
  const limit = 2 ** 20;
  const wide = Tensor.zeros([1, 600]);
  await withBindingLimit(limit, () =>
    assertThrows(
      () => neuralNdcgPlain(wide, wide, BASE),
      new RegExp(
        `one 600 × 600 P-hat needs ${bytesPattern(600 * 600 * 4)}, over this device's ` +
          `maxStorageBufferBindingSize of ${bytesPattern(limit)}; use fused: 'fused'`,
      ),
    ));
  wide.dispose();
  const s = Tensor.zeros([2, 3]);
  const t = Tensor.zeros([3, 2]);
  assertThrows(() => neuralNdcgFused(s, t, BASE), /shapes differ/);
  [s, t].forEach((v) => v.dispose());
});
