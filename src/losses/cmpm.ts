/**
 * `cmpm` — Cross-Modal Projection Matching (Zhang & Lu, ECCV 2018), an alignment baseline.
 *
 * Per list, over its valid items: p = softmax(s), q_j = [y_j > 0] / #relevant (the relevance mask
 * normalised to sum 1; graded labels count as relevant, not by grade), and
 * loss = KL(p ‖ q) = Σ_j p_j (log p_j − log(q_j + ε)), ε = 1e-8 as in the paper's code.
 * Gradient: d/ds_k = p_k (log p_k − log(q_k + ε) − KL).
 *
 * - Options: none.
 * - Reduction: mean over all lists (the paper: mean over the batch of each direction).
 * - Padding (label −1): excluded from p and q; zero gradient.
 * - A list without a relevant item (or all padding) contributes 0 and no gradient (q undefined).
 * - Not in allRank.
 *
 * @module
 */

import { CMPM } from "../gpu/kernels.ts";
import { Tensor } from "../autodiff/tensor.ts";
import { attach, checkLossInputs, finish, gradLaunch, launch, Reduction } from "./launch.ts";
import { registerLoss } from "./registry.ts";

/** Records the `cmpm` loss of `[lists, n]` scores and labels; see the module docs. */
export function cmpmLoss(scores: Tensor, labels: Tensor): Tensor {
  const [lists] = checkLossInputs("cmpm", scores, labels);
  const perList = new Tensor([lists, 2], { label: "cmpm lists" });
  launch(CMPM, "cmpm_fwd", "list", scores, labels, { o: perList });
  const { loss, den } = finish(scores, labels, perList, Reduction.meanLists, "cmpm");
  perList.dispose();
  return attach(
    "cmpm",
    loss,
    scores,
    labels,
    [den],
    (g) => gradLaunch(CMPM, "cmpm_bwd", "list", scores, labels, { g, den }),
  );
}

registerLoss({
  name: "cmpm",
  summary: "Cross-Modal Projection Matching (Zhang & Lu 2018): KL(softmax(s) ‖ normalised mask)",
  defaults: {},
  forward: (scores, labels) => cmpmLoss(scores, labels),
});
