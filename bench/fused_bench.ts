/**
 * The fused chains of `kernels/fused.wgsl` against the unfused ops they replace, forward +
 * backward at the default training step's shapes (batch 256): bias + GELU on 256 × 512 (the heads'
 * hidden layer), bias + row L2 normalisation on 256 × 256 (their output), and both log-sum-exps of
 * the scaled 256 × 256 similarities (the CLIP / InfoNCE loss). 16 repetitions per GPU wait, 10 timed iterations.
 * Run: `deno bench -A bench/fused_bench.ts`.
 *
 * @module
 */

import { initGpu, rt } from "../src/gpu/runtime.ts";
import { backward, zeroGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { axpby, gelu, scale } from "../src/ops/elementwise.ts";
import { biasActivation, biasL2Normalize, logSumExpRowsCols } from "../src/ops/fused.ts";
import { addBias, l2Normalize, logSumExp, sumAll } from "../src/ops/reduce.ts";
import { transpose } from "../src/ops/transpose.ts";
import { gpuBench, interleavedAB, lcgValues } from "./util.ts";

await initGpu();

const B = 256;
const hidden = Tensor.param(lcgValues(B * 512, 1), [B, 512]);
const hiddenBias = Tensor.param(lcgValues(512, 2), [512]);
const out = Tensor.param(lcgValues(B * 256, 3), [B, 256]);
const outBias = Tensor.param(lcgValues(256, 4), [256]);
const sims = Tensor.param(lcgValues(B * B, 5), [B, B]);
const params = [hidden, hiddenBias, out, outBias, sims];

const AB_ROUNDS = Number(Deno.env.get("CROSSRANK_BENCH_AB") ?? 0);
const abPairs: [string, () => Tensor, () => Tensor][] = [];

/** Forward + backward of `fn` (summed to a scalar), 16 times per GPU wait. */
function work(fn: () => Tensor): void {
  scope(() => backward(sumAll(fn())));
  zeroGrad(params);
}

/** The bench cases of one chain, fused and unfused. */
function pair(group: string, names: [string, string], unfused: () => Tensor, fused: () => Tensor) {
  abPairs.push([group, fused, unfused]);
  gpuBench({ name: names[0], group, baseline: true, reps: 16, n: 10, work: () => work(unfused) });
  gpuBench({ name: names[1], group, reps: 16, n: 10, work: () => work(fused) });
}

pair(
  `bias + GELU ${B}×512, forward+backward`,
  ["unfused: addBias, gelu", "fused: biasActivation"],
  () => gelu(addBias(hidden, hiddenBias)),
  () => biasActivation(hidden, hiddenBias, "gelu"),
);
pair(
  `bias + L2 normalisation ${B}×256, forward+backward`,
  ["unfused: addBias, l2Normalize", "fused: biasL2Normalize"],
  () => l2Normalize(addBias(out, outBias)),
  () => biasL2Normalize(out, outBias),
);
pair(
  `scaled log-sum-exp of rows and columns ${B}×${B}, forward+backward`,
  ["unfused: scale, transpose, 2 logSumExp", "fused: logSumExpRowsCols"],
  () => {
    const s = scale(sims, 1 / 0.07);
    return axpby(1, sumAll(logSumExp(s)), 1, sumAll(logSumExp(transpose(s))));
  },
  () => logSumExpRowsCols(sims, 1 / 0.07),
);

// Interleaved A/B (`CROSSRANK_BENCH_AB=<rounds> deno run -A bench/fused_bench.ts`, see
// `interleavedAB`): 16 forward+backward passes per variant and round.
if (AB_ROUNDS > 0) {
  for (const [group, fused, unfused] of abPairs) {
    const run = (fn: () => Tensor) => async () => {
      for (let r = 0; r < 16; r++) work(fn);
      await rt().sync();
    };
    await interleavedAB(group, 16, AB_ROUNDS, run(fused), run(unfused));
  }
}
