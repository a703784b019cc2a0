// Register-blocked matmul with operands read through textures, explicitly unrolled:
// C[M, N] = L . R with L (M x K) and R (K x N) in rgba32float textures, zero-padded to K4 = 4 kc,
// each read in the layout it is stored in, so no operand is transposed first:
// - LT = 0: texel (kc, i) = L[i][4 kc .. 4 kc + 3] (L stored M x K, as A of A.B);
//   LT = 1: texel (g, k) = L[4 g .. 4 g + 3][k] (L stored K x M, as A of A^T.B).
// - RT = 0: texel (g, k) = R[k][4 g .. 4 g + 3] (R stored K x N, as B of A.B);
//   RT = 1: texel (kc, j) = R[4 kc .. 4 kc + 3][j] (R stored N x K, as B of A.B^T).
// src/ops/matmul.ts fills the textures with a copy, or with `mm_pad` (zero padding) and a copy; with
// the dual product C^T = op(B)^T . op(A)^T (tc = 1: C is written transposed) this serves the four
// layouts. Transposed reads load as many texels as direct ones (TM4 per row group or 4 per column
// group and step of 4 k) and transpose the 4 x 4 block in registers.
//
// Why (measured on Mesa 22.3 llvmpipe, bench/README.md "matmul operands through textures"):
// - A storage-buffer load whose offset varies per lane is a loop over the 8 SIMD lanes; a
//   texture read of an rgba32float texel measured 1.4-3x cheaper per load here, and arithmetic per
//   load is the lever: per 4 steps of k an invocation loads 4 TM4 + 4 NQ texels and does
//   64 TM4 NQ multiply-adds (32 x 32 outputs: 64 loads for 4096 multiply-adds).
// - The rows of an invocation's block are the same for all lanes of a workgroup (uniform loads);
//   the lanes run along the column groups (consecutive texels).
// - Every loop but the one over k is unrolled in this source (`//#for`, and `//#if` for the
//   layouts, expanded by src/gpu/kernel.ts per tile), so the accumulators are plain variables on
//   every compiler: Mesa 25 stopped force-unrolling the array loops the storage-buffer kernel
//   (matmul.wgsl) relies on.
// - Texels are read with textureSampleLevel at their centres through the nearest sampler, not with
//   textureLoad: naga (wgpu's shader translator) wraps every textureLoad in a bounds check, a
//   select between the fetch and zero (ReadZeroSkipWrite), and that measured 1.1-1.7x slower than
//   the same kernel sampling, by tile and shape (bench/README.md, "Issue 15, stop 24"). Coordinates are in range (the
//   loads clamp below); the sampler clamps to the edge besides.
// - No workgroup memory, no barriers (a workgroup-memory tile measured ~10x slower here).
// - Stores, like loads, are loops over the lanes: C is written a vec4 at a time where the rows
//   (VROWS) or, written transposed, the columns (VCOLS) are whole quads, else element by element.
//   Its first compile is ~3x shorter (the stores were most of the unrolled source); at 512^3 it
//   was ~6 % faster in alternated pairs, within the noise in one-off records (bench/README.md,
//   "Issue 15, stop 23").
// - DOT (retrieval's score blocks: A.B^T, B read as stored, RT = 1, LT = 0): each step of 4 k adds
//   dot(A quad, B quad) to every entry, the arithmetic of matmul.wgsl's mm_nt_rows and of its
//   storage-buffer kernel, so a pair score equals its block entry bit for bit on any driver (the
//   default sums the four products left to right, which Mesa's dot does not: it adds w first).
// Tile (pipeline constants): 4 TM4 rows x 4 NQ columns per invocation, WG invocations per
// workgroup; workgroup (x, y) covers rows r0 + [4 TM4 y, 4 TM4 (y + 1)) and WG NQ column groups,
// invocation l owns column groups g0 + x WG NQ + l + q WG, q < NQ. Loads clamp to the last row,
// row group, column or column group; stores mask.

// Reciprocal sides of ta and tb, set once per invocation.
var<private> ta_inv: vec2<f32>;
var<private> tb_inv: vec2<f32>;

// Texel (x, y) of ta / tb: a nearest sample at its centre returns it exactly. For a side w the
// sampler takes floor((x + 0.5) / w * w) = x: the product is x + 0.5 exactly when w is a power of
// two, and within (x + 0.5) 2^-23, far less than 0.5, otherwise (tests/declare_test.ts).
fn ta_at(x: i32, y: i32) -> vec4<f32> {
  return textureSampleLevel(ta, nearest, (vec2<f32>(f32(x), f32(y)) + 0.5) * ta_inv, 0.0);
}

fn tb_at(x: i32, y: i32) -> vec4<f32> {
  return textureSampleLevel(tb, nearest, (vec2<f32>(f32(x), f32(y)) + 0.5) * tb_inv, 0.0);
}

fn mt_put(row: u32, col: u32, x: f32) {
  if (row < p.m && col < p.n) { c[select(row * p.n + col, col * p.m + row, p.tc != 0u)] = x; }
}

fn mt_store(row: u32, col: u32, v: vec4<f32>) {
  mt_put(row, col, v.x);
  mt_put(row, col + 1u, v.y);
  mt_put(row, col + 2u, v.z);
  mt_put(row, col + 3u, v.w);
}

