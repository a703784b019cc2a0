/**
 * `lambdaloss` — allRank's `lambdaLoss` (Wang et al., "The LambdaLoss Framework for Ranking Metric
 * Optimization", 2018) with the schemes `ndcgLoss1`, `ndcgLoss2`, `lambdaRank`, `ndcgLoss2PP` and
 * `rankNet`.
 *
 * Per list: the valid items sorted by descending score take positions p = 1…m (ties: lower index
 * first), D_p = log2(1 + p), maxDCG@k = Σ_{p ≤ k} (2^{y*_p} − 1) / D_p over the labels sorted
 * descending (clamped to ≥ ε = 1e-10), G_p = (2^{y_p} − 1) / maxDCG. Every selected pair (a, b) of
 * positions, both ≤ k, adds −log(clamp(clamp(σ(sigma · clamp(s_a − s_b, ±1e8)), ε)^{w_ab}, ε)), the
 * logarithm binary or natural. Selected pairs: all pairs of valid items (the diagonal included) for
 * `ndcgLoss1`, the pairs with y_a > y_b for the other schemes. Weights w_ab:
 * - `ndcgLoss1`: G_a / D_a;
 * - `ndcgLoss2`: |1/D(|a−b|) − 1/D(|a−b|+1)| · |G_a − G_b| (0 on the diagonal);
 * - `lambdaRank`: |1/D_a − 1/D_b| · |G_a − G_b|;
 * - `ndcgLoss2PP`: mu · ndcgLoss2 + lambdaRank;
 * - `rankNet`: 1.
 * G and D depend on positions only, so (as in allRank's autograd) the gradient flows through the
 * score differences alone; clamped terms have zero gradient.
 *
 * - Options (allRank's names and defaults): `scheme` (`ndcgLoss2PP`), `k` (0 = no cutoff; allRank's
 *   `k=None`), `sigma` (1), `mu` (10), `reduction` `sum` | `mean` (`sum`), `log` `binary` | `natural`
 *   (`binary`, allRank's `reduction_log`).
 * - Reduction: over all selected pairs of the batch (sum, or mean over the pair count).
 * - Padding (label −1): takes no position and is in no pair; zero gradient.
 * - All-zero labels: G = 0, so every NDCG-weighted pair weighs 0 and the list gives 0 (as allRank).
 * - Differences from allRank: its default scheme is `None` (weights 1, equal to our `rankNet`), ours
 *   `ndcgLoss2PP`, the scheme the LambdaLoss paper proposes; tied scores are ordered by index
 *   (torch's sort leaves them unspecified); `mean` over no pair gives 0 (allRank: NaN).
 *
 * @module
 */

import { LAMBDA_SCHEMES, LAMBDALOSS, type LambdaScheme, LOSSES } from "../gpu/kernels.ts";
import { Tensor } from "../autodiff/tensor.ts";
import type { LossDefinition, LossOptions } from "./types.ts";
import {
  attach,
  checkLossInputs,
  finish,
  gradLaunch,
  intOption,
  launch,
  positiveOption,
  reduceItems,
  Reduction,
  sortLabels,
} from "./launch.ts";
import { registerLoss, resolveOptions } from "./registry.ts";

/** The weighing schemes, in the kernel's `mode` order (declared with the kernel). */
export { LAMBDA_SCHEMES };

/** Options of {@link lambdaLoss} (see the module docs). */
export interface LambdaLossOptions {
  /** Weighing scheme. */
  scheme: LambdaScheme;
  /** Cutoff rank; 0 = none. */
  k: number;
  /** Sigmoid scale. */
  sigma: number;
  /** ndcgLoss2PP's weight of the ndcgLoss2 term. */
  mu: number;
  /** Batch reduction over the selected pairs. */
  reduction: "sum" | "mean";
  /** Logarithm base. */
  log: "binary" | "natural";
}

/** Records the `lambdaloss` loss of `[lists, n]` scores and labels; see the module docs. */
export function lambdaLoss(scores: Tensor, labels: Tensor, options: LambdaLossOptions): Tensor {
  const [lists, n] = checkLossInputs("lambdaloss", scores, labels);
  const params = {
    mode: LAMBDA_SCHEMES.indexOf(options.scheme),
    k: options.k === 0 ? n : Math.min(options.k, n),
    f0: options.sigma,
    f1: options.mu,
    f2: options.log === "binary" ? 1 / Math.LN2 : 1,
  };
  // the label order, each entry with its score position, and the ideal DCG@k per list
  const sorted = sortLabels(scores, labels);
  const positions = new Tensor([lists, n], { label: "lambdaloss positions" });
  const scratch = new Tensor([lists, n, 4], { label: "lambdaloss sort scratch" });
  launch(LAMBDALOSS, "sort_scores", "list", scores, labels, { o: positions, o3: scratch });
  const entries = new Tensor([lists, n, 4], { label: "lambdaloss entries" });
  const prep = { ent: sorted.entries, wa: positions, o: entries };
  launch(LAMBDALOSS, "lambda_entries", "list", scores, labels, prep);
  [sorted.entries, positions, scratch].forEach((t) => t.dispose());
  const info = sorted.info;
  const ideal = new Tensor([lists], { label: "lambdaloss ideal DCG" });
  launch(LOSSES, "ideal_dcg", "list", scores, labels, { ent: entries, info, o: ideal }, params);
  const items = new Tensor([lists, n, 2], { label: "lambdaloss items" });
  const bindings = { ent: entries, info, wb: ideal };
  launch(LAMBDALOSS, "lambda_fwd", "item", scores, labels, { ...bindings, o: items }, params);
  const perList = reduceItems(scores, labels, items);
  const reduction = options.reduction === "sum" ? Reduction.sum : Reduction.meanCount;
  const { loss, den } = finish(scores, labels, perList, reduction, "lambdaloss");
  items.dispose();
  perList.dispose();
  return attach(
    "lambdaloss",
    loss,
    scores,
    labels,
    [entries, info, ideal, den],
    (g) =>
      gradLaunch(LAMBDALOSS, "lambda_bwd", "item", scores, labels, { ...bindings, g, den }, params),
  );
}

const definition: LossDefinition = {
  name: "lambdaloss",
  summary: "allRank lambdaLoss (schemes ndcgLoss1/2, lambdaRank, ndcgLoss2PP, rankNet), @k",
  defaults: {
    scheme: "ndcgLoss2PP",
    k: 0,
    sigma: 1,
    mu: 10,
    reduction: "sum",
    log: "binary",
  },
  choices: {
    scheme: LAMBDA_SCHEMES,
    reduction: ["sum", "mean"],
    log: ["binary", "natural"],
  },
  forward: (scores, labels, options) => lambdaLoss(scores, labels, lambdaOptions(options)),
};

/** The lambdaloss options of resolved loss options, checked. */
export function lambdaOptions(options: LossOptions): LambdaLossOptions {
  const o = resolveOptions(definition, options);
  return {
    scheme: o.scheme as LambdaScheme,
    k: intOption("lambdaloss", "k", o.k as number, 0),
    sigma: positiveOption("lambdaloss", "sigma", o.sigma as number),
    mu: positiveOption("lambdaloss", "mu", o.mu as number, true),
    reduction: o.reduction as "sum" | "mean",
    log: o.log as "binary" | "natural",
  };
}

registerLoss(definition);
