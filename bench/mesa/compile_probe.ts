/**
 * One texture-path product `m × n × k` with a forced tile, in each of the four layouts, printing
 * each one's milliseconds (the first includes compiling the pipeline for these operand textures).
 * Run with `MESA_SHADER_CACHE_DISABLE=true` under `/usr/bin/time` to see a driver's compile cost.
 *
 * `npx -y deno@2.9.6 run -A bench/mesa/compile_probe.ts 4 64 64 medium [dual]`
 *
 * @module
 */
import { initGpu } from "../../src/gpu/runtime.ts";
import { Tensor } from "../../src/autodiff/tensor.ts";
import { matmul, type TileName } from "../../src/ops/matmul.ts";

await initGpu();
const [m, n, k] = Deno.args.slice(0, 3).map(Number);
const tile = (Deno.args[3] ?? "medium") as TileName;
const dual = Deno.args[4] === "dual";
for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
  const t0 = performance.now();
  const a = Tensor.from(new Float32Array(m * k).fill(1), transA ? [k, m] : [m, k]);
  const b = Tensor.from(new Float32Array(k * n).fill(1), transB ? [n, k] : [k, n]);
  const c = matmul(a, b, { transA, transB, plan: { path: "texture", tile, dual } });
  const first = (await c.read())[0];
  if (first !== k) throw new Error(`c[0] = ${first}, expected ${k}`);
  const ms = (performance.now() - t0).toFixed(0);
  console.log(
    `${m}×${n}×${k} transA=${transA} transB=${transB} ${tile}${dual ? " dual" : ""}: ${ms} ms`,
  );
  [a, b, c].forEach((t) => t.dispose());
}
