/**
 * What every ranking loss provides: a GPU forward joined to the autodiff tape. (Its float64 CPU
 * twin, the test oracle, is `src/reference/<loss>.ts`, reached only from tests and benches.)
 *
 * A *list* is one query's candidates: a row of scores and a row of labels (graded relevance ≥ 0,
 * −1 marks padding, as in allRank). Losses take `[lists, n]` tensors and return a one-element
 * tensor; its backward rule gives d loss / d scores (zero at padded positions).
 *
 * @module
 */

import type { Tensor } from "../autodiff/tensor.ts";

/** An option value: every loss option is a number, a boolean or one of a fixed set of strings. */
export type LossOptionValue = number | boolean | string;

/** Resolved options of a loss (defaults filled in). */
export type LossOptions = Record<string, LossOptionValue>;

/** One registered ranking loss. */
export interface LossDefinition {
  /** Registry name (`softmax`, `lambdaloss`, …). */
  name: string;
  /** One line for `--help` and docs, including the allRank name where it follows allRank. */
  summary: string;
  /** Every option with its default; keys not listed here are rejected. */
  defaults: LossOptions;
  /** For string options, the allowed values. */
  choices?: Record<string, readonly string[]>;
  /**
   * What scores the loss is defined on, for training: `logits` (default) — similarities multiplied
   * by the learned temperature's scale, as softmax-type losses expect — or `cosine` — raw cosine
   * similarities in [−1, 1], for losses whose constants are in cosine units (the VSE++ margin 0.2,
   * Smooth-AP's sigmoid temperature 0.01). The losses themselves take whatever scores they are
   * given; the trainer applies this.
   */
  scores?: "logits" | "cosine";
  /**
   * For a loss that draws random numbers: its options for one training step, given a u32 seed the
   * trainer derives from the run's seed and the step (so a resumed run draws what an uninterrupted
   * one would). Absent: the options are used as they are.
   */
  stepOptions?(options: LossOptions, stepSeed: number): LossOptions;
  /**
   * Records the loss on the GPU. `scores` and `labels` are `[lists, n]`; labels −1 mark padding.
   * Returns a `[1]` tensor whose backward rule yields d loss / d scores (labels get no gradient).
   */
  forward(scores: Tensor, labels: Tensor, options: LossOptions): Tensor;
  /**
   * Optional: both directions in one go, `½ loss(S, Y) + ½ loss(Sᵀ, Yᵀ)` on `[R, C]` scores and
   * labels, with the gradient bits of that two-call form (the trainer's in-batch loss). Absent: the
   * trainer records the two calls and a transpose.
   */
  bothWays?(scores: Tensor, labels: Tensor, options: LossOptions): Tensor;
}
