/**
 * `listnet` — allRank's `listNet`: cross-entropy between the top-one probabilities of the labels and
 * of the scores.
 *
 * Per list, over its valid items: loss = −Σ_j softmax(y)_j · log(softmax(s)_j + ε), ε = 1e-10 (allRank's
 * `DEFAULT_EPS`). Gradient: with r_j = softmax(y)_j p_j / (p_j + ε), d/ds_k = p_k Σ_j r_j − r_k.
 *
 * - Graded labels enter as logits: softmax(y) puts e^(y_i − y_j) times the mass on grade y_i as on
 *   grade y_j.
 * - Options: none (ε fixed at allRank's default).
 * - Reduction: mean over all lists (allRank: `torch.mean` over the batch).
 * - Padding (label −1): excluded from both softmaxes; zero gradient.
 * - All-zero labels: softmax(y) is uniform, so the loss is defined (as in allRank).
 * - Difference from allRank: an all-padding list contributes 0 (allRank returns NaN).
 *
 * @module
 */

import { LISTNET } from "../gpu/kernels.ts";
import { Tensor } from "../autodiff/tensor.ts";
import { attach, checkLossInputs, finish, gradLaunch, launch, Reduction } from "./launch.ts";
import { registerLoss } from "./registry.ts";

/** Records the `listnet` loss of `[lists, n]` scores and labels; see the module docs. */
export function listNetLoss(scores: Tensor, labels: Tensor): Tensor {
  const [lists] = checkLossInputs("listnet", scores, labels);
  const perList = new Tensor([lists, 2], { label: "listnet lists" });
  launch(LISTNET, "listnet_fwd", "list", scores, labels, { o: perList });
  const { loss, den } = finish(scores, labels, perList, Reduction.meanLists, "listnet");
  perList.dispose();
  return attach(
    "listnet",
    loss,
    scores,
    labels,
    [den],
    (g) => gradLaunch(LISTNET, "listnet_bwd", "list", scores, labels, { g, den }),
  );
}

registerLoss({
  name: "listnet",
  summary: "allRank listNet: cross-entropy of softmax(labels) against softmax(scores)",
  defaults: {},
  forward: (scores, labels) => listNetLoss(scores, labels),
});
