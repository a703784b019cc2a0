/**
 * `softmax` — listwise softmax cross-entropy (InfoNCE / CLIP when a list has one relevant item).
 *
 * Per list, over its valid items: p = softmax(s) and the target q = y / Σ y, i.e. the target mass is
 * spread over the relevant items in proportion to their labels (uniform over them for binary
 * labels). Loss = −Σ_j q_j log p_j = Σ_j q_j (logsumexp(s) − s_j); gradient p − q.
 *
 * - Options: none.
 * - Reduction: mean over all lists of the batch.
 * - Padding (label −1): excluded from the softmax and the target; zero gradient.
 * - A list whose labels sum to 0 (no relevant item, or all padding) contributes 0 and no gradient
 *   (it still counts in the mean).
 * - Not in allRank: allRank's `listNet` (our `listnet`) targets softmax(y) instead of y / Σ y.
 *
 * @module
 */

import { SOFTMAX } from "../gpu/kernels.ts";
import { Tensor } from "../autodiff/tensor.ts";
import { attach, checkLossInputs, finish, gradLaunch, launch, Reduction } from "./launch.ts";
import { registerLoss } from "./registry.ts";

/** Records the `softmax` loss of `[lists, n]` scores and labels; see the module docs. */
export function softmaxLoss(scores: Tensor, labels: Tensor): Tensor {
  const [lists] = checkLossInputs("softmax", scores, labels);
  const perList = new Tensor([lists, 2], { label: "softmax lists" });
  launch(SOFTMAX, "softmax_fwd", "list", scores, labels, { o: perList });
  const { loss, den } = finish(scores, labels, perList, Reduction.meanLists, "softmax");
  perList.dispose();
  return attach(
    "softmax",
    loss,
    scores,
    labels,
    [den],
    (g) => gradLaunch(SOFTMAX, "softmax_bwd", "list", scores, labels, { g, den }),
  );
}

registerLoss({
  name: "softmax",
  summary: "listwise softmax cross-entropy against y / Σy (InfoNCE/CLIP with one relevant item)",
  defaults: {},
  forward: (scores, labels) => softmaxLoss(scores, labels),
});
