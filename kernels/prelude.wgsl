// The prelude: WGSL every kernel module starts with (after the constants that src/gpu/prelude.ts
// generates from its declaration). Each kernel's own header (its workgroup size WG, constants,
// Params struct `p` and bindings) follows, generated from its declaration in src/gpu/kernels.ts.

// The linear index of an invocation of a 1-D launch whose workgroups are spread over x and y (see
// groups1d in src/gpu/runtime.ts): workgroup (x, y) of a grid of nwg, `size` invocations each.
fn linear_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32, size: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * size + lid;
}

// "lowbias32" (Chris Wellons' hash-prospector): a bijection on u32 with low bias. CPU twin:
// lowbias32 in src/util/random.ts.
fn lowbias32(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}
