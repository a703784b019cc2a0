/**
 * crossrank — train and benchmark cross-modal retrieval with learning-to-rank losses on raw
 * WebGPU, with hand-written WGSL kernels and a minimal autodiff.
 *
 * This module is the public surface. The layers beneath it:
 * - `src/gpu/`: device, error checking, pipeline cache, buffer pool, command recording;
 * - `src/autodiff/`: GPU tensors, scopes, the reverse-mode tape;
 * - `src/ops/`: differentiable ops, each a WGSL kernel under `kernels/` plus a backward rule;
 * - `src/optim/`: AdamW;
 * - `src/losses/`: the ranking losses (forward and backward kernels) and their API;
 * - `src/data/`: readers, featurisers, the generated default dataset, splits;
 * - `src/eval/`: GPU retrieval metrics, top-k, NDCG;
 * - `src/model/`: projection heads, the dual encoder, the listwise reranker;
 * - `src/train/`: the training loop, run folders, reranker and learning-to-rank training;
 * - `src/reference/`: float64 CPU twins of every kernel (the test oracles).
 *
 * @example Ranking losses on plain arrays (computed by the WGSL kernels)
 * ```ts
 * import { rankingLoss, rankingLossWithGrad } from "./mod.ts";
 * const loss = await rankingLoss("lambdaloss", [[0.5, 0.3, 0.5]], [[0.5, 0.3, 0.5]], {
 *   scheme: "ndcgLoss1",
 * }); // 2.9272110… (allRank's published value)
 * const { grad } = await rankingLossWithGrad("listmle", [[0.5, 0.3, 0.5]], [[1, 0, -1]]);
 * ```
 *
 * @example Autodiff on the GPU
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

// GPU runtime
export { DEFAULT_BACKEND, GpuError } from "./src/gpu/device.ts";
export { initGpu, Params, rt, type Runtime } from "./src/gpu/runtime.ts";
export type { KernelSpec } from "./src/gpu/kernel.ts";

// Tensors and autodiff
export { keep, readTensors, scope, type Shape, Tensor, untracked } from "./src/autodiff/tensor.ts";
export { backward, isGradEnabled, noGrad, zeroGrad } from "./src/autodiff/tape.ts";

// Ops
export {
  add,
  affine,
  axpby,
  copy,
  exp,
  gelu,
  mul,
  relu,
  reshape,
  scale,
  sub,
} from "./src/ops/elementwise.ts";
export {
  addBias,
  broadcastCols,
  broadcastRows,
  broadcastScalar,
  colSum,
  l2Normalize,
  logSumExp,
  mean,
  mulScalar,
  rowDot,
  rowSum,
  softmax,
  sumAll,
} from "./src/ops/reduce.ts";
export { matmul, type MatmulOptions } from "./src/ops/matmul.ts";
export {
  biasActivation,
  biasL2Normalize,
  type FusedActivation,
  logSumExpRowsCols,
  scaledRowDot,
} from "./src/ops/fused.ts";
export { gatherRows } from "./src/ops/gather.ts";
export { transpose } from "./src/ops/transpose.ts";
export { LAYER_NORM_EPS, layerNorm } from "./src/ops/layernorm.ts";
export { attention, type AttentionOptions } from "./src/ops/attention.ts";
export { dropout, type DropoutOptions } from "./src/ops/dropout.ts";
export { neuralSort } from "./src/ops/neuralsort.ts";
export { sinkhorn } from "./src/ops/sinkhorn.ts";
export { type GumbelOptions, gumbelPerturb } from "./src/ops/gumbel.ts";
export { softDcg } from "./src/losses/neuralndcg.ts";
export { symmetricSoftmaxLoss } from "./src/losses/softmax.ts";
export { AdamW, type AdamWOptions, type ParamSpec } from "./src/optim/adamw.ts";

// Losses
export {
  checkRankingInput,
  getLoss,
  type LossDefinition,
  lossNames,
  type LossOptions,
  rankingLoss,
  rankingLossTensor,
  rankingLossWithGrad,
  registerLoss,
  resolveOptions,
} from "./src/losses/mod.ts";

// Data
export type { LtrDataset, LtrQuery, RetrievalDataset } from "./src/data/types.ts";
export { DataError } from "./src/data/errors.ts";
export { parseNpy, readNpy, readNpyHeader, writeNpy } from "./src/data/npy.ts";
export {
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
} from "./src/data/safetensors.ts";
export { SizeLimitError } from "./src/util/limits.ts";
export { loadFeatureDataset } from "./src/data/features.ts";
export { readSvmlight } from "./src/data/svmlight.ts";
export { loadCollection } from "./src/data/collection.ts";
export { featuriseImages, imageFeatureDim } from "./src/data/image_features.ts";
export { featuriseTexts, tokenize } from "./src/data/text_features.ts";
export { generateDefaultDataset } from "./src/data/synthetic.ts";
export {
  assignImages,
  DEFAULT_SPLIT,
  splitByImage,
  type SplitPart,
  type SplitSpec,
} from "./src/data/split.ts";
export { type DataSource, fingerprintDataset } from "./src/data/source.ts";
export {
  loadDataset,
  loadRetrievalData,
  loadRetrievalSplits,
  type SplitRecord,
} from "./src/data/load.ts";

// Evaluation
export { evaluateDataset, evaluateRetrieval, TIE_RULE } from "./src/eval/retrieval.ts";
export { retrievalRanks } from "./src/ops/retrieval.ts";
export {
  type DirectionMetrics,
  type RetrievalMetrics,
  retrievalMetrics,
} from "./src/eval/metrics.ts";
export { topK, type TopKResult } from "./src/ops/topk.ts";
export { bankLogSumExp, bankTopK } from "./src/ops/bank_norm.ts";
export {
  bankNorms,
  NORM_DEFAULTS,
  NORM_METHODS,
  type NormMethod,
  normParams,
} from "./src/eval/bank_norm.ts";
export { parseRanksCsv, ranksCsv } from "./src/eval/ranks_file.ts";
export {
  formatDifference,
  pairedBootstrap,
  type PairedDifference,
  pairedDifference,
  type QuerySet,
} from "./src/eval/bootstrap.ts";
export { meanNdcg, ndcgAt } from "./src/eval/ndcg.ts";

// Models and training
export { type HeadConfig, ProjectionHead } from "./src/model/heads.ts";
export { DualEncoder, type DualEncoderConfig, modelConfig } from "./src/model/dual_encoder.ts";
export { Reranker, type RerankerOptions, rerankFeatures } from "./src/model/reranker.ts";
export { type TrainConfig, trainLoop } from "./src/train/trainer.ts";
export { type RunSummary, runTraining } from "./src/train/run.ts";
export { RunFileError } from "./src/train/schema.ts";
export { loadTrainData, resolveRunData, runDataRecord } from "./src/train/data.ts";
export { evaluateRerank, runRerankTraining } from "./src/train/rerank.ts";
export { trainLtr } from "./src/train/ltr.ts";
