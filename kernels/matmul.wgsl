// Register-blocked matmul for llvmpipe: C[M, N] = op(A) . op(B), op = identity or transpose.
//
// Why this shape (measured on Mesa 22.3 llvmpipe, 256-bit, through wgpu's GL backend):
// - llvmpipe runs 8 invocations as the lanes of one SIMD vector. A storage-buffer load whose offset
//   is not a compile-time constant becomes a loop over the 8 lanes with branches per lane and per
//   component: ~70-90 cycles per 8-lane load, nearly the same for a vec4 as for an f32. Workgroup
//   memory loads cost the same and need barriers, so there is no shared-memory tiling.
// - Arithmetic is cheap in comparison (~0.5 cycle per 8-lane multiply-add), so each invocation
//   computes a TM x 4 NQ block of C from vec4 loads: per 4 steps of k it loads TM + 4 NQ vec4s and
//   does 16 TM NQ multiply-adds. Larger blocks load less per multiply-add; 32 x 32 is the largest
//   that Mesa still unrolls (below) and compiles in reasonable time (~5 s, once: Mesa caches it;
//   13 s before C was stored a vec4 at a time).
// - Every loop except the one over k must be fully unrolled, so that the arrays become registers:
//   an array indexed by a loop variable costs a gather per access and compiles for minutes. Mesa
//   force-unrolls a loop whose trip count equals the length of an array it indexes, so the loops
//   run to TM_MAX / NQ_MAX (the array lengths) and skip the iterations past TM / NQ with an `if`.
//   Do not turn that into `break` or a shorter bound: small tiles would then stay loops.
// - The loads of one column group sit next to the multiply-adds that use them, which keeps the
//   compiler's spills of the block in check.
// Operands are read as vec4s: each operand's row length must be a multiple of 4 and a k-indexed
// operand's rows must come in fours. src/ops/matmul.ts pads operands that are not (mm_pad). Edge
// blocks clamp their loads to the last valid row/column and mask their stores, so the k loop has no
// bounds checks. No workgroup memory, no barriers.
//
// Layouts, with A stored M x K (K x M when transposed) and B stored K x N (N x K when transposed):
//   mm_nn: A . B      mm_nt: A . B^T      mm_tn: A^T . B      mm_tt: A^T . B^T
// Since C^T = op(B)^T . op(A)^T, src/ops/matmul.ts may run the "dual" product instead (operands
// swapped, layout nn <-> tt, nt and tn unchanged) and write C transposed (tc = 1), so that the
// lanes run along the longer side of C.
// Tile (pipeline constants): TM rows x 4 NQ columns per invocation, WG invocations per workgroup.
// Workgroup (x, y) covers rows r0 + [y TM, y TM + TM) and WG NQ vec4 column groups; invocation l
// owns the column groups g0 + x WG NQ + l + q WG, q < NQ.

// An invocation's accumulators: acc[i][q] holds row i, columns 4 (group q) .. 4 (group q) + 3.
alias Block = array<array<vec4<f32>, NQ_MAX>, TM_MAX>;

fn out_index(row: u32, col: u32) -> u32 {
  return select(row * p.n + col, col * p.m + row, p.tc != 0u);
}

// Masked stores of an invocation's block. Stores are loops over the lanes too, so whole vec4s go
// out where they can: VROWS (C written as is, N % 4 = 0) a row of 4 columns at a time, VCOLS (C
// written transposed, M % 4 = 0) a column of 4 rows at a time (rows come in fours: TM and row0 are
// multiples of 4); otherwise element by element. `//#if` keeps one path in the source (the f32 and
// vec4 views of C are one binding, which an entry point may use under one name only).
fn store_block(acc: ptr<function, Block>, row0: u32, cg0: u32) {
  for (var i = 0u; i < TM_MAX; i++) {
    if (i < TM) {
      for (var q = 0u; q < NQ_MAX; q++) {
        if (q < NQ) {
          let col = (cg0 + q * WG) * 4u;
          //#if VROWS
          if (row0 + i < p.m && col < p.n) { dst[((row0 + i) * p.n + col) / 4u] = (*acc)[i][q]; }
          //#else
          //#if VCOLS
          let r = row0 + i - 3u;
          if (i % 4u == 3u && r < p.m) {
            for (var j = 0u; j < 4u; j++) {
              if (col + j < p.n) {
                dst[((col + j) * p.m + r) / 4u] = vec4<f32>((*acc)[i - 3u][q][j],
                  (*acc)[i - 2u][q][j], (*acc)[i - 1u][q][j], (*acc)[i][q][j]);
              }
            }
          }
          //#else
          if (row0 + i < p.m) {
            for (var j = 0u; j < 4u; j++) {
              if (col + j < p.n) { c[out_index(row0 + i, col + j)] = (*acc)[i][q][j]; }
            }
          }
          //#end
          //#end
        }
      }
    }
  }
}

