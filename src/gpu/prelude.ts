/**
 * The WGSL prelude: the constants shared by kernels and TypeScript, declared once here, and the
 * shared functions of `kernels/prelude.wgsl`. Every kernel module starts with {@link preludeSource}
 * (see `./declare.ts`), and TypeScript reads the same values from {@link PRELUDE}.
 *
 * @example
 * ```ts
 * import { PRELUDE, preludeSource } from "./prelude.ts";
 * PRELUDE.EPS; // 1e-10, the `EPS` of every kernel
 * preludeSource().includes("const EPS: f32 = 1e-10;"); // true
 * ```
 *
 * @module
 */

import { wgslFile } from "./kernel.ts";

/** A WGSL scalar type of constants and uniform parameters. */
export type Scalar = "u32" | "i32" | "f32";

/** A declared WGSL constant: its type and value. */
export interface Constant {
  /** WGSL type. */
  readonly type: Scalar;
  /** Value (an integer for `u32` and `i32`). */
  readonly value: number;
}

/** A `u32` constant. */
export function u32(value: number): Constant {
  return { type: "u32", value };
}

/** An `f32` constant. */
export function f32(value: number): Constant {
  return { type: "f32", value };
}

/** The plain values of declared constants. */
export type Values<C> = { readonly [K in keyof C]: number };

/** The values of `constants`, for TypeScript. */
export function valuesOf<C extends Readonly<Record<string, Constant>>>(constants: C): Values<C> {
  return Object.fromEntries(Object.entries(constants).map(([k, c]) => [k, c.value])) as Values<C>;
}

/** A WGSL literal of `value` as `type` (throws on a value the type cannot hold). */
export function wgslLiteral(type: Scalar, value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`WGSL ${type} literal: ${value} is not finite`);
  if (type === "f32") {
    return String(value).includes(".") || /e/.test(String(value)) ? String(value) : `${value}.0`;
  }
  if (!Number.isInteger(value) || (type === "u32" && value < 0)) {
    throw new RangeError(`WGSL ${type} literal: ${value} is not a ${type}`);
  }
  return `${value}${type === "u32" ? "u" : "i"}`;
}

/** `const NAME: type = value;` lines. */
export function constantLines(constants: Readonly<Record<string, Constant>>): string[] {
  return Object.entries(constants).map(([name, c]) =>
    `const ${name}: ${c.type} = ${wgslLiteral(c.type, c.value)};`
  );
}

const DECLARED = {
  /** Largest finite f32. */
  F32_MAX: f32(3.4028234663852886e38),
  /** allRank's `DEFAULT_EPS`: log and division guards of the losses, Sinkhorn's sum clamp. */
  EPS: f32(1e-10),
  /** `ln(EPS)`. */
  LOG_EPS: f32(Math.log(1e-10)),
  /** `ln 2`. */
  LN2: f32(Math.LN2),
  /** Norm floor of row L2 normalisation (training and retrieval). */
  NORM_EPS: f32(1e-12),
  /** NeuralSort: bound on `|s/τ|·n` (scores divided by τ are clamped to `±SCORE_RANGE / n`). */
  SCORE_RANGE: f32(1e37),
} as const;

/** The prelude constants, as TypeScript reads them (every kernel sees them as WGSL constants). */
export const PRELUDE: Values<typeof DECLARED> = valuesOf(DECLARED);

/** The prelude: its generated constants, then `kernels/prelude.wgsl`. */
export function preludeSource(): string {
  return [
    "// ---- prelude constants, generated from src/gpu/prelude.ts ----",
    ...constantLines(DECLARED),
    wgslFile("prelude"),
  ].join("\n");
}
