// Seeded inverted dropout over a flat f32 array, deterministic from (seed, step, index):
//   out[i] = keep(i) ? x[i] * scale : 0,  keep(i) = hash(seed, step, i) >= threshold,
// with threshold = floor(p * 2^32) and scale = 1 / (1 - p). The backward is the same kernel applied
// to the upstream gradient with the same (seed, step): the mask is recomputed, never stored.
// Bindings: 0 x (read), 1 out (read_write), 2 params. One invocation per element.

struct Params {
  n: u32,
  seed: u32,
  step: u32,
  threshold: u32,
  scale: f32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

// "lowbias32" integer hash (Chris Wellons' hash-prospector): a bijection on u32 with low bias.
fn mix32(v: u32) -> u32 {
  var h = v;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

// Chained so that (seed, step) picks a stream and the index a position in it.
fn dropout_hash(seed: u32, step: u32, i: u32) -> u32 {
  return mix32(mix32(mix32(seed) ^ step) ^ i);
}

@compute @workgroup_size(256)
fn dropout(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= p.n) { return; }
  let keep = dropout_hash(p.seed, p.step, i) >= p.threshold;
  out[i] = select(0.0, x[i] * p.scale, keep);
}