// A . B: A rows are vec4s along k, B rows vec4s along n.
@compute @workgroup_size(WG)
fn mm_nn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row0 = p.r0 + wid.y * TM;
  let cg0 = p.g0 + wid.x * WG * NQ + lid;
  var ar: array<u32, TM_MAX>; // A row starts, clamped to the last row
  var bc: array<u32, NQ_MAX>; // B column groups, clamped to the last group
  for (var i = 0u; i < TM_MAX; i++) {
    if (i < TM) { ar[i] = min(row0 + i, p.m - 1u) * p.sa; }
  }
  for (var q = 0u; q < NQ_MAX; q++) {
    if (q < NQ) { bc[q] = min(cg0 + q * WG, p.sb - 1u); }
  }
  var acc: Block;
  for (var kc = 0u; kc < p.kc; kc++) {
    var av: array<vec4<f32>, TM_MAX>; // A[row i][4 kc .. 4 kc + 3]
    for (var i = 0u; i < TM_MAX; i++) {
      if (i < TM) { av[i] = a[ar[i] + kc]; }
    }
    let kb = kc * 4u * p.sb;
    for (var q = 0u; q < NQ_MAX; q++) {
      if (q < NQ) {
        let b0 = b[kb + bc[q]];
        let b1 = b[kb + p.sb + bc[q]];
        let b2 = b[kb + 2u * p.sb + bc[q]];
        let b3 = b[kb + 3u * p.sb + bc[q]];
        for (var i = 0u; i < TM_MAX; i++) {
          if (i < TM) {
            let x = av[i];
            acc[i][q] += x.x * b0 + x.y * b1 + x.z * b2 + x.w * b3;
          }
        }
      }
    }
  }
  store_block(&acc, row0, cg0);
}

// A . B^T: A rows and B rows are vec4s along k.
@compute @workgroup_size(WG)
fn mm_nt(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row0 = p.r0 + wid.y * TM;
  let cg0 = p.g0 + wid.x * WG * NQ + lid;
  var ar: array<u32, TM_MAX>; // A row starts, clamped
  var br: array<vec4<u32>, NQ_MAX>; // B row starts of the 4 columns of each group, clamped
  for (var i = 0u; i < TM_MAX; i++) {
    if (i < TM) { ar[i] = min(row0 + i, p.m - 1u) * p.sa; }
  }
  for (var q = 0u; q < NQ_MAX; q++) {
    if (q < NQ) {
      let cols = vec4<u32>((cg0 + q * WG) * 4u) + vec4<u32>(0u, 1u, 2u, 3u);
      br[q] = min(cols, vec4<u32>(p.n - 1u)) * p.sb;
    }
  }
  var acc: Block;
  for (var kc = 0u; kc < p.kc; kc++) {
    var av: array<vec4<f32>, TM_MAX>;
    for (var i = 0u; i < TM_MAX; i++) {
      if (i < TM) { av[i] = a[ar[i] + kc]; }
    }
    for (var q = 0u; q < NQ_MAX; q++) {
      if (q < NQ) {
        let b0 = b[br[q].x + kc];
        let b1 = b[br[q].y + kc];
        let b2 = b[br[q].z + kc];
        let b3 = b[br[q].w + kc];
        for (var i = 0u; i < TM_MAX; i++) {
          if (i < TM) {
            let x = av[i];
            acc[i][q] += vec4<f32>(dot(x, b0), dot(x, b1), dot(x, b2), dot(x, b3));
          }
        }
      }
    }
  }
  store_block(&acc, row0, cg0);
}

