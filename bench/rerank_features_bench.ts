/**
 * The reranker's input features (`kernels/rerank_features.wgsl`): 256 queries × their top 50 of a
 * 5000-item gallery, 256-d embeddings (770 features per candidate).
 * Run: `deno bench -A bench/rerank_features_bench.ts`.
 *
 * @module
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { rerankFeatures } from "../src/ops/rerank_features.ts";
import { gpuBench, lcgValues } from "./util.ts";

await initGpu();

const [queries, gallery, e, k] = [256, 5000, 256, 50];
const query = Tensor.from(lcgValues(queries * e, 1), [queries, e]);
const candidates = Tensor.from(lcgValues(gallery * e, 2), [gallery, e]);
const topk = Array.from({ length: queries * k }, (_, i) => (i * 7919) % gallery);
const scores = Tensor.from(lcgValues(queries * k, 3), [queries * k]);
gpuBench({
  name: `rerankFeatures ${queries}×${k}, e ${e}`,
  group: "rerank features",
  baseline: true,
  reps: 4,
  work: () => rerankFeatures(query, candidates, topk, scores, k).dispose(),
});
