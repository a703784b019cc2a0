/**
 * Reverse-mode autodiff over GPU tensors.
 *
 * Each differentiable op records a {@link Creator} on its output (inputs + backward rule). {@link
 * backward} orders the graph behind a scalar topologically and runs the rules in reverse,
 * summing the gradients of tensors used more than once. Leaves (parameters) receive `.grad`.
 * Everything is recorded into the open GPU batch; nothing is read back.
 *
 * @module
 */

import { ELEMENTWISE } from "../gpu/kernels.ts";
import { rt } from "../gpu/runtime.ts";
import { type Creator, keep, Tensor } from "./tensor.ts";

let gradEnabled = true;

/** Whether ops currently record their creators. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs `fn` with gradient recording off (evaluation, optimiser updates, backward rules).
 *
 * @example
 * ```ts
 * import { noGrad } from "./tape.ts";
 * const y = noGrad(() => 1 + 1);
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  const saved = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = saved;
  }
}

/**
 * Links `output` to its inputs when any of them requires a gradient and recording is on. Ops call
 * this once after computing their output; returns the output.
 */
export function record(
  output: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backward: Creator["backward"],
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    output.creator = { op, inputs, backward };
  }
  return output;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS (graphs of deep MLPs or long loss chains must not overflow the stack).
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.creator?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order;
}

/** Options for {@link backward}. */
export interface BackwardOptions {
  /** d loss / d root; default ones (the root is usually a scalar loss). */
  grad?: Tensor;
}

/**
 * Computes gradients of `root` with respect to every leaf that requires them, adding into each
 * leaf's `.grad` (leaf grads are kept beyond the current scope; dispose them with
 * {@link zeroGrad}).
 *
 * @example
 * ```ts
 * import { backward } from "./tape.ts";
 * import { Tensor } from "./tensor.ts";
 * import { mul } from "../ops/elementwise.ts";
 * import { sumAll } from "../ops/reduce.ts";
 * const w = Tensor.param([1, 2, 3], [3]);
 * backward(sumAll(mul(w, w))); // w.grad = 2w
 * ```
 */
export function backward(root: Tensor, options: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new Error(`backward: ${root.label} does not depend on any tensor that requires grad`);
  }
  const seed = options.grad ?? Tensor.full(root.shape, 1, { label: "grad seed" });
  if (seed.size !== root.size) {
    throw new RangeError(`backward: seed of ${seed.size} elements for a root of ${root.size}`);
  }
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  const order = topoOrder(root);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (!t.creator) {
        // Leaf grads are fresh tensors (never aliases of another gradient) kept past the scope.
        const next = t.grad ? addGrad(t.grad, g) : copyOf(g);
        t.grad?.dispose();
        t.grad = keep(next);
        continue;
      }
      const inputGrads = t.creator.backward(g);
      t.creator.inputs.forEach((input, k) => {
        const ig = inputGrads[k];
        if (!ig || !input.requiresGrad) return;
        if (ig.size !== input.size) {
          throw new Error(
            `backward of ${t.creator!.op}: gradient for input ${k} has ${ig.size} elements, ` +
              `input has ${input.size}`,
          );
        }
        const prev = grads.get(input);
        grads.set(input, prev ? addGrad(prev, ig) : ig);
      });
    }
  });
}

/** `a + b` as a new tensor: how gradients of a tensor used more than once are summed. */
function addGrad(a: Tensor, b: Tensor): Tensor {
  const out = new Tensor(a.shape, { label: "grad" });
  ELEMENTWISE.launch("axpby", { a, b, out }, { n: out.size, alpha: 1, beta: 1 }, out.size);
  return out;
}

/** A copy of `a`: a leaf's first gradient (never an alias of another gradient). */
function copyOf(a: Tensor): Tensor {
  const out = new Tensor(a.shape, { label: "grad" });
  rt().copy(a.buffer, 0, out.buffer, 0, a.bytes);
  return out;
}

/** Disposes and clears the `.grad` of each tensor. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}
