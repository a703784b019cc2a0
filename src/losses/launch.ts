/**
 * Plumbing shared by the ranking losses: launching a loss kernel (`kernels/<loss>.wgsl`, declared
 * in `src/gpu/kernels.ts` with the shared loss bindings), the label order and the batch reductions
 * of `kernels/losses.wgsl` (`sort_labels`, `reduce_items`, `finish`), and joining a loss to the
 * autodiff tape.
 *
 * Every loss records: its forward kernels → per-list pairs `(loss, count)` → `finish`, which writes
 * the loss `[1]` and the reduction's denominator `[1]`. The backward kernel reads the upstream
 * gradient and that denominator from GPU memory, so nothing is read back.
 *
 * @module
 */

import type { BindingArgs, EntryOf, Kernel, KernelDecl, ParamArgs } from "../gpu/declare.ts";
import { type LOSS_BINDINGS, type LOSS_PARAMS, LOSSES } from "../gpu/kernels.ts";
import { groups1d, MAX_GROUPS } from "../gpu/runtime.ts";
import { record } from "../autodiff/tape.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { dims2, MAX_LOOP_ITERATIONS, sameShape } from "../ops/common.ts";

/** A ranking-loss kernel: declared with the shared loss bindings and parameters. */
export type LossKernel<D extends KernelDecl> = Kernel<
  D & { bindings: typeof LOSS_BINDINGS; params: typeof LOSS_PARAMS }
>;

/** The buffers one launch binds besides the scores and labels (unset ones are dummies). */
export type LossBindings = Omit<BindingArgs<typeof LOSS_BINDINGS>, "s" | "y">;

/** Uniform parameters of a loss launch besides the shape; `k` defaults to n. */
export type LossParams = Omit<ParamArgs<typeof LOSS_PARAMS>, "lists" | "n">;

/** How many invocations a launch has: one per list, per item, or a single one. */
export type Grain = "list" | "item" | "one";

/** Records one dispatch of `entry` of a loss kernel over `[lists, n]` scores and labels. */
export function launch<D extends KernelDecl>(
  kernel: LossKernel<D>,
  entry: EntryOf<D>,
  grain: Grain,
  scores: Tensor,
  labels: Tensor,
  bindings: LossBindings,
  params: LossParams = {},
): void {
  const [lists, n] = scores.shape;
  const all = { ...bindings, s: scores, y: labels } as BindingArgs<
    LossKernel<D>["decl"]["bindings"]
  >;
  kernel.dispatch(entry, all, { lists, n, k: n, ...params }, workgroups(grain, lists, n));
}

/** Items one invocation of a per-item kernel owns (the lanes of its vec4 values). */
export const ITEMS_PER_INVOCATION = 4;

/**
 * Workgroups of a launch: per list, `ceil(lists / 64)` over x (and y); per item, `ceil(n / 256)`
 * over x (64 invocations of 4 items) and the lists over y (and z beyond 65535), so a workgroup
 * never straddles two lists.
 */
function workgroups(grain: Grain, lists: number, n: number): [number, number, number] {
  if (grain === "one") return [1, 1, 1];
  if (grain === "list") return [...groups1d(Math.ceil(lists / 64)), 1];
  const z = Math.ceil(lists / MAX_GROUPS);
  return [Math.ceil(n / (64 * ITEMS_PER_INVOCATION)), Math.ceil(lists / z), z];
}

/**
 * The label order of every list (`sort_labels`): `entries` `[lists, n, 4]` holds
 * `(score, label, item index, 0)` with relevant items first (by descending label), then label-0
 * items, then padding by index; `info` `[lists, 4]` holds the counts
 * `(relevant, valid, position of the first highest-scored label-0 item or −1, 0)`. Ties (equal
 * labels) are in index order when `tieSeed` is 0, else in an order seeded by it.
 */
export function sortLabels(
  scores: Tensor,
  labels: Tensor,
  tieSeed = 0,
): { entries: Tensor; info: Tensor } {
  const [lists, n] = scores.shape;
  const entries = new Tensor([lists, n, 4], { label: "label order" });
  const info = new Tensor([lists, 4], { label: "label order counts" });
  const scratch = new Tensor([lists, n, 4], { label: "label sort scratch" });
  const outputs = { o: entries, o2: info, o3: scratch };
  launch(LOSSES, "sort_labels", "list", scores, labels, outputs, { mode: tieSeed >>> 0 });
  scratch.dispose();
  return { entries, info };
}

/** How `finish` reduces the per-list losses. */
export const Reduction = {
  /** Mean over all lists (allRank's `torch.mean` over the batch). */
  meanLists: 0,
  /** Plain sum. */
  sum: 1,
  /** Sum of losses divided by the sum of counts (pairs, or lists that count); 0 when none. */
  meanCount: 2,
} as const;

