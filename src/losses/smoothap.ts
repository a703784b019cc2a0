/**
 * `smoothap` — Smooth-AP (Brown et al., "Smooth-AP: Smoothing the Path Towards Large-Scale Image
 * Retrieval", ECCV 2020).
 *
 * Per list with relevant items P (label > 0; graded labels count as relevant, not by grade) among
 * its valid items Ω, with σ_τ(x) = sigmoid(x / τ):
 * AP = (1/|P|) Σ_{i∈P} (1 + Σ_{j∈P, j≠i} σ_τ(s_j − s_i)) / (1 + Σ_{j∈Ω, j≠i} σ_τ(s_j − s_i)).
 *
 * - Options: `temperature` τ (0.01, the paper's value).
 * - Reduction: loss = 1 − mean AP over the lists that have at least one relevant item (lists
 *   without one are skipped; a batch without any gives 0).
 * - Padding (label −1): outside Ω; zero gradient.
 * - Not in allRank.
 *
 * @module
 */

import { SMOOTHAP } from "../gpu/kernels.ts";
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

/** Records the `smoothap` loss of `[lists, n]` scores and labels; see the module docs. */
export function smoothApLoss(scores: Tensor, labels: Tensor, temperature = 0.01): Tensor {
  const [lists, n] = checkLossInputs("smoothap", scores, labels);
  const params = { f0: temperature };
  const { entries, info } = sortLabels(scores, labels);
  const items = new Tensor([lists, n, 2], { label: "smoothap items" });
  const ranks = new Tensor([lists, n, 2], { label: "smoothap soft ranks" });
  launch(SMOOTHAP, "smoothap_fwd", "item", scores, labels, {
    ent: entries,
    info,
    o: items,
    o2: ranks,
  }, params);
  const perList = reduceItems(scores, labels, items, 1);
  const { loss, den } = finish(scores, labels, perList, Reduction.meanCount, "smoothap");
  items.dispose();
  perList.dispose();
  const bindings = { ent: entries, info, wa: ranks };
  return attach(
    "smoothap",
    loss,
    scores,
    labels,
    [entries, info, ranks, den],
    (g) =>
      gradLaunch(SMOOTHAP, "smoothap_bwd", "item", scores, labels, { ...bindings, g, den }, params),
  );
}

const definition: LossDefinition = {
  name: "smoothap",
  scores: "cosine",
  summary: "Smooth-AP (Brown et al. 2020): 1 − mean sigmoid-smoothed AP, temperature 0.01",
  defaults: { temperature: 0.01 },
  forward: (scores, labels, options) => smoothApLoss(scores, labels, temperatureOf(options)),
};

/** The `temperature` option, checked. */
export function temperatureOf(options: LossOptions): number {
  const t = resolveOptions(definition, options).temperature as number;
  return positiveOption("smoothap", "temperature", t);
}

registerLoss(definition);
