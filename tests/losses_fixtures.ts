/**
 * Shared fixtures of the ranking-loss tests: the loss configurations under test, seeded random
 * lists, a packed readback of many `[1]` loss tensors, the CPU twin of each loss, and the suite of
 * tests every loss passes (`tests/<loss>_test.ts` registers it for its loss).
 *
 * @module
 */

import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertOk,
  gpuTest,
  gradCheck,
  rng,
} from "./util.ts";
import { rt } from "../src/gpu/runtime.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { add } from "../src/ops/elementwise.ts";
import { transpose } from "../src/ops/transpose.ts";
import {
  getLoss,
  rankingLoss,
  rankingLossTensor,
  rankingLossWithGrad,
  resolveOptions,
} from "../src/losses/mod.ts";
import { hingeOptions } from "../src/losses/hinge.ts";
import { weightingOf } from "../src/losses/ranknet.ts";
import { lambdaOptions } from "../src/losses/lambdaloss.ts";
import { alphaOf } from "../src/losses/approxndcg.ts";
import { temperatureOf } from "../src/losses/smoothap.ts";
import { recallKOptions } from "../src/losses/recallk.ts";
import { neuralNdcgOptions } from "../src/losses/neuralndcg.ts";
import { softmaxLossRef } from "../src/reference/softmax.ts";
import { hingeRef } from "../src/reference/hinge.ts";
import { cmpmRef } from "../src/reference/cmpm.ts";
import { rankNetRef } from "../src/reference/ranknet.ts";
import { lambdaLossRef } from "../src/reference/lambdaloss.ts";
import { listNetRef } from "../src/reference/listnet.ts";
import { listMleRef } from "../src/reference/listmle.ts";
import { approxNdcgRef } from "../src/reference/approxndcg.ts";
import { smoothApRef } from "../src/reference/smoothap.ts";
import { recallKRef } from "../src/reference/recallk.ts";
import { neuralNdcgRef } from "../src/reference/neuralndcg.ts";

/** One loss with one set of options. */
export interface LossCase {
  name: string;
  options: Record<string, unknown>;
}

/** Every loss of `kernels/losses.wgsl`, with each scheme and variant. */
export const CASES: LossCase[] = [
  { name: "softmax", options: {} },
  { name: "listnet", options: {} },
  { name: "cmpm", options: {} },
  { name: "hinge", options: {} },
  { name: "hinge", options: { maxViolation: true, margin: 0.5 } },
  { name: "ranknet", options: {} },
  { name: "ranknet", options: { weighting: "gtDiff" } },
  { name: "ranknet", options: { weighting: "gtDiffPow" } },
  { name: "lambdaloss", options: { scheme: "ndcgLoss1" } },
  { name: "lambdaloss", options: { scheme: "ndcgLoss2" } },
  { name: "lambdaloss", options: { scheme: "lambdaRank" } },
  { name: "lambdaloss", options: { scheme: "ndcgLoss2PP" } },
  { name: "lambdaloss", options: { scheme: "rankNet", log: "natural" } },
  {
    name: "lambdaloss",
    options: { scheme: "ndcgLoss2PP", k: 3, reduction: "mean", sigma: 2, mu: 5 },
  },
  { name: "lambdaloss", options: { scheme: "ndcgLoss1", k: 2, log: "natural" } },
  { name: "listmle", options: { ties: "index" } },
  { name: "listmle", options: { seed: 12345 } },
  { name: "approxndcg", options: {} },
  { name: "approxndcg", options: { alpha: 3 } },
  { name: "smoothap", options: {} },
  { name: "smoothap", options: { temperature: 0.5 } },
  { name: "recallk", options: {} },
  { name: "recallk", options: { ks: "1,3", tau1: 0.5, tau2: 0.5 } },
];

/** `name {options}` for messages. */
export function caseName(c: LossCase): string {
  return Object.keys(c.options).length ? `${c.name} ${JSON.stringify(c.options)}` : c.name;
}

/** How {@link randomLists} draws labels. */
export interface ListKind {
  /** Integer grades 0…3 instead of 0/1. */
  graded?: boolean;
  /** Probability of a padded item (label −1). */
  padding?: number;
  /** Standard deviation of the scores. */
  scale?: number;
}

/** Seeded `[lists][n]` scores (normal, float32, tie-free in practice) and labels. */
export function randomLists(
  lists: number,
  n: number,
  seed: number,
  { graded = false, padding = 0, scale = 1 }: ListKind = {},
): { scores: number[][]; labels: number[][] } {
  const u = rng(seed);
  const normal = () =>
    Math.fround(Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()) * scale);
  const scores = Array.from({ length: lists }, () => Array.from({ length: n }, normal));
  const labels = Array.from({ length: lists }, () =>
    Array.from({ length: n }, () => {
      if (u() < padding) return -1;
      return graded ? Math.floor(u() * 4) : (u() < 0.3 ? 1 : 0);
    }));
  return { scores, labels };
}

