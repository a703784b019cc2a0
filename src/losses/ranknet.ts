/**
 * `ranknet` — allRank's `rankNet`: binary cross-entropy with logits over the pairs of a list whose
 * labels differ.
 *
 * For every pair of valid items (i, j) of a list with y_i > y_j: w_ij · log(1 + exp(−(s_i − s_j)))
 * (BCE with logit s_i − s_j and target 1). Weights (option `weighting`): `none` → 1; `gtDiff` →
 * |y_i − y_j| (allRank `rankNet_weightByGTDiff`); `gtDiffPow` → |y_i² − y_j²|
 * (`rankNet_weightByGTDiff_pow`).
 *
 * - Options: `weighting` (`none`).
 * - Reduction: mean over all selected pairs of the batch (as `BCEWithLogitsLoss`: divided by the
 *   pair count, not by the weight sum).
 * - Padding (label −1): in no pair; zero gradient.
 * - Lists with all-equal labels have no pairs and contribute nothing.
 * - Difference from allRank: a batch with no pair at all gives 0 (allRank returns NaN).
 *
 * @module
 */

import { RANKNET, RANKNET_WEIGHTINGS, type RankNetWeighting } from "../gpu/kernels.ts";
import { Tensor } from "../autodiff/tensor.ts";
import type { LossDefinition, LossOptions } from "./types.ts";
import {
  attach,
  checkLossInputs,
  finish,
  gradLaunch,
  launch,
  reduceItems,
  Reduction,
  sortLabels,
} from "./launch.ts";
import { registerLoss, resolveOptions } from "./registry.ts";

/** Records the `ranknet` loss of `[lists, n]` scores and labels; see the module docs. */
export function rankNetLoss(
  scores: Tensor,
  labels: Tensor,
  weighting: RankNetWeighting = "none",
): Tensor {
  const [lists, n] = checkLossInputs("ranknet", scores, labels);
  const params = { mode: RANKNET_WEIGHTINGS.indexOf(weighting) };
  const { entries, info } = sortLabels(scores, labels);
  const items = new Tensor([lists, n, 2], { label: "ranknet items" });
  launch(RANKNET, "ranknet_fwd", "item", scores, labels, { ent: entries, info, o: items }, params);
  const perList = reduceItems(scores, labels, items);
  const { loss, den } = finish(scores, labels, perList, Reduction.meanCount, "ranknet");
  items.dispose();
  perList.dispose();
  return attach(
    "ranknet",
    loss,
    scores,
    labels,
    [entries, info, den],
    (g) =>
      gradLaunch(
        RANKNET,
        "ranknet_bwd",
        "item",
        scores,
        labels,
        { ent: entries, info, g, den },
        params,
      ),
  );
}

const definition: LossDefinition = {
  name: "ranknet",
  summary: "allRank rankNet: BCE-with-logits over pairs with y_i > y_j, mean over pairs",
  defaults: { weighting: "none" },
  choices: { weighting: RANKNET_WEIGHTINGS },
  forward: (scores, labels, options) => rankNetLoss(scores, labels, weightingOf(options)),
};

/** The `weighting` option. */
export function weightingOf(options: LossOptions): RankNetWeighting {
  return resolveOptions(definition, options).weighting as RankNetWeighting;
}

registerLoss(definition);