/** Per-list sums of per-item `(value, count)` pairs; `mode` 1 is Smooth-AP's list step. */
export function reduceItems(
  scores: Tensor,
  labels: Tensor,
  items: Tensor,
  mode: 0 | 1 = 0,
): Tensor {
  const out = new Tensor([scores.shape[0], 2], { label: "loss list sums" });
  launch(LOSSES, "reduce_items", "list", scores, labels, { wa: items, o: out }, { mode });
  return out;
}

/** The loss `[1]` and its denominator `[1]` from per-list `(loss, count)` pairs. */
export function finish(
  scores: Tensor,
  labels: Tensor,
  perList: Tensor,
  reduction: number,
  name: string,
): { loss: Tensor; den: Tensor } {
  const loss = new Tensor([1], { label: `${name} loss` });
  const den = new Tensor([1], { label: `${name} denominator` });
  launch(LOSSES, "finish", "one", scores, labels, { wb: perList, o: loss, o2: den }, {
    mode: reduction,
  });
  return { loss, den };
}

/**
 * Checks that scores and labels are equal non-empty `[lists, n]` matrices. Returns `[lists, n]`.
 */
export function checkLossInputs(name: string, scores: Tensor, labels: Tensor): [number, number] {
  const [lists, n] = dims2(scores, `loss '${name}' scores`);
  dims2(labels, `loss '${name}' labels`);
  sameShape(scores, labels, `loss '${name}'`);
  if (lists === 0 || n === 0) {
    throw new RangeError(`loss '${name}': empty input, scores ${shapeString(scores.shape)}`);
  }
  const limit = `llvmpipe stops an invocation's loops after ${MAX_LOOP_ITERATIONS - 1} ` +
    "iterations and returns a wrong result without an error";
  if (n > MAX_LIST_ITEMS) {
    throw new RangeError(
      `loss '${name}': lists of ${n} items (scores ${shapeString(scores.shape)}) are longer ` +
        `than the ${MAX_LIST_ITEMS} one invocation can put in label order (${limit}); ` +
        "use shorter lists (a smaller --batch or --captions-per-image in training)",
    );
  }
  if (lists >= MAX_LOOP_ITERATIONS) {
    throw new RangeError(
      `loss '${name}': ${lists} lists (scores ${shapeString(scores.shape)}) are more than the ` +
        `${MAX_LOOP_ITERATIONS - 1} the batch reduction sums in one invocation (${limit})`,
    );
  }
  return [lists, n];
}

/**
 * The longest list a loss takes. Every loss puts each list in label order in one invocation
 * (`sort_labels`: two partition passes and a bottom-up merge sort of the relevant items,
 * ⌈log₂ n⌉ passes), and llvmpipe stops an invocation's loops after 65534 iterations
 * ({@link MAX_LOOP_ITERATIONS}) with a wrong order and no error. Measured on all-relevant lists:
 * 3100 items sorted right, 3200 did not; the cap is the largest n with
 * n · (⌈log₂ n⌉ + 10) < 65535. In-batch lists are the batch's texts or images (256 by default).
 */
export const MAX_LIST_ITEMS = 2978;

/**
 * Links `loss` to `scores` on the tape with the backward rule `grad(g)` (labels get no gradient).
 * `saved` are forward tensors the rule reads; when no gradient is recorded they are disposed now.
 */
export function attach(
  name: string,
  loss: Tensor,
  scores: Tensor,
  labels: Tensor,
  saved: Tensor[],
  grad: (g: Tensor) => Tensor,
): Tensor {
  record(loss, name, [scores, labels], (g) => [grad(g), null]);
  if (!loss.creator) { for (const t of saved) t.dispose(); }
  return loss;
}

/** A gradient tensor shaped like `scores`, filled by one backward launch. */
export function gradLaunch<D extends KernelDecl>(
  kernel: LossKernel<D>,
  entry: EntryOf<D>,
  grain: Grain,
  scores: Tensor,
  labels: Tensor,
  bindings: Omit<LossBindings, "o">,
  params: LossParams = {},
): Tensor {
  const out = new Tensor(scores.shape, { label: `d ${entry}` });
  launch(kernel, entry, grain, scores, labels, { ...bindings, o: out }, params);
  return out;
}

/** Reads an integer option ≥ `min`, throwing a message naming the loss and option. */
export function intOption(name: string, key: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `loss '${name}': option '${key}' must be an integer ≥ ${min}, got ${value}`,
    );
  }
  return value;
}

/** Reads a real option > 0 (or ≥ 0 with `allowZero`), throwing a message naming it. */
export function positiveOption(
  name: string,
  key: string,
  value: number,
  allowZero = false,
): number {
  if (!(allowZero ? value >= 0 : value > 0)) {
    throw new RangeError(
      `loss '${name}': option '${key}' must be ${allowZero ? "≥ 0" : "> 0"}, got ${value}`,
    );
  }
  return value;
}