/** Row-major flattening. */
export function flat(rows: number[][]): number[] {
  return rows.flat();
}

/** Splits a flat array into rows of `n`. */
export function toRows(values: ArrayLike<number>, n: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < values.length; i += n) out.push(Array.from(values).slice(i, i + n));
  return out;
}

/** Reads many small tensors with one GPU wait; returns their values concatenated. */
export async function readAll(tensors: Tensor[]): Promise<Float32Array> {
  const total = tensors.reduce((a, t) => a + t.size, 0);
  const packed = new Tensor([total], { label: "packed readback" });
  let offset = 0;
  for (const t of tensors) {
    rt().copy(t.buffer, 0, packed.buffer, offset * 4, t.bytes);
    offset += t.size;
  }
  try {
    return await packed.read();
  } finally {
    packed.dispose();
  }
}

/**
 * The twin of a registered loss (`src/reference/<loss>.ts`) on its resolved options: the oracle
 * every GPU loss is checked against.
 */
export function lossRef(c: LossCase, scores: number[][], labels: number[][]): number {
  const o = resolveOptions(getLoss(c.name), c.options);
  switch (c.name) {
    case "softmax":
      return softmaxLossRef(scores, labels);
    case "hinge":
      return hingeRef(scores, labels, hingeOptions(o));
    case "cmpm":
      return cmpmRef(scores, labels);
    case "ranknet":
      return rankNetRef(scores, labels, weightingOf(o));
    case "lambdaloss":
      return lambdaLossRef(scores, labels, lambdaOptions(o));
    case "listnet":
      return listNetRef(scores, labels);
    case "listmle":
      return listMleRef(scores, labels, o.ties === "index" ? 0 : Number(o.seed) >>> 0);
    case "approxndcg":
      return approxNdcgRef(scores, labels, alphaOf(o));
    case "smoothap":
      return smoothApRef(scores, labels, temperatureOf(o));
    case "recallk":
      return recallKRef(scores, labels, recallKOptions(o));
    case "neuralndcg":
    case "neuralndcg_transposed":
      return neuralNdcgRef(scores, labels, neuralNdcgOptions(c.name, o));
  }
  throw new Error(`no CPU twin for loss '${c.name}'`);
}

/** Asserts every gradient row is finite. */
export function assertAllFinite(grad: number[][], what: string): void {
  grad.forEach((row, r) => assertFinite(row, `${what} grad row ${r}`));
}

/** Finite differences of the twin vs the GPU gradient of `c` on seeded graded, padded lists. */
export async function checkGradient(
  c: LossCase,
  lists: number,
  n: number,
  seed: number,
  scale = 1,
) {
  const { scores, labels } = randomLists(lists, n, seed, { graded: true, padding: 0.2, scale });
  await gradCheck(
    [{ shape: [lists, n], data: flat(scores) }, {
      shape: [lists, n],
      data: flat(labels),
      grad: false,
    }],
    (s, y) => rankingLossTensor(c.name, s, y, c.options),
    (s, y) => [lossRef(c, toRows(s, n), toRows(y, n))],
    { maxChecks: 40, seed },
  );
}

const SHAPES: [number, number][] = [[1, 1], [1, 5], [3, 7], [70, 3], [2, 65], [5, 64], [2, 300]];

const MATRICES: { scores: number[][]; labels: number[][] }[] = [
  {
    scores: randomLists(5, 5, 31, { scale: 2 }).scores,
    labels: [[1, 0, 0, 1, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 1], [1, 0, 0, 1, 0], [0, 0, 1, 0, 1]],
  },
  {
    scores: randomLists(3, 7, 32, { scale: 2 }).scores,
    labels: [[1, 1, 0, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1]],
  },
];

const transposeRows = (m: number[][]) => m[0].map((_, j) => m.map((row) => row[j]));

