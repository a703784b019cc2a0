// Seeded inverted dropout over a flat f32 array, deterministic from (seed, step, index):
//   out[i] = keep(i) ? x[i] * scale : 0,  keep(i) = hash(seed, step, i) >= threshold,
// with threshold = floor(p * 2^32) and scale = 1 / (1 - p). The backward is the same kernel applied
// to the upstream gradient with the same (seed, step): the mask is recomputed, never stored.
// One invocation per element.

// Chained so that (seed, step) picks a stream and the index a position in it.
fn dropout_hash(seed: u32, step: u32, i: u32) -> u32 {
  return lowbias32(lowbias32(lowbias32(seed) ^ step) ^ i);
}

@compute @workgroup_size(WG)
fn dropout(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.n) { return; }
  let keep = dropout_hash(p.seed, p.step, i) >= p.threshold;
  out[i] = select(0.0, x[i] * p.scale, keep);
}
