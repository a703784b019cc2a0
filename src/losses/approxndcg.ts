/**
 * `approxndcg` — allRank's `approxNDCGLoss` (Qin et al., "A General Approximation Framework for
 * Direct Optimization of Information Retrieval Measures", 2010).
 *
 * Per list, over its valid items: the approximate position of a is
 * P_a = 1 + Σ_{b ≠ a} max(σ(−alpha (s_a − s_b)), ε), and
 * approxNDCG = Σ_a G_a / log2(1 + P_a), G = (2^y − 1) / max(maxDCG, ε), maxDCG the ideal DCG of the
 * labels (no cutoff), ε = 1e-10. Loss = −approxNDCG (so it lies in [−1, 0]).
 *
 * - Options: `alpha` (1), the sigmoid sharpness.
 * - Reduction: mean over all lists (allRank: `−torch.mean`).
 * - Padding (label −1): not in any P_a, no gain; zero gradient.
 * - All-zero labels: G = 0, the list gives 0 (as allRank). All-padding lists give 0.
 * - Same as allRank (its sort is only a reordering: the sum does not depend on it).
 *
 * @module
 */

import { APPROXNDCG, LOSSES } from "../gpu/kernels.ts";
import { Tensor } from "../autodiff/tensor.ts";
import type { LossDefinition, LossOptions } from "./types.ts";
import {
  attach,
  checkLossInputs,
  finish,
  gradLaunch,
  launch,
  positiveOption,
  reduceItems,
  Reduction,
  sortLabels,
} from "./launch.ts";
import { registerLoss, resolveOptions } from "./registry.ts";

/** Records the `approxndcg` loss of `[lists, n]` scores and labels; see the module docs. */
export function approxNdcgLoss(scores: Tensor, labels: Tensor, alpha = 1): Tensor {
  const [lists, n] = checkLossInputs("approxndcg", scores, labels);
  const params = { f0: alpha, k: n };
  const { entries, info } = sortLabels(scores, labels);
  const maxDcg = new Tensor([lists], { label: "approxndcg ideal DCG" });
  launch(LOSSES, "ideal_dcg", "list", scores, labels, { ent: entries, info, o: maxDcg }, params);
  entries.dispose();
  info.dispose();
  const items = new Tensor([lists, n, 2], { label: "approxndcg items" });
  const phi = new Tensor([lists, n], { label: "approxndcg dNDCG/dP" });
  launch(
    APPROXNDCG,
    "approx_prep",
    "item",
    scores,
    labels,
    { wb: maxDcg, o: items, o2: phi },
    params,
  );
  const perList = reduceItems(scores, labels, items);
  const { loss, den } = finish(scores, labels, perList, Reduction.meanLists, "approxndcg");
  [maxDcg, items, perList].forEach((t) => t.dispose());
  return attach(
    "approxndcg",
    loss,
    scores,
    labels,
    [phi, den],
    (g) =>
      gradLaunch(APPROXNDCG, "approx_bwd", "item", scores, labels, { wa: phi, g, den }, params),
  );
}

const definition: LossDefinition = {
  name: "approxndcg",
  summary: "allRank approxNDCGLoss: −NDCG with sigmoid-approximated positions",
  defaults: { alpha: 1 },
  forward: (scores, labels, options) => approxNdcgLoss(scores, labels, alphaOf(options)),
};

/** The `alpha` option, checked. */
export function alphaOf(options: LossOptions): number {
  return positiveOption("approxndcg", "alpha", resolveOptions(definition, options).alpha as number);
}

registerLoss(definition);
