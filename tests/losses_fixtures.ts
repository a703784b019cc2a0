/**
 * Shared fixtures of the ranking-loss tests: the loss configurations under test, seeded random
 * lists, and a packed readback of many `[1]` loss tensors.
 *
 * @module
 */

import { rng } from "./util.ts";
import { rt } from "../src/gpu/runtime.ts";
import { Tensor } from "../src/autodiff/tensor.ts";

/** One loss with one set of options. */
export interface LossCase {
  name: string;
  options: Record<string, unknown>;
}

/** Every loss of `kernels/losses.wgsl`, with each scheme and variant. */
export const CASES: LossCase[] = [
  { name: "softmax", options: {} },
  { name: "listnet", options: {} },
  { name: "cmpm", options: {} },
  { name: "hinge", options: {} },
  { name: "hinge", options: { maxViolation: true, margin: 0.5 } },
  { name: "ranknet", options: {} },
  { name: "ranknet", options: { weighting: "gtDiff" } },
  { name: "ranknet", options: { weighting: "gtDiffPow" } },
  { name: "lambdaloss", options: { scheme: "ndcgLoss1" } },
  { name: "lambdaloss", options: { scheme: "ndcgLoss2" } },
  { name: "lambdaloss", options: { scheme: "lambdaRank" } },
  { name: "lambdaloss", options: { scheme: "ndcgLoss2PP" } },
  { name: "lambdaloss", options: { scheme: "rankNet", log: "natural" } },
  {
    name: "lambdaloss",
    options: { scheme: "ndcgLoss2PP", k: 3, reduction: "mean", sigma: 2, mu: 5 },
  },
  { name: "lambdaloss", options: { scheme: "ndcgLoss1", k: 2, log: "natural" } },
  { name: "listmle", options: { ties: "index" } },
  { name: "listmle", options: { seed: 12345 } },
  { name: "approxndcg", options: {} },
  { name: "approxndcg", options: { alpha: 3 } },
  { name: "smoothap", options: {} },
  { name: "smoothap", options: { temperature: 0.5 } },
];

/** `name {options}` for messages. */
export function caseName(c: LossCase): string {
  return Object.keys(c.options).length ? `${c.name} ${JSON.stringify(c.options)}` : c.name;
}

/** How {@link randomLists} draws labels. */
export interface ListKind {
  /** Integer grades 0…3 instead of 0/1. */
  graded?: boolean;
  /** Probability of a padded item (label −1). */
  padding?: number;
  /** Standard deviation of the scores. */
  scale?: number;
}

/** Seeded `[lists][n]` scores (normal, float32, tie-free in practice) and labels. */
export function randomLists(
  lists: number,
  n: number,
  seed: number,
  { graded = false, padding = 0, scale = 1 }: ListKind = {},
): { scores: number[][]; labels: number[][] } {
  const u = rng(seed);
  const normal = () =>
    Math.fround(Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()) * scale);
  const scores = Array.from({ length: lists }, () => Array.from({ length: n }, normal));
  const labels = Array.from({ length: lists }, () =>
    Array.from({ length: n }, () => {
      if (u() < padding) return -1;
      return graded ? Math.floor(u() * 4) : (u() < 0.3 ? 1 : 0);
    }));
  return { scores, labels };
}

/** Row-major flattening. */
export function flat(rows: number[][]): number[] {
  return rows.flat();
}

/** Splits a flat array into rows of `n`. */
export function toRows(values: ArrayLike<number>, n: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < values.length; i += n) out.push(Array.from(values).slice(i, i + n));
  return out;
}

/** Reads many small tensors with one GPU wait; returns their values concatenated. */
export async function readAll(tensors: Tensor[]): Promise<Float32Array> {
  const total = tensors.reduce((a, t) => a + t.size, 0);
  const packed = new Tensor([total], { label: "packed readback" });
  let offset = 0;
  for (const t of tensors) {
    rt().copy(t.buffer, 0, packed.buffer, offset * 4, t.bytes);
    offset += t.size;
  }
  try {
    return await packed.read();
  } finally {
    packed.dispose();
  }
}
