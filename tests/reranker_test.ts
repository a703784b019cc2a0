import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertOk,
  assertThrows,
  gpuTest,
  randn,
  rng,
} from "./util.ts";
import { rt } from "../src/gpu/runtime.ts";
import { keep, scope, Tensor } from "../src/autodiff/tensor.ts";
import { backward, noGrad } from "../src/autodiff/tape.ts";
import { axpby, mul } from "../src/ops/elementwise.ts";
import { logSumExp, mean, rowDot, sumAll } from "../src/ops/reduce.ts";
import { AdamW } from "../src/optim/adamw.ts";
import {
  type PositionalEncoding,
  Reranker,
  type RerankerOptions,
  sinusoidalTable,
} from "../src/model/reranker.ts";

// Small models (d_head 8: the blocked attention kernels) so the whole file stays fast.
const SMALL: RerankerOptions = { inputDim: 5, dModel: 16, layers: 2, heads: 2, dFF: 24 };

/** Scores of `model` in eval mode, read back. */
async function scoresOf(
  model: Reranker,
  features: ArrayLike<number>,
  mask: ArrayLike<number>,
  lists: number,
  n: number,
  positions?: ArrayLike<number>,
): Promise<Float32Array> {
  const s = noGrad(() =>
    scope(() => {
      const x = Tensor.from(features, [lists * n, model.options.inputDim]);
      return model.forward(x, mask, lists, n, { positions });
    })
  );
  const out = await s.read();
  s.dispose();
  return out;
}

/** A random permutation of 0..n-1. */
function permutation(n: number, seed: number): number[] {
  const u = rng(seed);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Reorders the items of every list: new slot j of list l holds old item perm[l][j]. */
function permuteItems(
  data: ArrayLike<number>,
  width: number,
  n: number,
  perms: number[][],
): Float32Array {
  const out = new Float32Array(data.length);
  perms.forEach((perm, l) => {
    perm.forEach((from, j) => {
      for (let c = 0; c < width; c++) {
        out[(l * n + j) * width + c] = data[(l * n + from) * width + c];
      }
    });
  });
  return out;
}

gpuTest("Reranker scores are [lists, n], finite, and 0 for padded items", async () => {
  const model = new Reranker(SMALL, 1);
  const [lists, n] = [3, 6];
  const mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0];
  const s = await scoresOf(model, randn(lists * n * 5, 2), mask, lists, n);
  assertEquals(s.length, lists * n);
  assertFinite(s, "scores");
  const padded = mask.flatMap((m, r) => m === 0 ? [s[r]] : []);
  assertAllClose(padded, new Array(padded.length).fill(0), { atol: 0, rtol: 0 }, "padded scores");
  const real = Array.from(s).filter((_, r) => mask[r] === 1);
  assertOk(new Set(real).size === real.length, "real items get distinct scores");
  model.dispose();
});

gpuTest("without positional encoding, permuting a list permutes its scores", async () => {
  const model = new Reranker(SMALL, 2);
  const [lists, n, d] = [3, 7, 5];
  const x = randn(lists * n * d, 5);
  const mask = new Float32Array(lists * n).fill(1);
  mask.set([1, 0, 1, 1, 0, 1, 1], 2 * n); // list 2 has padding
  const perms = [0, 1, 2].map((l) => permutation(n, 10 + l));
  const before = await scoresOf(model, x, mask, lists, n);
  const after = await scoresOf(
    model,
    permuteItems(x, d, n, perms),
    permuteItems(mask, 1, n, perms),
    lists,
    n,
  );
  assertAllClose(after, permuteItems(before, 1, n, perms), { atol: 1e-5, rtol: 1e-4 }, "scores");
  model.dispose();
});

