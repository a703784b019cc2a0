/**
 * `recallk` — the Recall@k surrogate (Patel, Tolias, Matas, "Recall@k Surrogate Loss with Large
 * Batches and Similarity Mixup", CVPR 2022; reference code yash0307/RecallatK_surrogate).
 *
 * Per list with relevant items P (label > 0; graded labels count as relevant, not by grade) among
 * its valid items Ω, with σ the sigmoid:
 * - smoothed rank of x ∈ P: r(x) = 1 + Σ_{z∈Ω, z≠x} σ((s_z − s_x) / τ1);
 * - smoothed recall at k: RS@k = min(Σ_{x∈P} σ((k′ − r(x)) / τ2), k′) / min(k′, |P|), where
 *   k′ = min(k, |Ω|) (the reference code caps k at the batch size and clamps the numerator at k,
 *   so RS@k ≤ 1; where the clamp is active its gradient is 0, as in PyTorch's `minimum`);
 * - list loss = 1 − mean over k ∈ K of RS@k.
 *
 * - Options: `ks` the cutoffs K as a comma-separated string (`"1,2,4,8,16"`, the paper's; at most
 *   16 positive integers), `tau1` (0.01, the paper's rank temperature) and `tau2` (1, the paper's
 *   recall temperature). τ1 is in cosine units: the trainer feeds this loss raw cosine similarities
 *   in [−1, 1] (`scores: "cosine"`, like `hinge` and `smoothap`), not the logit-scaled ones.
 * - Reduction: mean over the lists that have at least one relevant item (lists without one are
 *   skipped; a batch without any gives 0).
 * - Padding (label −1): outside Ω (padding equals deleting the item); zero gradient.
 * - SiMix (the paper's similarity mixup) is a training option (`--simix`, `./simix.ts`), not an
 *   option of the loss.
 * - Not in allRank.
 *
 * @module
 */

import { RECALLK } from "../gpu/kernels.ts";
import { Tensor } from "../autodiff/tensor.ts";
import { checkLoops } from "../ops/common.ts";
import type { LossDefinition, LossOptions } from "./types.ts";
import {
  attach,
  checkLossInputs,
  finish,
  gradLaunch,
  launch,
  positiveOption,
  Reduction,
  sortLabels,
} from "./launch.ts";
import { registerLoss, resolveOptions } from "./registry.ts";

/** Resolved `recallk` options. */
export interface RecallKOptions {
  /** The cutoffs K (positive integers, at most 16 of them). */
  ks: number[];
  /** Rank sigmoid temperature τ1. */
  tau1: number;
  /** Recall sigmoid temperature τ2. */
  tau2: number;
}

/** Most cutoffs one `recallk` loss takes. */
export const RECALLK_MAX_CUTOFFS: number = RECALLK.constants.RK_MAX_K;

/** Records the `recallk` loss of `[lists, n]` scores and labels; see the module docs. */
export function recallKLoss(scores: Tensor, labels: Tensor, options: RecallKOptions): Tensor {
  const [lists, n] = checkLossInputs("recallk", scores, labels);
  const { ks, tau1, tau2 } = options;
  // recallk_list walks a list once, then its relevant items twice per cutoff (and a loop's entry
  // counts as an iteration on llvmpipe): at most n · (3 + 2 · cutoffs).
  checkLoops(
    "loss 'recallk'",
    scores,
    n * (3 + 2 * ks.length),
    `one list of ${n} items and ${ks.length} cutoffs`,
  );
  const params = { f0: tau1, f1: tau2, k: ks.length };
  const { entries, info } = sortLabels(scores, labels);
  const cutoffs = Tensor.from(Float32Array.from(ks), [ks.length], { label: "recallk cutoffs" });
  const ranks = new Tensor([lists, n], { label: "recallk soft ranks" });
  launch(RECALLK, "recallk_rank", "item", scores, labels, { ent: entries, info, o: ranks }, params);
  const perList = new Tensor([lists, 2], { label: "recallk list losses" });
  const coef = new Tensor([lists, n], { label: "recallk d loss / d rank" });
  launch(RECALLK, "recallk_list", "list", scores, labels, {
    wa: ranks,
    wb: cutoffs,
    info,
    o: perList,
    o2: coef,
  }, params);
  const { loss, den } = finish(scores, labels, perList, Reduction.meanCount, "recallk");
  ranks.dispose();
  cutoffs.dispose();
  perList.dispose();
  return attach(
    "recallk",
    loss,
    scores,
    labels,
    [entries, info, coef, den],
    (g) =>
      gradLaunch(RECALLK, "recallk_bwd", "item", scores, labels, {
        ent: entries,
        info,
        wa: coef,
        g,
        den,
      }, params),
  );
}

const definition: LossDefinition = {
  name: "recallk",
  scores: "cosine",
  summary:
    "Recall@k surrogate (Patel et al. 2022): 1 − mean over K of smoothed recall, K 1,2,4,8,16, " +
    "tau1 0.01, tau2 1",
  defaults: { ks: "1,2,4,8,16", tau1: 0.01, tau2: 1 },
  forward: (scores, labels, options) => recallKLoss(scores, labels, recallKOptions(options)),
};

/** The `recallk` options, resolved and checked (`ks` parsed into integers). */
export function recallKOptions(options: LossOptions): RecallKOptions {
  const o = resolveOptions(definition, options);
  const text = String(o.ks).trim();
  const ks = text.split(",").map((v) => v.trim()).filter((v) => v !== "").map(Number);
  if (
    ks.length === 0 || ks.length > RECALLK_MAX_CUTOFFS ||
    !ks.every((k) => Number.isInteger(k) && k >= 1)
  ) {
    throw new RangeError(
      `loss 'recallk': option 'ks' must be 1 to ${RECALLK_MAX_CUTOFFS} comma-separated ` +
        `integers ≥ 1, got '${o.ks}'`,
    );
  }
  return {
    ks,
    tau1: positiveOption("recallk", "tau1", o.tau1 as number),
    tau2: positiveOption("recallk", "tau2", o.tau2 as number),
  };
}

registerLoss(definition);
