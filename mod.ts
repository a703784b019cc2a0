/**
 * crossrank — train and benchmark cross-modal retrieval with learning-to-rank losses on raw
 * WebGPU, with hand-written WGSL kernels and a minimal autodiff.
 *
 * This module is the public surface. The layers beneath it:
 * - `src/gpu/`: device, error checking, pipeline cache, buffer pool, command recording;
 * - `src/autodiff/`: GPU tensors, scopes, the reverse-mode tape;
 * - `src/ops/`: differentiable ops, each a WGSL kernel under `kernels/` plus a backward rule;
 * - `src/optim/`: AdamW;
 * - `src/reference/`: float64 CPU twins of every kernel (the test oracles).
 *
 * @example
 * ```ts
 * import { backward, initGpu, matmul, mean, Tensor } from "./mod.ts";
 * await initGpu();
 * const w = Tensor.param([1, 2, 3, 4], [2, 2]);
 * const x = Tensor.fromRows([[1, 0], [0, 1]]);
 * backward(mean(matmul(x, w)));
 * console.log(await w.grad!.read()); // 0.25 everywhere
 * ```
 *
 * @module
 */

export { DEFAULT_BACKEND, GpuError } from "./src/gpu/device.ts";
export { initGpu, Params, rt, type Runtime } from "./src/gpu/runtime.ts";
export type { KernelSpec } from "./src/gpu/kernel.ts";
export { keep, scope, type Shape, Tensor, untracked } from "./src/autodiff/tensor.ts";
export { backward, isGradEnabled, noGrad, zeroGrad } from "./src/autodiff/tape.ts";
export {
  add,
  addBias,
  affine,
  axpby,
  broadcastCols,
  broadcastRows,
  broadcastScalar,
  copy,
  exp,
  gelu,
  mul,
  mulScalar,
  relu,
  reshape,
  scale,
  sub,
} from "./src/ops/elementwise.ts";
export {
  colSum,
  l2Normalize,
  logSumExp,
  mean,
  rowDot,
  rowSum,
  softmax,
  sumAll,
} from "./src/ops/reduce.ts";
export { matmul, type MatmulOptions } from "./src/ops/matmul.ts";
export { gatherRows } from "./src/ops/gather.ts";
export { transpose } from "./src/ops/transpose.ts";
export { AdamW, type AdamWOptions, type ParamSpec } from "./src/optim/adamw.ts";