for (const pe of ["fixed", "learned"] as const) {
  gpuTest(`with ${pe} positional encoding, scores follow the positions`, async () => {
    const model = new Reranker({ ...SMALL, positionalEncoding: pe, maxPositions: 10 }, 3);
    const [lists, n, d] = [2, 6, 5];
    const x = randn(lists * n * d, 6);
    const mask = new Float32Array(lists * n).fill(1);
    const perms = [0, 1].map((l) => permutation(n, 20 + l));
    const slots = Array.from({ length: lists * n }, (_, r) => r % n);
    const before = await scoresOf(model, x, mask, lists, n);
    const px = permuteItems(x, d, n, perms);
    // Items carry their first-stage positions with them: the same scores, permuted.
    const carried = await scoresOf(model, px, mask, lists, n, permuteItems(slots, 1, n, perms));
    assertAllClose(carried, permuteItems(before, 1, n, perms), { atol: 1e-5, rtol: 1e-4 }, pe);
    // Items moved to new positions: the encoding changes the scores.
    const moved = await scoresOf(model, px, mask, lists, n);
    const expected = permuteItems(before, 1, n, perms);
    const change = Math.max(...moved.map((v, i) => Math.abs(v - expected[i])));
    assertOk(change > 1e-3, `${pe}: positions changed scores by only ${change}`);
    scope(() => {
      const t = Tensor.from(x, [lists * n, d]);
      const positions = new Array(12).fill(10);
      assertThrows(
        () => model.forward(t, mask, lists, n, { positions }),
        /positions\[0\] = 10 is outside 0..9/,
      );
    });
    model.dispose();
  });
}

for (const pe of ["none", "fixed"] as PositionalEncoding[]) {
  gpuTest(
    `padding does not change the scores of real items (positional encoding ${pe})`,
    async () => {
      const model = new Reranker({ ...SMALL, positionalEncoding: pe }, 4);
      const [lists, n, extra, d] = [2, 5, 3, 5];
      const x = randn(lists * n * d, 7);
      const mask = new Float32Array(lists * n).fill(1);
      mask[n + 4] = 0; // list 1 already ends with one padded item
      const small = await scoresOf(model, x, mask, lists, n);
      // Append 3 padded items with wild features to every list.
      const m = n + extra;
      const junk = randn(lists * m * d, 8, 100);
      const bigMask = new Float32Array(lists * m);
      for (let l = 0; l < lists; l++) {
        junk.set(x.subarray(l * n * d, (l + 1) * n * d), l * m * d);
        bigMask.set(mask.subarray(l * n, (l + 1) * n), l * m);
      }
      const big = await scoresOf(model, junk, bigMask, lists, m);
      for (let l = 0; l < lists; l++) {
        assertAllClose(
          big.subarray(l * m, l * m + n),
          small.subarray(l * n, (l + 1) * n),
          { atol: 1e-5, rtol: 1e-5 },
          `list ${l} real items`,
        );
        assertAllClose(
          big.subarray(l * m + n, (l + 1) * m),
          [0, 0, 0],
          { atol: 0, rtol: 0 },
          "padded",
        );
      }
      model.dispose();
    },
  );
}

gpuTest("an all-padding list gives finite scores and gradients (training mode)", async () => {
  const model = new Reranker({ ...SMALL, dropout: 0.2, positionalEncoding: "learned" }, 5);
  const [lists, n] = [2, 4];
  const mask = [0, 0, 0, 0, 1, 1, 0, 1];
  const s = scope(() => {
    const out = model.forward(
      Tensor.from(randn(lists * n * 5, 9), [lists * n, 5]),
      mask,
      lists,
      n,
      {
        train: true,
      },
    );
    backward(sumAll(mul(out, Tensor.from(randn(lists * n, 10), [lists, n]))));
    return out;
  });
  const values = await s.read();
  assertFinite(values, "scores");
  assertAllClose(values.subarray(0, 4), [0, 0, 0, 0], { atol: 0, rtol: 0 }, "all-padding list");
  for (const [name, p] of Object.entries(model.namedParameters())) {
    assertOk(p.grad !== null, `${name} has a gradient`);
    assertFinite(await p.grad!.read(), `${name} grad`);
  }
  s.dispose();
  model.dispose();
});

