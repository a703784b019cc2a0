/**
 * Matmuls on whatever adapter the environment selects (see `bench/mesa/env.sh`): by default 512³
 * at 16 products per GPU wait and 1024³ at 4, GFLOP/s of the median of 5 waits after a first
 * product that compiles (its time, compile included, is printed too: run with
 * `MESA_SHADER_CACHE_DISABLE=true` to see a first compile). By default the planner's plan; with
 * `--plans`, also every texture plan forced (large and medium tile, direct and dual). A quick
 * driver, environment or kernel check (for instance `LP_NATIVE_VECTOR_WIDTH=512`) without the
 * whole matmul bench.
 *
 * ```sh
 * npx -y deno@2.9.6 run -A bench/mesa/square.ts [--plans]
 * # one shape M×K×N (A·B, or A·Bᵀ with --trans-b), products per wait, a forced texture tile:
 * npx -y deno@2.9.6 run -A bench/mesa/square.ts --shape 5000x512x1000 --trans-b --reps 2
 * npx -y deno@2.9.6 run -A bench/mesa/square.ts --shape 512x512x512 --tile large [--dual]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { initGpu, rt } from "../../src/gpu/runtime.ts";
import { Tensor } from "../../src/autodiff/tensor.ts";
import { type ForcedPlan, matmul, type TileName } from "../../src/ops/matmul.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    plans: { type: "boolean", default: false },
    shape: { type: "string" },
    "trans-b": { type: "boolean", default: false },
    reps: { type: "string" },
    tile: { type: "string" },
    dual: { type: "boolean", default: false },
  },
});

/** Prints `message` and exits with status 2 (a bad argument). */
function refuse(message: string): never {
  console.error(`square.ts: ${message}`);
  Deno.exit(2);
}

const TILES = ["large", "medium", "small", "thin"];
if (values.tile !== undefined && !TILES.includes(values.tile)) {
  refuse(`--tile must be one of ${TILES.join(", ")}, got '${values.tile}'`);
}
const shapes: [number, number, number, number][] = [];
if (values.shape !== undefined) {
  const dims = values.shape.split("x").map(Number);
  if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0)) {
    refuse(`--shape must be MxKxN with positive integers, got '${values.shape}'`);
  }
  const [m, k, n] = dims;
  shapes.push([m, k, n, Math.max(1, Math.min(64, Math.round(2 ** 31 / (m * k * n))))]);
} else {
  shapes.push([512, 512, 512, 16], [1024, 1024, 1024, 4]);
}
const reps = values.reps === undefined ? null : Number(values.reps);
if (reps !== null && !(Number.isInteger(reps) && reps > 0)) {
  refuse(`--reps must be a positive integer, got '${values.reps}'`);
}
const transB = values["trans-b"];

await initGpu();
const plans: (ForcedPlan | undefined)[] = [];
if (values.tile !== undefined) {
  plans.push({ path: "texture", tile: values.tile as TileName, dual: values.dual });
} else {
  plans.push(undefined);
  if (values.plans) {
    for (const tile of ["large", "medium"] as const) {
      for (const dual of [false, true]) plans.push({ path: "texture", tile, dual });
    }
  }
}
for (const [m, k, n, perWait] of shapes) {
  const count = reps ?? perWait;
  const a = Tensor.from(Float32Array.from({ length: m * k }, (_, i) => (i % 7) - 3), [m, k]);
  const b = Tensor.from(
    Float32Array.from({ length: k * n }, (_, i) => (i % 5) - 2),
    transB ? [n, k] : [k, n],
  );
  const what = m === k && k === n ? `${n}³` : `${m}×${k}×${n}`;
  for (const plan of plans) {
    const t0 = performance.now();
    matmul(a, b, { plan, transB }).dispose();
    await rt().sync();
    const first = performance.now() - t0;
    const ms: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      for (let i = 0; i < count; i++) matmul(a, b, { plan, transB }).dispose();
      await rt().sync();
      ms.push((performance.now() - t) / count);
    }
    const median = ms.sort((x, y) => x - y)[2];
    const name = plan ? `texture ${plan.tile}${plan.dual ? " dual" : ""}` : "planner";
    console.log(
      `${what}${transB ? " (B transposed)" : ""} ${name}: ${
        (2 * m * k * n / median / 1e6).toPrecision(3)
      } ` +
        `GFLOP/s, ${median.toFixed(2)} ms per product (${count} per wait); first product ` +
        `${first.toFixed(0)} ms`,
    );
  }
  a.dispose();
  b.dispose();
}