function bothDirections(cases: LossCase[]): void {
  for (const c of cases) {
    gpuTest(
      `both directions of ${caseName(c)} on a similarity matrix match finite differences`,
      async () => {
        for (const { scores, labels } of MATRICES) {
          const [rows, cols] = [scores.length, scores[0].length];
          await gradCheck(
            [{ shape: [rows, cols], data: flat(scores) }, {
              shape: [rows, cols],
              data: flat(labels),
              grad: false,
            }],
            (s, y) =>
              add(
                rankingLossTensor(c.name, s, y, c.options),
                rankingLossTensor(c.name, transpose(s), transpose(y), c.options),
              ),
            (s, y) => {
              const [sr, yr] = [toRows(s, cols), toRows(y, cols)];
              return [lossRef(c, sr, yr) + lossRef(c, transposeRows(sr), transposeRows(yr))];
            },
            { maxChecks: 21 },
          );
        }
      },
    );
  }
}

/**
 * Registers the tests every loss passes, for each configuration of `name` in {@link CASES}: the
 * CPU twin on random, edge and larger batches; finite differences of one list direction and of
 * both directions of a similarity matrix; padding anywhere, extreme scores and ties, all-zero
 * labels and all-padding lists.
 */
export function lossSuite(name: string): void {
  const cases = CASES.filter((c) => c.name === name);

  gpuTest(
    `${name} matches its CPU reference on random lists (graded, binary, padded)`,
    async () => {
      let seed = 1;
      for (const [lists, n] of SHAPES) {
        for (const kind of [{ graded: true }, { padding: 0.25 }, { graded: true, padding: 0.4 }]) {
          const { scores, labels } = randomLists(lists, n, seed++, kind);
          const expected = cases.map((c) => lossRef(c, scores, labels));
          const values = await scope(() => {
            const s = Tensor.fromRows(scores);
            const y = Tensor.fromRows(labels);
            const losses = cases.map((c) => rankingLossTensor(c.name, s, y, c.options));
            return readAll(losses);
          });
          cases.forEach((c, i) => {
            const what = `${caseName(c)} ${lists}x${n} ${JSON.stringify(kind)}`;
            assertAllClose([values[i]], [expected[i]], { atol: 2e-5, rtol: 2e-4 }, what);
          });
        }
      }
    },
  );

  gpuTest(
    `${name} matches the CPU reference on a larger batch (16 x 300, graded, padded)`,
    async () => {
      const { scores, labels } = randomLists(16, 300, 99, { graded: true, padding: 0.1 });
      const values = await scope(() => {
        const s = Tensor.fromRows(scores);
        const y = Tensor.fromRows(labels);
        return readAll(cases.map((c) => rankingLossTensor(c.name, s, y, c.options)));
      });
      cases.forEach((c, i) => {
        const expected = lossRef(c, scores, labels);
        assertAllClose([values[i]], [expected], { atol: 1e-4, rtol: 5e-4 }, caseName(c));
      });
    },
  );

  for (const c of cases) {
    gpuTest(`gradient of ${caseName(c)} matches finite differences`, async () => {
      await checkGradient(c, 3, 9, 11);
      await checkGradient(c, 2, 70, 12);
    });
  }

  gpuTest(
    `${name}: padding anywhere leaves the loss and its gradient on real items unchanged`,
    async () => {
      const { scores, labels } = randomLists(3, 6, 5, { graded: true });
      labels.forEach((row) => row[0] = Math.max(row[0], 1)); // a relevant item in every list
      labels.forEach((row) => row[1] = 0); // and a non-relevant one
      // each list gets 3 padded items at its own positions, with scores that would matter if used
      const padAt = [[0, 4, 8], [6, 7, 8], [2, 3, 5]];
      const padScores = [1e30, -5, 0.7];
      const padded = scores.map((row, l) => {
        const s: number[] = [];
        const y: number[] = [];
        const real: number[] = [];
        let k = 0;
        for (let c = 0; c < 9; c++) {
          if (padAt[l].includes(c)) {
            s.push(padScores[padAt[l].indexOf(c)]);
            y.push(-1);
          } else {
            real.push(c);
            s.push(row[k]);
            y.push(labels[l][k++]);
          }
        }
        return { s, y, real };
      });
      for (const c of cases) {
        const what = caseName(c);
        const base = await rankingLossWithGrad(c.name, scores, labels, c.options);
        const pad = await rankingLossWithGrad(
          c.name,
          padded.map((p) => p.s),
          padded.map((p) => p.y),
          c.options,
        );
        assertAllClose([pad.loss], [base.loss], { atol: 1e-6, rtol: 1e-5 }, `${what} loss`);
        padded.forEach((p, l) => {
          const onReal = p.real.map((c) => pad.grad[l][c]);
          assertAllClose(
            onReal,
            base.grad[l],
            { atol: 1e-6, rtol: 1e-4 },
            `${what} grad list ${l}`,
          );
          for (const c of padAt[l]) assertEquals(pad.grad[l][c], 0, `${what} grad at padding`);
        });
      }
    },
  );

  gpuTest(
    `${name}: extreme scores (±1e30) and ties give finite losses, gradients and the reference`,
    async () => {
      const scores = [
        [1e30, -1e30, 0.5, 0.1, -1e30],
        [-1e30, -1e30, 1e30, 2, 1e30],
        [1e30, 1e30, 1e30, -1e30, -1e30],
        [0.25, 0.25, 0.25, 0.25, 0.25],
      ];
      const labels = [[1, 0, 2, 0, -1], [1, 0, 0, 1, 0], [0, 1, 0, 1, 0], [2, 0, 1, 0, -1]];
      for (const c of cases) {
        const what = caseName(c);
        const { loss, grad } = await rankingLossWithGrad(c.name, scores, labels, c.options);
        assertFinite([loss], `${what} loss`);
        assertAllFinite(grad, what);
        const expected = lossRef(c, scores, labels);
        assertAllClose([loss], [expected], { atol: 1e-5, rtol: 1e-4 }, `${what} vs reference`);
      }
    },
  );

  const NDCG_TYPE = CASES.filter((c) =>
    c.name === "approxndcg" || (c.name === "lambdaloss" && c.options.scheme !== "rankNet")
  );

  gpuTest(
    `${name}: all-zero labels give 0 for NDCG-type losses (as allRank), else the reference`,
    async () => {
      const { scores } = randomLists(3, 7, 17);
      const labels = scores.map((row) => row.map(() => 0));
      labels[2][3] = -1;
      for (const c of cases) {
        const what = caseName(c);
        const { loss, grad } = await rankingLossWithGrad(c.name, scores, labels, c.options);
        assertAllFinite(grad, what);
        if (NDCG_TYPE.includes(c)) {
          assertEquals(Math.abs(loss), 0, `${what} loss`);
          assertOk(grad.flat().every((v) => v === 0), `${what}: nonzero gradient`);
        }
        assertAllClose([loss], [lossRef(c, scores, labels)], { atol: 1e-6, rtol: 1e-4 }, what);
      }
    },
  );

  gpuTest(`${name}: all-padding lists contribute 0 and get a zero gradient`, async () => {
    const { scores, labels } = randomLists(3, 6, 23, { graded: true });
    labels[0][0] = 2;
    labels[1] = labels[1].map(() => -1);
    for (const c of cases) {
      const what = caseName(c);
      const { loss, grad } = await rankingLossWithGrad(c.name, scores, labels, c.options);
      assertAllFinite(grad, what);
      assertOk(grad[1].every((v) => v === 0), `${what}: padded list has a gradient`);
      assertAllClose([loss], [lossRef(c, scores, labels)], { atol: 1e-6, rtol: 1e-4 }, what);
      const none = await rankingLossWithGrad(
        c.name,
        [[1, 2], [3, 4]],
        [[-1, -1], [-1, -1]],
        c.options,
      );
      assertEquals(Math.abs(none.loss), 0, `${what}: batch of padding`);
      assertOk(none.grad.flat().every((v) => v === 0), `${what}: batch of padding has a gradient`);
    }
  });

  bothDirections(cases);
}

