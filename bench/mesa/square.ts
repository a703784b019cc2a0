/**
 * Square matmuls on whatever adapter the environment selects (see `bench/mesa/env.sh`): 512³ at 16
 * products per GPU wait and 1024³ at 4, GFLOP/s of the median of 5 waits after a warm-up product
 * that compiles. By default the planner's plan; with `--plans`, also every texture plan forced
 * (large and medium tile, direct and dual). A quick driver or environment check (for instance
 * `LP_NATIVE_VECTOR_WIDTH=512`) without the whole matmul bench.
 *
 * `npx -y deno@2.9.6 run -A bench/mesa/square.ts [--plans]`
 *
 * @module
 */
import { initGpu, rt } from "../../src/gpu/runtime.ts";
import { Tensor } from "../../src/autodiff/tensor.ts";
import { type ForcedPlan, matmul } from "../../src/ops/matmul.ts";

await initGpu();
const plans: (ForcedPlan | undefined)[] = [undefined];
if (Deno.args.includes("--plans")) {
  for (const tile of ["large", "medium"] as const) {
    for (const dual of [false, true]) plans.push({ path: "texture", tile, dual });
  }
}
for (const [n, reps] of [[512, 16], [1024, 4]]) {
  const a = Tensor.from(Float32Array.from({ length: n * n }, (_, i) => (i % 7) - 3), [n, n]);
  const b = Tensor.from(Float32Array.from({ length: n * n }, (_, i) => (i % 5) - 2), [n, n]);
  for (const plan of plans) {
    matmul(a, b, { plan }).dispose();
    await rt().sync();
    const ms: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) matmul(a, b, { plan }).dispose();
      await rt().sync();
      ms.push((performance.now() - t0) / reps);
    }
    const median = ms.sort((x, y) => x - y)[2];
    const name = plan ? `texture ${plan.tile}${plan.dual ? " dual" : ""}` : "planner";
    console.log(`${n}³ ${name}: ${(2 * n ** 3 / median / 1e6).toFixed(1)} GFLOP/s`);
  }
  a.dispose();
  b.dispose();
}