gpuTest("dropout is on in training mode only, and reproducible per step", async () => {
  const model = new Reranker({ ...SMALL, dropout: 0.3 }, 6);
  const [lists, n] = [2, 5];
  const x = Tensor.from(randn(lists * n * 5, 11), [lists * n, 5]);
  const mask = new Float32Array(lists * n).fill(1);
  const run = (options: { train?: boolean; step?: number }) =>
    noGrad(() => model.forward(x, mask, lists, n, options));
  const outs = [
    run({}),
    run({}),
    run({ train: true, step: 1 }),
    run({ train: true, step: 1 }),
    run({ train: true, step: 2 }),
  ];
  const [e1, e2, t1, t1b, t2] = await Promise.all(outs.map((t) => t.read()));
  assertEquals(e1, e2);
  assertEquals(t1, t1b);
  const differs = (a: Float32Array, b: Float32Array) => a.some((v, i) => Math.abs(v - b[i]) > 1e-4);
  assertOk(differs(t1, e1), "training scores differ from eval scores");
  assertOk(differs(t1, t2), "another step draws another mask");
  [...outs, x].forEach((t) => t.dispose());
  model.dispose();
});

gpuTest("readState / loadState round-trip the parameters, with clear errors", async () => {
  const options = { ...SMALL, positionalEncoding: "learned" as const };
  const a = new Reranker(options, 7);
  const b = new Reranker(options, 8);
  const [lists, n] = [2, 4];
  const x = randn(lists * n * 5, 12);
  const mask = new Float32Array(lists * n).fill(1);
  const state = await a.readState();
  assertEquals(Object.keys(state), Object.keys(a.namedParameters()));
  assertEquals(
    Object.values(state).reduce((s, v) => s + v.length, 0),
    a.parameterCount,
  );
  assertAllClose(state["layers.1.attn.wq"], await a.namedParameters()["layers.1.attn.wq"].read(), {
    atol: 0,
  });
  const sa = await scoresOf(a, x, mask, lists, n);
  const sb = await scoresOf(b, x, mask, lists, n);
  assertOk(sa.some((v, i) => v !== sb[i]), "different seeds give different models");
  b.loadState(state);
  assertEquals(await scoresOf(b, x, mask, lists, n), sa);
  assertThrows(() => b.loadState({ ...state, extra: [1] }), /unknown parameter "extra"/);
  const { ["output.bias"]: _, ...missing } = state;
  assertThrows(() => b.loadState(missing), /missing parameter "output.bias"/);
  assertThrows(
    () => b.loadState({ ...state, "input.bias": [1, 2] }),
    /"input.bias" has 2 values, expected 16 \(shape \[16\]\)/,
  );
  a.dispose();
  b.dispose();
});

gpuTest("Reranker rejects bad options and inputs with clear errors", () => {
  assertThrows(
    () => new Reranker({ ...SMALL, heads: 3 }),
    /dModel 16 must be divisible by heads 3/,
  );
  assertThrows(() => new Reranker({ ...SMALL, dropout: 1 }), /dropout must be in \[0, 1\)/);
  assertThrows(
    () => new Reranker({ ...SMALL, inputDim: 0 }),
    /inputDim must be a positive integer/,
  );
  assertThrows(
    () => new Reranker({ ...SMALL, positionalEncoding: "rotary" as PositionalEncoding }),
    /positionalEncoding must be none, fixed or learned/,
  );
  const model = new Reranker({ ...SMALL, positionalEncoding: "fixed", maxPositions: 4 }, 9);
  scope(() => {
    const x = Tensor.zeros([6, 5]);
    assertThrows(
      () => model.forward(x, new Float32Array(6).fill(1), 2, 4),
      /features \[6, 5\], expected \[lists·n, inputDim\] = \[8, 5\]/,
    );
    assertThrows(
      () => model.forward(x, new Float32Array(5), 2, 3),
      /mask has 5 values for 6 items/,
    );
    assertThrows(
      () => model.forward(x, [1, 1, 0.5, 1, 1, 1], 2, 3),
      /mask\[2\] = 0.5 is not 0 or 1/,
    );
    assertThrows(
      () => model.forward(Tensor.zeros([10, 5]), new Float32Array(10), 2, 5),
      /lists of 5 items exceed maxPositions 4/,
    );
  });
  model.dispose();
});