/** A loss value published in allRank's tests. */
export interface Published {
  case: LossCase;
  scores: number[][];
  labels: number[][];
  value: number;
}

/**
 * Checks allRank's published values on the GPU and in the CPU twin; unless `padding` is false,
 * also allRank's "ignores padded" variant (a padded item with score 1.0 changes nothing).
 */
export async function checkPublished(published: Published[], padding = true): Promise<void> {
  for (const p of published) {
    const what = caseName(p.case);
    const tol = { atol: 0, rtol: 1e-5 };
    assertAllClose([lossRef(p.case, p.scores, p.labels)], [p.value], tol, `${what} CPU`);
    const gpu = await rankingLoss(p.case.name, p.scores, p.labels, p.case.options);
    assertAllClose([gpu], [p.value], tol, `${what} GPU`);
    if (padding) {
      const padded = await rankingLoss(
        p.case.name,
        [[...p.scores[0], 1.0]],
        [[...p.labels[0], -1]],
        p.case.options,
      );
      assertAllClose([padded], [p.value], tol, `${what} GPU, padded`);
    }
  }
}

/** Lists with distinct scores at least 0.05 apart (sharp sigmoids become steps on them). */
export const SHARP = {
  scores: [[0.9, 0.1, 0.5, -0.3, 0.35, 1.2], [0.0, 0.6, -0.6, 0.3, 0.15, 0.45]],
  labels: [[2, 0, 1, 3, -1, 0], [0, 1, 0, 1, 1, -1]],
};
