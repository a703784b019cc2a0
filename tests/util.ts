/**
 * Test helpers: seeded random data, closeness assertions with readable failures, a GPU test
 * wrapper that proves no buffer leaks out of a test, and a finite-difference gradient check whose
 * reference runs in float64 on the CPU.
 *
 * @module
 */

import { seededRandom } from "../src/util/random.ts";
import assert, { AssertionError } from "node:assert";
import { initGpu, rt } from "../src/gpu/runtime.ts";
import { formatBytes } from "../src/gpu/device.ts";
import { backward } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { mul } from "../src/ops/elementwise.ts";
import { sumAll } from "../src/ops/reduce.ts";

await initGpu();

// @std/assert is on JSR, which is unreachable here: these are its names over Deno's node:assert.

/** Asserts deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (message === undefined) assert.deepStrictEqual(actual, expected);
  else assert.deepStrictEqual(actual, expected, message);
}

/** Asserts `value` is truthy. */
export function assertOk(value: unknown, message?: string): asserts value {
  if (message === undefined) assert.ok(value);
  else assert.ok(value, message);
}

/** Asserts `fn` throws an error whose message matches `pattern`. */
export function assertThrows(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    if (!pattern.test(message)) {
      throw new AssertionError({ message: `error "${message}" does not match ${pattern}` });
    }
    return true;
  });
}

/** Asserts the promise returned by `fn` rejects with a message matching `pattern`. */
export async function assertRejects(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    if (!pattern.test(message)) {
      throw new AssertionError({ message: `error "${message}" does not match ${pattern}` });
    }
    return true;
  });
}

/** A seeded uniform generator in [0, 1) (mulberry32; the project's one generator). */
export const rng: (seed: number) => () => number = seededRandom;

/** `n` seeded standard-normal values times `scale`, as float32 values in a Float64Array. */
export function randn(n: number, seed: number, scale = 1): Float64Array {
  const u = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
    out[i] = Math.fround(r * scale);
  }
  return out;
}

/** Tolerances: an element passes when `|actual − expected| ≤ atol + rtol·|expected|`. */
export interface Tolerance {
  /** Absolute tolerance. Default 1e-5. */
  atol?: number;
  /** Relative tolerance. Default 1e-4. */
  rtol?: number;
}

/** Asserts two arrays are elementwise close; the failure names the worst element. */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-4 }: Tolerance = {},
  what = "values",
): void {
  if (actual.length !== expected.length) {
    throw new AssertionError({
      message: `${what}: length ${actual.length}, expected ${expected.length}`,
    });
  }
  let worst = -1;
  let worstExcess = 0;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const err = Math.abs(a - e);
    const limit = atol + rtol * Math.abs(e);
    const ok = err <= limit || (a === e) || (Number.isNaN(a) && Number.isNaN(e));
    if (!ok) {
      bad++;
      const excess = Number.isNaN(err) ? Infinity : err / limit;
      if (worst < 0 || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (bad > 0) {
    throw new AssertionError({
      message:
        `${what}: ${bad} of ${actual.length} elements differ (atol ${atol}, rtol ${rtol}); ` +
        `worst at [${worst}]: ${actual[worst]} vs expected ${expected[worst]}`,
    });
  }
}

/** Asserts every value is finite. */
export function assertFinite(values: ArrayLike<number>, what = "values"): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new AssertionError({ message: `${what}[${i}] = ${values[i]} is not finite` });
    }
  }
}

/**
 * Registers a `Deno.test` that runs on the GPU and fails if the test leaves pooled buffers live,
 * leaves recorded work unsubmitted, or the device reported an error.
 */
export function gpuTest(name: string, fn: () => Promise<void> | void): void {
  Deno.test(name, async () => {
    const runtime = rt();
    const before = runtime.pool.liveCount;
    await fn();
    await runtime.sync();
    const leaked = runtime.pool.liveCount - before;
    if (leaked !== 0) {
      throw new AssertionError({ message: `${name}: ${leaked} GPU buffer(s) left live` });
    }
  });
}

/** One input of {@link gradCheck}. */
export interface GradInput {
  /** Shape of the tensor. */
  shape: number[];
  /** Values (float32-representable). */
  data: ArrayLike<number>;
  /** Whether to check its gradient (default true). */
  grad?: boolean;
}

