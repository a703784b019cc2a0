/**
 * The fused chains of `kernels/fused.wgsl` against the unfused ops they replace, forward +
 * backward at the default training step's shapes (batch 256): bias + GELU on 256 × 512 (the heads'
 * hidden layer), bias + row L2 normalisation on 256 × 256 (their output), and both log-sum-exps of
 * the scaled 256 × 256 similarities (the CLIP / InfoNCE loss). 16 repetitions per GPU wait, 10 timed iterations.
 * Run: `deno bench -A bench/fused_bench.ts`.
 *
 * @module
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { backward, zeroGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { axpby, gelu, scale } from "../src/ops/elementwise.ts";
import { biasActivation, biasL2Normalize, logSumExpRowsCols } from "../src/ops/fused.ts";
import { addBias, l2Normalize, logSumExp, sumAll } from "../src/ops/reduce.ts";
import { transpose } from "../src/ops/transpose.ts";
import { gpuBench, lcgValues } from "./util.ts";

await initGpu();

const B = 256;
const hidden = Tensor.param(lcgValues(B * 512, 1), [B, 512]);
const hiddenBias = Tensor.param(lcgValues(512, 2), [512]);
const out = Tensor.param(lcgValues(B * 256, 3), [B, 256]);
const outBias = Tensor.param(lcgValues(256, 4), [256]);
const sims = Tensor.param(lcgValues(B * B, 5), [B, B]);
const params = [hidden, hiddenBias, out, outBias, sims];

/** Forward + backward of `fn` (summed to a scalar), 16 times per GPU wait. */
function pair(group: string, name: string, fn: () => Tensor, baseline = false): void {
  gpuBench({
    name,
    group,
    baseline,
    reps: 16,
    n: 10,
    work: () => {
      scope(() => backward(sumAll(fn())));
      zeroGrad(params);
    },
  });
}

const act = `bias + GELU ${B}×512, forward+backward`;
pair(act, "unfused: addBias, gelu", () => gelu(addBias(hidden, hiddenBias)), true);
pair(act, "fused: biasActivation", () => biasActivation(hidden, hiddenBias, "gelu"));

const norm = `bias + L2 normalisation ${B}×256, forward+backward`;
pair(norm, "unfused: addBias, l2Normalize", () => l2Normalize(addBias(out, outBias)), true);
pair(norm, "fused: biasL2Normalize", () => biasL2Normalize(out, outBias));

const lse = `scaled log-sum-exp of rows and columns ${B}×${B}, forward+backward`;
pair(lse, "unfused: scale, transpose, 2 logSumExp", () => {
  const s = scale(sims, 1 / 0.07);
  return axpby(1, sumAll(logSumExp(s)), 1, sumAll(logSumExp(transpose(s))));
}, true);
pair(lse, "fused: logSumExpRowsCols", () => logSumExpRowsCols(sims, 1 / 0.07));