// A^T . B: A rows (one per k) are vec4s along m, B rows vec4s along n.
@compute @workgroup_size(WG)
fn mm_tn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row0 = p.r0 + wid.y * TM;
  let cg0 = p.g0 + wid.x * WG * NQ + lid;
  var ac: array<u32, TM_MAX / 4u>; // A row groups (vec4s along m), clamped
  var bc: array<u32, NQ_MAX>;
  for (var r = 0u; r < TM_MAX / 4u; r++) {
    if (r < TM / 4u) { ac[r] = min(row0 / 4u + r, p.sa - 1u); }
  }
  for (var q = 0u; q < NQ_MAX; q++) {
    if (q < NQ) { bc[q] = min(cg0 + q * WG, p.sb - 1u); }
  }
  var acc: Block;
  for (var kc = 0u; kc < p.kc; kc++) {
    var av: array<array<vec4<f32>, TM_MAX / 4u>, 4>; // av[kk][r]: A[4 kc + kk][4 r .. 4 r + 3]
    let ka = kc * 4u * p.sa;
    for (var kk = 0u; kk < 4u; kk++) {
      for (var r = 0u; r < TM_MAX / 4u; r++) {
        if (r < TM / 4u) { av[kk][r] = a[ka + kk * p.sa + ac[r]]; }
      }
    }
    let kb = kc * 4u * p.sb;
    for (var q = 0u; q < NQ_MAX; q++) {
      if (q < NQ) {
        let b0 = b[kb + bc[q]];
        let b1 = b[kb + p.sb + bc[q]];
        let b2 = b[kb + 2u * p.sb + bc[q]];
        let b3 = b[kb + 3u * p.sb + bc[q]];
        for (var i = 0u; i < TM_MAX; i++) {
          if (i < TM) {
            let r = i / 4u;
            let j = i % 4u;
            acc[i][q] += av[0][r][j] * b0 + av[1][r][j] * b1 + av[2][r][j] * b2 +
              av[3][r][j] * b3;
          }
        }
      }
    }
  }
  store_block(&acc, row0, cg0);
}

// A^T . B^T: A rows (one per k) are vec4s along m, B rows vec4s along k.
@compute @workgroup_size(WG)
fn mm_tt(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row0 = p.r0 + wid.y * TM;
  let cg0 = p.g0 + wid.x * WG * NQ + lid;
  var ac: array<u32, TM_MAX / 4u>;
  var br: array<vec4<u32>, NQ_MAX>;
  for (var r = 0u; r < TM_MAX / 4u; r++) {
    if (r < TM / 4u) { ac[r] = min(row0 / 4u + r, p.sa - 1u); }
  }
  for (var q = 0u; q < NQ_MAX; q++) {
    if (q < NQ) {
      let cols = vec4<u32>((cg0 + q * WG) * 4u) + vec4<u32>(0u, 1u, 2u, 3u);
      br[q] = min(cols, vec4<u32>(p.n - 1u)) * p.sb;
    }
  }
  var acc: Block;
  for (var kc = 0u; kc < p.kc; kc++) {
    var av: array<array<vec4<f32>, TM_MAX / 4u>, 4>;
    let ka = kc * 4u * p.sa;
    for (var kk = 0u; kk < 4u; kk++) {
      for (var r = 0u; r < TM_MAX / 4u; r++) {
        if (r < TM / 4u) { av[kk][r] = a[ka + kk * p.sa + ac[r]]; }
      }
    }
    for (var q = 0u; q < NQ_MAX; q++) {
      if (q < NQ) {
        let b0 = b[br[q].x + kc];
        let b1 = b[br[q].y + kc];
        let b2 = b[br[q].z + kc];
        let b3 = b[br[q].w + kc];
        for (var i = 0u; i < TM_MAX; i++) {
          if (i < TM) {
            let r = i / 4u;
            let j = i % 4u;
            let x = vec4<f32>(av[0][r][j], av[1][r][j], av[2][r][j], av[3][r][j]); // row i of A^T
            acc[i][q] += vec4<f32>(dot(x, b0), dot(x, b1), dot(x, b2), dot(x, b3));
          }
        }
      }
    }
  }
  store_block(&acc, row0, cg0);
}

// c[r0 + i] = <row i of A, row i of B> for i < m (A, B rows vec4s along k): the diagonal of A . B^T
// with the arithmetic of mm_nt (one dot per vec4 of k, summed in the order of k), so each value
// equals the mm_nt entry bit for bit. One invocation per row.
@compute @workgroup_size(LINE_WG)
fn mm_nt_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, LINE_WG);
  if (i >= p.m) { return; }
  var acc = 0.0;
  for (var kc = 0u; kc < p.kc; kc++) { acc += dot(a[i * p.sa + kc], b[i * p.sb + kc]); }
  c[p.r0 + i] = acc;
}

