// Register-blocked matmul with operands read through textures, explicitly unrolled:
// C[M, N] = L . R, L an M x K texture (texel (kc, i) = L[i][4 kc .. 4 kc + 3]) and R a K x N
// texture (texel (g, k) = R[k][4 g .. 4 g + 3]), both rgba32float, zero-padded to K4 = 4 kc.
// src/ops/matmul.ts fills them with a copy, or with `mm_pad` (which also transposes) and a copy,
// so one entry point serves the four layouts A.B, A.B^T, A^T.B, A^T.B^T and the dual product
// C^T = op(B)^T . op(A)^T (tc = 1: C is written transposed).
//
// Why (measured on Mesa 22.3 llvmpipe, bench/README.md "matmul operands through textures"):
// - A storage-buffer load whose offset varies per lane is a loop over the 8 SIMD lanes; a
//   textureLoad of an rgba32float texel measured 1.4-3x cheaper per load here, and arithmetic per
//   load is the lever: per 4 steps of k an invocation loads TM + 4 NQ texels and does 16 TM NQ
//   multiply-adds (32 x 32 outputs: 64 loads for 4096 multiply-adds).
// - The rows of an invocation's block are the same for all lanes of a workgroup (uniform loads);
//   the lanes run along the column groups (consecutive texels).
// - Every loop but the one over k is unrolled in this source (`//#for`, expanded by
//   src/gpu/kernel.ts per tile), so the accumulators are plain variables on every compiler: Mesa 25
//   stopped force-unrolling the array loops the storage-buffer kernel (matmul.wgsl) relies on.
// - No workgroup memory, no barriers (a workgroup-memory tile measured ~10x slower here).
// Tile (pipeline constants): TM rows x 4 NQ columns per invocation, WG invocations per workgroup;
// workgroup (x, y) covers rows r0 + [y TM, y TM + TM) and WG NQ column groups, invocation l owns
// column groups g0 + x WG NQ + l + q WG, q < NQ. Loads clamp to the last row / group, stores mask.

fn mt_put(row: u32, col: u32, x: f32) {
  if (row < p.m && col < p.n) { c[select(row * p.n + col, col * p.m + row, p.tc != 0u)] = x; }
}

fn mt_store(row: u32, col: u32, v: vec4<f32>) {
  mt_put(row, col, v.x);
  mt_put(row, col + 1u, v.y);
  mt_put(row, col + 2u, v.z);
  mt_put(row, col + 3u, v.w);
}

@compute @workgroup_size(WG)
fn mt_blocked(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row0 = p.r0 + wid.y * TM;
  let cg0 = p.g0 + wid.x * WG * NQ + lid;
  let last_row = p.m - 1u;
  let last_group = (p.n + 3u) / 4u - 1u;
  //#for i < TM
  let r{i} = i32(min(row0 + {i}u, last_row));
  //#end
  //#for q < NQ
  let g{q} = i32(min(cg0 + {q}u * WG, last_group));
  //#end
  //#for i < TM
  //#for q < NQ
  var c{i}_{q} = vec4<f32>();
  //#end
  //#end
  for (var kc = 0i; kc < i32(p.kc); kc++) {
    let k0 = kc * 4i;
    //#for i < TM
    let a{i} = textureLoad(ta, vec2<i32>(kc, r{i}), 0);
    //#end
    //#for q < NQ
    let b{q}_0 = textureLoad(tb, vec2<i32>(g{q}, k0), 0);
    let b{q}_1 = textureLoad(tb, vec2<i32>(g{q}, k0 + 1i), 0);
    let b{q}_2 = textureLoad(tb, vec2<i32>(g{q}, k0 + 2i), 0);
    let b{q}_3 = textureLoad(tb, vec2<i32>(g{q}, k0 + 3i), 0);
    //#for i < TM
    c{i}_{q} += a{i}.x * b{q}_0 + a{i}.y * b{q}_1 + a{i}.z * b{q}_2 + a{i}.w * b{q}_3;
    //#end
    //#end
  }
  //#for i < TM
  //#for q < NQ
  mt_store(row0 + {i}u, (cg0 + {q}u * WG) * 4u, c{i}_{q});
  //#end
  //#end
}