// The 4 x 4 block of C at rows r .. r + 3 and columns col .. col + 3 (rows b0 .. b3). VROWS (C
// written as is, N % 4 = 0) stores each row as one vec4, VCOLS (C written transposed, M % 4 = 0)
// each column; otherwise element by element.
fn mt_block(r: u32, col: u32, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) {
  //#if VROWS
  if (col < p.n) {
    let i = (r * p.n + col) / 4u;
    let s = p.n / 4u;
    if (r < p.m) { c4[i] = b0; }
    if (r + 1u < p.m) { c4[i + s] = b1; }
    if (r + 2u < p.m) { c4[i + 2u * s] = b2; }
    if (r + 3u < p.m) { c4[i + 3u * s] = b3; }
  }
  //#else
  //#if VCOLS
  if (r < p.m) {
    let i = (col * p.m + r) / 4u;
    let s = p.m / 4u;
    if (col < p.n) { c4[i] = vec4<f32>(b0.x, b1.x, b2.x, b3.x); }
    if (col + 1u < p.n) { c4[i + s] = vec4<f32>(b0.y, b1.y, b2.y, b3.y); }
    if (col + 2u < p.n) { c4[i + 2u * s] = vec4<f32>(b0.z, b1.z, b2.z, b3.z); }
    if (col + 3u < p.n) { c4[i + 3u * s] = vec4<f32>(b0.w, b1.w, b2.w, b3.w); }
  }
  //#else
  mt_store(r, col, b0);
  mt_store(r + 1u, col, b1);
  mt_store(r + 2u, col, b2);
  mt_store(r + 3u, col, b3);
  //#end
  //#end
}

@compute @workgroup_size(WG)
fn mt_blocked(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ta_inv = 1.0 / vec2<f32>(textureDimensions(ta));
  tb_inv = 1.0 / vec2<f32>(textureDimensions(tb));
  let row0 = p.r0 + wid.y * TM4 * 4u;
  let cg0 = p.g0 + wid.x * WG * NQ + lid;
  //#if LT
  let last_row_group = (p.m + 3u) / 4u - 1u;
  //#for h < TM4
  let h{h} = i32(min(row0 / 4u + {h}u, last_row_group));
  //#end
  //#else
  let last_row = p.m - 1u;
  //#for h < TM4
  //#for u < 4
  let r{h}_{u} = i32(min(row0 + {h}u * 4u + {u}u, last_row));
  //#end
  //#end
  //#end
  //#if RT
  let last_col = p.n - 1u;
  //#for q < NQ
  //#for v < 4
  let j{q}_{v} = i32(min((cg0 + {q}u * WG) * 4u + {v}u, last_col));
  //#end
  //#end
  //#else
  let last_group = (p.n + 3u) / 4u - 1u;
  //#for q < NQ
  let g{q} = i32(min(cg0 + {q}u * WG, last_group));
  //#end
  //#end
  //#for h < TM4
  //#for u < 4
  //#for q < NQ
  var c{h}_{u}_{q} = vec4<f32>();
  //#end
  //#end
  //#end
  for (var kc = 0i; kc < i32(p.kc); kc++) {
    let k0 = kc * 4i;
    //#if LT
    //#for h < TM4
    let t{h}_0 = ta_at(h{h}, k0);
    let t{h}_1 = ta_at(h{h}, k0 + 1i);
    let t{h}_2 = ta_at(h{h}, k0 + 2i);
    let t{h}_3 = ta_at(h{h}, k0 + 3i);
    //#for u < 4
    let a{h}_{u} = vec4<f32>(t{h}_0[{u}], t{h}_1[{u}], t{h}_2[{u}], t{h}_3[{u}]);
    //#end
    //#end
    //#else
    //#for h < TM4
    //#for u < 4
    let a{h}_{u} = ta_at(kc, r{h}_{u});
    //#end
    //#end
    //#end
    //#for q < NQ
    //#if RT
    let s{q}_0 = tb_at(kc, j{q}_0);
    let s{q}_1 = tb_at(kc, j{q}_1);
    let s{q}_2 = tb_at(kc, j{q}_2);
    let s{q}_3 = tb_at(kc, j{q}_3);
    //#if DOT
    //#else
    let b{q}_0 = vec4<f32>(s{q}_0.x, s{q}_1.x, s{q}_2.x, s{q}_3.x);
    let b{q}_1 = vec4<f32>(s{q}_0.y, s{q}_1.y, s{q}_2.y, s{q}_3.y);
    let b{q}_2 = vec4<f32>(s{q}_0.z, s{q}_1.z, s{q}_2.z, s{q}_3.z);
    let b{q}_3 = vec4<f32>(s{q}_0.w, s{q}_1.w, s{q}_2.w, s{q}_3.w);
    //#end
    //#else
    let b{q}_0 = tb_at(g{q}, k0);
    let b{q}_1 = tb_at(g{q}, k0 + 1i);
    let b{q}_2 = tb_at(g{q}, k0 + 2i);
    let b{q}_3 = tb_at(g{q}, k0 + 3i);
    //#end
    //#for h < TM4
    //#for u < 4
    //#if DOT
    c{h}_{u}_{q} += vec4<f32>(dot(a{h}_{u}, s{q}_0), dot(a{h}_{u}, s{q}_1), dot(a{h}_{u}, s{q}_2), dot(a{h}_{u}, s{q}_3));
    //#else
    c{h}_{u}_{q} += a{h}_{u}.x * b{q}_0 + a{h}_{u}.y * b{q}_1 + a{h}_{u}.z * b{q}_2 + a{h}_{u}.w * b{q}_3;
    //#end
    //#end
    //#end
    //#end
  }
  //#for h < TM4
  //#for q < NQ
  mt_block(row0 + {h}u * 4u, (cg0 + {q}u * WG) * 4u, c{h}_0_{q}, c{h}_1_{q}, c{h}_2_{q}, c{h}_3_{q});
  //#end
  //#end
}
