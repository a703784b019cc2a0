/**
 * The ranking losses: importing this module registers every loss and exposes the API.
 *
 * Losses (each a forward and a backward WGSL kernel with a float64 CPU reference): `softmax`,
 * `hinge`, `cmpm` (alignment baselines), `ranknet`, `lambdaloss`, `listnet`, `listmle`,
 * `approxndcg`, `smoothap`, `recallk` (the Recall@k surrogate), and the NeuralSort family `neuralndcg`, `neuralndcg_transposed`. Each
 * module's docs state its formula, defaults, reduction, padding and any difference from allRank.
 *
 * @example
 * ```ts
 * import { lossNames, rankingLoss } from "./mod.ts";
 * console.log(lossNames());
 * console.log(await rankingLoss("lambdaloss", [[0.5, 0.3, 0.5]], [[0.5, 0.3, 0.5]], {
 *   scheme: "ndcgLoss1",
 * })); // 2.9272110…
 * ```
 *
 * @module
 */

import "./softmax.ts";
import "./hinge.ts";
import "./cmpm.ts";
import "./ranknet.ts";
import "./lambdaloss.ts";
import "./listnet.ts";
import "./listmle.ts";
import "./approxndcg.ts";
import "./smoothap.ts";
import "./recallk.ts";
// The NeuralSort family (neuralndcg, neuralndcg_transposed) registers from ./neuralndcg.ts.
import "./neuralndcg.ts";

export { checkRankingInput, rankingLoss, rankingLossTensor, rankingLossWithGrad } from "./api.ts";
export { getLoss, lossNames, registerLoss, resolveOptions } from "./registry.ts";
export type { LossDefinition, LossOptions, LossOptionValue } from "./types.ts";

/**
 * The losses `deno task compare` and the training-step benchmark run by default: every loss
 * except `neuralndcg_transposed` (same machinery as `neuralndcg`, at the same cost).
 */
export const COMPARED_LOSSES: readonly string[] = [
  "softmax",
  "hinge",
  "cmpm",
  "ranknet",
  "lambdaloss",
  "listnet",
  "listmle",
  "approxndcg",
  "smoothap",
  "recallk",
  "neuralndcg",
];
