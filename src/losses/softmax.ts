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
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import {
  attach,
  checkLossInputs,
  finish,
  gradLaunch,
  launch,
  MAX_LIST_ITEMS,
  Reduction,
} from "./launch.ts";
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

/**
 * Both retrieval directions of `softmax` on one `[R, C]` score matrix:
 * `½ softmax(αS, Y) + ½ softmax(αSᵀ, Yᵀ)`, the rows of S (with the rows of Y) being one
 * direction's lists and its columns the other's; with identity labels, CLIP's symmetric InfoNCE.
 * Three dispatches forward and one backward, where the two-call form records a scale, a transpose,
 * two losses and their combination, and sums two gradients. It computes each list as
 * {@link softmaxLoss} does, so the gradient has the same bits as
 * `axpby(0.5, softmaxLoss(αS, Y), 0.5, softmaxLoss(transpose(αS), transpose(Y)))`'s.
 *
 * - `alpha`: the scores' scale (a temperature's inverse, e.g. 1/0.07), finite; default 1.
 * - Padding (label −1) and lists whose labels sum to 0: as {@link softmaxLoss}, per direction.
 *
 * @example
 * ```ts
 * import { backward, initGpu, Tensor } from "../../mod.ts";
 * import { symmetricSoftmaxLoss } from "./softmax.ts";
 * await initGpu();
 * const s = Tensor.param([0.9, 0.1, 0.2, 0.8], [2, 2], "similarities");
 * const eye = Tensor.fromRows([[1, 0], [0, 1]]);
 * const loss = symmetricSoftmaxLoss(s, eye, 1 / 0.07);
 * backward(loss);
 * console.log(await loss.item(), await s.grad!.toRows());
 * ```
 */
export function symmetricSoftmaxLoss(scores: Tensor, labels: Tensor, alpha = 1): Tensor {
  const [rows, cols] = checkLossInputs("softmax", scores, labels);
  if (rows > MAX_LIST_ITEMS) {
    throw new RangeError(
      `loss 'softmax' in both directions: columns of ${rows} items (scores ` +
        `${shapeString(scores.shape)}) are longer than the ${MAX_LIST_ITEMS} a list may have`,
    );
  }
  if (!Number.isFinite(alpha)) {
    throw new RangeError(`symmetricSoftmaxLoss: alpha must be finite, got ${alpha}`);
  }
  const perList = new Tensor([rows + cols, 2], { label: "softmax2 lists" });
  const stats = new Tensor([rows + cols, 4], { label: "softmax2 stats" });
  SOFTMAX.launch(
    "softmax2_fwd",
    { s: scores, y: labels, o: perList, o2: stats },
    { lists: rows, n: cols, f0: alpha },
    rows + cols,
  );
  const loss = new Tensor([1], { label: "softmax2 loss" });
  launch(SOFTMAX, "softmax2_finish", "one", scores, labels, { wb: perList, o: loss });
  perList.dispose();
  return attach(
    "symmetricSoftmax",
    loss,
    scores,
    labels,
    [stats],
    (g) =>
      gradLaunch(SOFTMAX, "softmax2_bwd", "item", scores, labels, { g, wb: stats }, { f0: alpha }),
  );
}

registerLoss({
  name: "softmax",
  summary: "listwise softmax cross-entropy against y / Σy (InfoNCE/CLIP with one relevant item)",
  defaults: {},
  forward: (scores, labels) => softmaxLoss(scores, labels),
  bothWays: (scores, labels) => symmetricSoftmaxLoss(scores, labels),
});
