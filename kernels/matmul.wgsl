// Register-blocked matmul without workgroup memory or barriers (barriers are costly on llvmpipe):
// C[M, N] = op(A) . op(B). Each invocation computes a TM x TN block of C, accumulating over K.
// A is M x K (K x M when trans_a), B is K x N (N x K when trans_b), row-major; any M, N, K >= 1.

struct Params {
  m: u32,
  n: u32,
  k: u32,
  trans_a: u32,
  trans_b: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const TM: u32 = 4u;
const TN: u32 = 4u;

fn load_a(row: u32, t: u32) -> f32 {
  if (row >= p.m) { return 0.0; }
  return select(a[row * p.k + t], a[t * p.m + row], p.trans_a == 1u);
}

fn load_b(t: u32, col: u32) -> f32 {
  if (col >= p.n) { return 0.0; }
  return select(b[t * p.n + col], b[col * p.k + t], p.trans_b == 1u);
}

@compute @workgroup_size(8, 8)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row0 = gid.y * TM;
  let col0 = gid.x * TN;
  if (row0 >= p.m || col0 >= p.n) { return; }
  var acc: array<vec4<f32>, 4>;
  for (var t = 0u; t < p.k; t++) {
    let bv = vec4<f32>(load_b(t, col0), load_b(t, col0 + 1u), load_b(t, col0 + 2u),
                       load_b(t, col0 + 3u));
    for (var r = 0u; r < TM; r++) {
      acc[r] += load_a(row0 + r, t) * bv;
    }
  }
  for (var r = 0u; r < TM; r++) {
    let row = row0 + r;
    if (row >= p.m) { break; }
    for (var j = 0u; j < TN; j++) {
      if (col0 + j < p.n) { c[row * p.n + col0 + j] = acc[r][j]; }
    }
  }
}
