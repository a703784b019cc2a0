/**
 * `hinge` — the VSE++ triplet hinge (Faghri et al. 2018) over the (relevant, non-relevant) pairs of
 * each list.
 *
 * Per list: relevant items i (label > 0) and non-relevant valid items j (label 0); graded labels
 * are binarised this way (every grade ≥ 1 is relevant, and two relevant items of different grades
 * form no pair);
 * - `maxViolation: false` (default): loss = Σ_i Σ_j max(0, margin − s_i + s_j);
 * - `maxViolation: true`: loss = Σ_i max(0, margin − s_i + max_j s_j) (the hardest negative).
 *
 * - Options: `margin` (0.2), `maxViolation` (false).
 * - Reduction: mean over all lists (VSE++ sums over the batch; the mean keeps the scale independent
 *   of the batch size).
 * - Padding (label −1): neither relevant nor negative; zero gradient.
 * - A list without a relevant or without a non-relevant item contributes 0.
 * - Gradient: a subgradient; a hinge exactly at 0 counts as inactive, and among tied hardest
 *   negatives the one with the lowest index takes the gradient.
 * - Not in allRank.
 *
 * @module
 */

import { HINGE } from "../gpu/kernels.ts";
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

/** Options of {@link hingeLoss}. */
export interface HingeOptions {
  /** Triplet margin. Default 0.2. */
  margin: number;
  /** Use only the hardest negative per relevant item. Default false. */
  maxViolation: boolean;
}

/** Records the `hinge` loss of `[lists, n]` scores and labels; see the module docs. */
export function hingeLoss(scores: Tensor, labels: Tensor, options: HingeOptions): Tensor {
  const [lists, n] = checkLossInputs("hinge", scores, labels);
  const params = { mode: options.maxViolation ? 1 : 0, f0: options.margin };
  const { entries, info } = sortLabels(scores, labels);
  const items = new Tensor([lists, n, 2], { label: "hinge items" });
  launch(HINGE, "hinge_fwd", "item", scores, labels, { ent: entries, info, o: items }, params);
  const perList = reduceItems(scores, labels, items);
  const { loss, den } = finish(scores, labels, perList, Reduction.meanLists, "hinge");
  items.dispose();
  perList.dispose();
  return attach(
    "hinge",
    loss,
    scores,
    labels,
    [entries, info, den],
    (g) =>
      gradLaunch(
        HINGE,
        "hinge_bwd",
        "item",
        scores,
        labels,
        { ent: entries, info, g, den },
        params,
      ),
  );
}

const definition: LossDefinition = {
  name: "hinge",
  scores: "cosine",
  summary: "VSE++ triplet hinge over (relevant, non-relevant) pairs; sum or hardest negative",
  defaults: { margin: 0.2, maxViolation: false },
  forward: (scores, labels, options) => hingeLoss(scores, labels, hingeOptions(options)),
};

/** The hinge options of resolved loss options. */
export function hingeOptions(options: LossOptions): HingeOptions {
  const o = resolveOptions(definition, options);
  return { margin: o.margin as number, maxViolation: o.maxViolation as boolean };
}

registerLoss(definition);
