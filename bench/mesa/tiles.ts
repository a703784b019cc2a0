/**
 * Every forced matmul plan (path × tile × orientation) on the products of the InfoNCE step and at
 * 512³ / 1024³, on whatever adapter the environment selects (see `bench/mesa/env.sh`): per plan the
 * wall and CPU milliseconds per product (median of `CALLS` calls of `reps` products, one GPU wait
 * per call, after one warm-up call that compiles). CPU time is that of the whole process; llvmpipe's
 * threads run in it, so GFLOP per CPU-second is less sensitive to other processes than wall time.
 *
 * `npx -y deno@2.9.6 run -A bench/mesa/tiles.ts [shape filter]`, e.g. `… tiles.ts 256` for the
 * step's products only.
 *
 * @module
 */
import process from "node:process";
import { initGpu, rt } from "../../src/gpu/runtime.ts";
import { Tensor } from "../../src/autodiff/tensor.ts";
import {
  type ForcedPlan,
  matmulInto,
  type MatmulPath,
  matmulPlan,
  planKey,
  type TileName,
} from "../../src/ops/matmul.ts";
import { lcgValues } from "../util.ts";

await initGpu();
const CALLS = 3;
const filter = Deno.args[0] ?? "";

/** The products: the InfoNCE step's (batch 256, 512 → 256 heads) and two square ones. */
const shapes = [
  { name: "step fwd nn 256×256×512", m: 256, n: 256, k: 512, transA: false, transB: false },
  { name: "step dW tn 512×256×256", m: 512, n: 256, k: 256, transA: true, transB: false },
  { name: "step sim nt 256×256×256", m: 256, n: 256, k: 256, transA: false, transB: true },
  { name: "step ds nn 256×256×256", m: 256, n: 256, k: 256, transA: false, transB: false },
  { name: "square nn 512×512×512", m: 512, n: 512, k: 512, transA: false, transB: false },
  { name: "square nn 1024×1024×1024", m: 1024, n: 1024, k: 1024, transA: false, transB: false },
].filter((s) => s.name.includes(filter));

const median = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1];
console.log(`adapter: ${rt().gpu.adapterName}, backend ${rt().gpu.backend}`);
console.log("shape | plan | wall ms/product | CPU ms/product | GFLOP/s wall | GFLOP/CPU-s");
for (const s of shapes) {
  const flop = 2 * s.m * s.n * s.k;
  const reps = Math.max(1, Math.round(2e9 / flop)); // ~2 GFLOP per call
  const a = Tensor.from(lcgValues(s.m * s.k, 1), s.transA ? [s.k, s.m] : [s.m, s.k]);
  const b = Tensor.from(lcgValues(s.k * s.n, 2), s.transB ? [s.n, s.k] : [s.k, s.n]);
  const c = new Tensor([s.m, s.n]);
  const layout = s.transA ? (s.transB ? "tt" : "tn") : s.transB ? "nt" : "nn";
  const planned = planKey(matmulPlan(layout, s.m, s.n, s.k));
  for (const path of ["texture", "buffer"] as MatmulPath[]) {
    for (const tile of ["large", "medium", "small", "thin"] as TileName[]) {
      for (const dual of [false, true]) {
        const plan: ForcedPlan = { path, tile, dual };
        const options = { transA: s.transA, transB: s.transB, plan };
        matmulInto(c, a, b, options);
        await rt().sync();
        const wall: number[] = [];
        const cpu: number[] = [];
        for (let call = 0; call < CALLS; call++) {
          const t0 = performance.now();
          const c0 = process.cpuUsage();
          for (let r = 0; r < reps; r++) matmulInto(c, a, b, options);
          await rt().sync();
          const c1 = process.cpuUsage(c0);
          wall.push((performance.now() - t0) / reps);
          cpu.push((c1.user + c1.system) / 1000 / reps);
        }
        const key = `${path} ${tile}${dual ? " dual" : ""}`;
        const w = median(wall);
        const u = median(cpu);
        console.log(
          `${s.name} | ${key}${key === planned ? " (planned)" : ""} | ${w.toFixed(2)} | ` +
            `${u.toFixed(2)} | ${(flop / w / 1e6).toFixed(1)} | ${(flop / u / 1e6).toFixed(1)}`,
        );
      }
    }
  }
  [a, b, c].forEach((t) => t.dispose());
}