/** Options of {@link gradCheck}. */
export interface GradCheckOptions extends Tolerance {
  /** Finite-difference step (float64). Default 1e-6. */
  h?: number;
  /** Check at most this many elements of each input (seeded choice). Default 48. */
  maxChecks?: number;
  /** Seed of the random output weights. Default 7. */
  seed?: number;
}

/**
 * Checks the GPU backward rule of `gpu` against central finite differences of the float64 CPU
 * reference `cpu`. The scalar checked is `Σ out ⊙ w` with seeded random weights `w`, so every output
 * element contributes. Returns the largest absolute difference seen.
 */
export async function gradCheck(
  inputs: GradInput[],
  gpu: (...xs: Tensor[]) => Tensor,
  cpu: (...xs: Float64Array[]) => ArrayLike<number>,
  options: GradCheckOptions = {},
): Promise<number> {
  const { h = 1e-6, maxChecks = 48, seed = 7, atol = 2e-4, rtol = 2e-3 } = options;
  const xs64 = inputs.map((inp) => Float64Array.from(inp.data, (v) => Math.fround(v)));
  const out0 = cpu(...xs64);
  const w = randn(out0.length, seed);
  const objective = (xs: Float64Array[]) => {
    const out = cpu(...xs);
    let s = 0;
    for (let i = 0; i < out.length; i++) s += out[i] * w[i];
    return s;
  };
  const params = inputs.map((inp, i) => Tensor.param(xs64[i], inp.shape, `input${i}`));
  let maxDiff = 0;
  try {
    scope(() => {
      const out = gpu(...params);
      if (out.size !== w.length) {
        throw new AssertionError({
          message: `gradCheck: GPU output has ${out.size} elements, CPU reference ${w.length}`,
        });
      }
      const wt = Tensor.from(w, out.shape);
      backward(sumAll(mul(out, wt)));
    });
    for (let k = 0; k < inputs.length; k++) {
      if (inputs[k].grad === false) continue;
      const grad = params[k].grad ? await params[k].grad!.read() : new Float32Array(xs64[k].length);
      const n = xs64[k].length;
      const pick = rng(seed + k);
      const idx = n <= maxChecks
        ? Array.from({ length: n }, (_, i) => i)
        : Array.from({ length: maxChecks }, () => Math.floor(pick() * n));
      const numeric: number[] = [];
      const analytic: number[] = [];
      for (const j of idx) {
        const saved = xs64[k][j];
        xs64[k][j] = saved + h;
        const up = objective(xs64);
        xs64[k][j] = saved - h;
        const down = objective(xs64);
        xs64[k][j] = saved;
        numeric.push((up - down) / (2 * h));
        analytic.push(grad[j]);
      }
      assertFinite(analytic, `gradient of input ${k}`);
      const scaleMax = Math.max(1, ...numeric.map(Math.abs));
      assertAllClose(analytic, numeric, { atol: atol * scaleMax, rtol }, `d/d input${k}`);
      for (let i = 0; i < numeric.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(analytic[i] - numeric[i]));
      }
    }
  } finally {
    for (const p of params) {
      p.grad?.dispose();
      p.dispose();
    }
  }
  return maxDiff;
}

/** Path of `../shared/data/<name>` beside the project root, or null when absent (a user's clone). */
export function sharedData(name: string): string | null {
  const url = new URL(`../../shared/data/${name}`, import.meta.url);
  try {
    Deno.statSync(url);
    return url.pathname;
  } catch {
    return null;
  }
}

/**
 * Runs `fn` as if the device allowed at most `bytes` per storage binding (the pool refuses larger
 * buffers and chunking plans against it), restoring the device's limit afterwards.
 */
export async function withBindingLimit<T>(bytes: number, fn: () => T | Promise<T>): Promise<T> {
  rt().pool.setBindingLimitForTests(bytes);
  try {
    return await fn();
  } finally {
    rt().pool.setBindingLimitForTests(null);
  }
}

/** `formatBytes(bytes)` as a regular expression source (its `.` escaped). */
export function bytesPattern(bytes: number): string {
  return formatBytes(bytes).replace(".", "\\.");
}

/** Runs the CLI script `src/cli/<script>.ts` with `args`; returns exit code, stdout and stderr. */
export async function runCli(
  script: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `src/cli/${script}.ts`, ...args],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}