gpuTest("sinusoidalTable follows Vaswani et al.", () => {
  const t = sinusoidalTable(3, 4);
  assertAllClose(t.subarray(0, 4), [0, 1, 0, 1], {}, "position 0");
  assertAllClose(t.subarray(8, 12), [Math.sin(2), Math.cos(2), Math.sin(0.02), Math.cos(0.02)], {
    atol: 1e-6,
  }, "position 2");
});

// The toy listwise problem: in each list of 8 items, all sit near a random list centre except one
// that is pushed 3 units away. The centre varies by ±2 per coordinate across lists, so no function
// of one item alone can tell the odd one out; comparing items within the list can.
function toyBatch(lists: number, seed: number): { features: Float32Array; target: Float32Array } {
  const [n, d] = [8, 4];
  const z = randn(lists * (n + 2) * d, seed);
  const u = rng(seed + 1);
  let zi = 0;
  const features = new Float32Array(lists * n * d);
  const target = new Float32Array(lists * n);
  for (let l = 0; l < lists; l++) {
    const centre = Array.from({ length: d }, () => 2 * z[zi++]);
    const dir = Array.from({ length: d }, () => z[zi++]);
    const norm = Math.hypot(...dir);
    const odd = Math.floor(u() * n);
    target[l * n + odd] = 1;
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < d; c++) {
        const push = i === odd ? (3 * dir[c]) / norm : 0;
        features[(l * n + i) * d + c] = centre[c] + 0.3 * z[zi++] + push;
      }
    }
  }
  return { features, target };
}

/** Listwise softmax cross-entropy, mean over lists: logsumexp(s) − s·onehot, from existing ops. */
function softmaxCrossEntropy(scores: Tensor, target: Tensor): Tensor {
  return mean(axpby(1, logSumExp(scores), -1, rowDot(scores, target)));
}

/** Trains on fresh batches; returns the held-out loss before and after. */
async function trainToy(layers: number, steps: number): Promise<[number, number]> {
  const [lists, n] = [128, 8];
  const model = new Reranker(
    { inputDim: 4, dModel: 32, layers, heads: 4, dFF: 64, dropout: 0 },
    11,
  );
  const opt = new AdamW(model.optimizerParams(), { lr: 5e-3, weightDecay: 0 });
  const mask = new Float32Array(lists * n).fill(1);
  const lossOn = (batch: { features: Float32Array; target: Float32Array }) =>
    softmaxCrossEntropy(
      model.forward(Tensor.from(batch.features, [lists * n, 4]), mask, lists, n, { train: true }),
      Tensor.from(batch.target, [lists, n]),
    );
  const held = toyBatch(lists, 999);
  const heldLoss = () => noGrad(() => scope(() => keep(lossOn(held))));
  const before = heldLoss();
  for (let step = 0; step < steps; step++) {
    scope(() => backward(lossOn(toyBatch(lists, 100 + step))));
    opt.step();
    opt.zeroGrad();
    rt().submit();
  }
  const after = heldLoss();
  const result: [number, number] = [await before.item(), await after.item()];
  before.dispose();
  after.dispose();
  opt.dispose();
  model.dispose();
  return result;
}

gpuTest(
  "a tiny reranker learns to pick the odd item out, which needs the list context",
  async () => {
    const steps = 50;
    const [start, end] = await trainToy(1, steps);
    const [, endNoContext] = await trainToy(0, steps);
    console.log(
      `  held-out softmax CE: ${start.toFixed(3)} → ${end.toFixed(3)} after ${steps} AdamW steps ` +
        `(no encoder layers: → ${endNoContext.toFixed(3)}; uniform guess ${
          Math.log(8).toFixed(3)
        })`,
    );
    assertOk(Math.abs(start - Math.log(8)) < 0.3, `initial loss ${start} is near log 8`);
    assertOk(end < 0.5 * start, `loss fell from ${start} to only ${end}`);
    assertOk(end < 0.5 * endNoContext, `context model ${end} vs context-free ${endNoContext}`);
  },
);