// Copies a rows x cols matrix into a zero-padded rows_p x cols_p one, one vec4 per invocation.
// tr = 1: the source is stored transposed (cols x rows), so the copy is its transpose.
@compute @workgroup_size(LINE_WG)
fn mm_pad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let e = linear_index(wid, nwg, lid, LINE_WG);
  let per_row = p.cols_p / 4u;
  if (e >= p.rows_p * per_row) { return; }
  let r = e / per_row;
  let c0 = (e - r * per_row) * 4u;
  var v = vec4<f32>();
  if (r < p.rows) {
    for (var j = 0u; j < 4u; j++) {
      if (c0 + j < p.cols) {
        v[j] = src[select(r * p.cols + c0 + j, (c0 + j) * p.rows + r, p.tr != 0u)];
      }
    }
  }
  dst[e] = v;
}

// Workgroup-memory tiled matmul for discrete GPUs (where 32 x 32 accumulators per invocation would
// spill): a 16 x 16 workgroup computes a 64 x 64 block of C, each invocation 4 x 4 outputs, from
// 64 x 16 tiles of op(A) and 16 x 64 tiles of op(B) staged in workgroup memory. Reads the operands
// as f32s in their stored layout (ta / tb: A / B stored transposed), so it needs no padding.
// On llvmpipe it is correct but slow (barriers; see bench/README.md): the planner picks it for
// other adapters only, and tests force it.
const SH_T: u32 = 64u; // block side
const SH_K: u32 = 16u; // k step
var<workgroup> sh_a: array<array<f32, 64>, 16>; // sh_a[kk][i] = op(A)[row0 + i][k0 + kk]
var<workgroup> sh_b: array<array<f32, 64>, 16>; // sh_b[kk][j] = op(B)[k0 + kk][col0 + j]

fn sh_load_a(i: u32, k: u32) -> f32 {
  if (i >= p.m || k >= p.k) { return 0.0; }
  return src[select(i * p.k + k, k * p.m + i, p.ta != 0u)];
}

fn sh_load_b(k: u32, j: u32) -> f32 {
  if (k >= p.k || j >= p.n) { return 0.0; }
  return bs[select(k * p.n + j, j * p.k + k, p.tb != 0u)];
}

@compute @workgroup_size(16, 16)
fn mm_shared(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = p.r0 + wid.y * SH_T;
  let col0 = p.g0 * 4u + wid.x * SH_T;
  let t = lid.y * 16u + lid.x; // 0 .. 255
  var acc: array<vec4<f32>, 4>; // acc[ii][jj]: C[row0 + 4 lid.y + ii][col0 + 4 lid.x + jj]
  for (var k0 = 0u; k0 < p.k; k0 += SH_K) {
    // 1024 elements per tile, 4 per invocation: element e = t + 256 s is (kk = e / 64, x = e % 64)
    for (var s = 0u; s < 4u; s++) {
      let e = t + 256u * s;
      let kk = e / SH_T;
      let x = e % SH_T;
      sh_a[kk][x] = sh_load_a(row0 + x, k0 + kk);
      sh_b[kk][x] = sh_load_b(k0 + kk, col0 + x);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < SH_K; kk++) {
      let bv = vec4<f32>(sh_b[kk][4u * lid.x], sh_b[kk][4u * lid.x + 1u],
                         sh_b[kk][4u * lid.x + 2u], sh_b[kk][4u * lid.x + 3u]);
      acc[0] += sh_a[kk][4u * lid.y] * bv;
      acc[1] += sh_a[kk][4u * lid.y + 1u] * bv;
      acc[2] += sh_a[kk][4u * lid.y + 2u] * bv;
      acc[3] += sh_a[kk][4u * lid.y + 3u] * bv;
    }
    workgroupBarrier();
  }
  for (var ii = 0u; ii < 4u; ii++) {
    let row = row0 + 4u * lid.y + ii;
    for (var jj = 0u; jj < 4u; jj++) {
      let col = col0 + 4u * lid.x + jj;
      if (row < p.m && col < p.n) { c[row * p.n + col] = acc[ii][jj]; }
    }
  }
}
