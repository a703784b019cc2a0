/**
 * `listmle` — allRank's `listMLE` (Xia et al. 2008): the negative Plackett–Luce log-likelihood of the
 * label order under the scores.
 *
 * Per list, the valid items in descending label order π (graded labels order the relevant items by
 * grade; only ties are broken, see `ties`), m the list's maximum score,
 * C_r = Σ_{r' ≥ r} exp(s_{π(r')} − m):
 * loss = Σ_r log(C_r + ε) − (s_{π(r)} − m), ε = 1e-10 (allRank's `DEFAULT_EPS`). The gradient
 * includes the (tiny) path through m, as allRank's autograd does (to the first maximum).
 *
 * - Options: `ties` (`random`, default: each call breaks label ties in a fresh pseudo-random
 *   order, as allRank's shuffle does; `index`: lower index first, deterministic) and `seed` (0,
 *   default: a per-process call counter seeds the order; any other value fixes it).
 * - Reduction: mean over all lists (allRank: `torch.mean` over the batch).
 * - Padding (label −1): excluded from every C_r; zero gradient. All-padding lists give 0.
 * - Why random ties matter: with binary relevance almost every item ties at label 0, and a fixed
 *   order of those ties makes most of the likelihood a target to rank the negatives by their
 *   index, which the model then learns instead of retrieval (measured: chance-level retrieval on
 *   the default dataset with `ties: index`). A random order per call leaves the negatives' order
 *   without a consistent target, as in allRank. The order is a seeded affine permutation of each
 *   tie class (`tie_slot` in `kernels/losses.wgsl`), reproducible from `seed`; with the call
 *   counter a whole run is reproducible, but a resumed run draws different tie orders than an
 *   uninterrupted one.
 *
 * @module
 */

import { LISTMLE } from "../gpu/kernels.ts";
import { Tensor } from "../autodiff/tensor.ts";
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
import type { LossOptions } from "./types.ts";

let calls = 0;

/** The tie seed of one call: `seed` if set, else the next value of the per-process counter. */
function tieSeed(options: LossOptions): number {
  if (options.ties === "index") return 0;
  const seed = Number(options.seed);
  if (seed !== 0) return seed >>> 0 || 1;
  calls = (calls % 0xfffffffe) + 1;
  return calls;
}

/** Records the `listmle` loss of `[lists, n]` scores and labels; see the module docs. */
export function listMleLoss(scores: Tensor, labels: Tensor, seed = 0): Tensor {
  const [lists, n] = checkLossInputs("listmle", scores, labels);
  const { entries, info } = sortLabels(scores, labels, seed);
  const perList = new Tensor([lists, 2], { label: "listmle lists" });
  const tails = new Tensor([lists, n], { label: "listmle tail sums" });
  launch(LISTMLE, "listmle_fwd", "list", scores, labels, {
    ent: entries,
    info,
    o: perList,
    o2: tails,
  });
  const { loss, den } = finish(scores, labels, perList, Reduction.meanLists, "listmle");
  perList.dispose();
  return attach(
    "listmle",
    loss,
    scores,
    labels,
    [entries, info, tails, den],
    (g) =>
      gradLaunch(LISTMLE, "listmle_bwd", "list", scores, labels, {
        ent: entries,
        info,
        wa: tails,
        g,
        den,
      }),
  );
}

registerLoss({
  name: "listmle",
  summary: "allRank listMLE: Plackett-Luce likelihood of the label order (ties in random order)",
  defaults: { ties: "random", seed: 0 },
  choices: { ties: ["random", "index"] },
  forward: (scores, labels, options) => listMleLoss(scores, labels, tieSeed(options)),
});
