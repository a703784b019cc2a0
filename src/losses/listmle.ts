/**
 * `listmle` — allRank's `listMLE` (Xia et al. 2008): the negative Plackett–Luce log-likelihood of the
 * label order under the scores.
 *
 * Per list, the valid items in descending label order π (ties: lower index first), m the list's
 * maximum score, C_r = Σ_{r' ≥ r} exp(s_{π(r')} − m):
 * loss = Σ_r log(C_r + ε) − (s_{π(r)} − m), ε = 1e-10 (allRank's `DEFAULT_EPS`). The gradient
 * includes the (tiny) path through m, as allRank's autograd does (to the first maximum).
 *
 * - Options: none.
 * - Reduction: mean over all lists (allRank: `torch.mean` over the batch).
 * - Padding (label −1): excluded from every C_r; zero gradient. All-padding lists give 0.
 * - Difference from allRank: allRank shuffles the items randomly before its (unstable) sort to break
 *   label ties at random; here ties are broken deterministically by item index (lower index
 *   earlier), so the loss is a function of its inputs. In training the batch order is already
 *   random, which randomises the tie order across steps the same way.
 *
 * @module
 */

import { Tensor } from "../autodiff/tensor.ts";
import { listMleRef } from "../reference/losses.ts";
import {
  attach,
  checkLossInputs,
  finish,
  gradLaunch,
  launch,
  Reduction,
  sortLabels,
} from "./launch.ts";
import { registerLoss } from "./registry.ts";

/** Records the `listmle` loss of `[lists, n]` scores and labels; see the module docs. */
export function listMleLoss(scores: Tensor, labels: Tensor): Tensor {
  const [lists, n] = checkLossInputs("listmle", scores, labels);
  const { entries, info } = sortLabels(scores, labels);
  const perList = new Tensor([lists, 2], { label: "listmle lists" });
  const tails = new Tensor([lists, n], { label: "listmle tail sums" });
  launch("listmle_fwd", "list", scores, labels, { ent: entries, info, o: perList, o2: tails });
  const { loss, den } = finish(scores, labels, perList, Reduction.meanLists, "listmle");
  perList.dispose();
  return attach(
    "listmle",
    loss,
    scores,
    labels,
    [entries, info, tails, den],
    (g) =>
      gradLaunch("listmle_bwd", "list", scores, labels, { ent: entries, info, wa: tails, g, den }),
  );
}

registerLoss({
  name: "listmle",
  summary: "allRank listMLE: Plackett-Luce likelihood of the label order (ties by index)",
  defaults: {},
  forward: (scores, labels) => listMleLoss(scores, labels),
  reference: (scores, labels) => listMleRef(scores, labels),
});
