// Naive matmul, one output per invocation: C[M, N] = op(A) . op(B), op = identity or transpose.
// The benchmark baseline and a second oracle for the blocked kernel. A is M x K (or K x M when
// trans_a), B is K x N (or N x K when trans_b), all row-major.

@compute @workgroup_size(16, 16)
fn matmul_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.y;
  let col = gid.x;
  if (row >= p.m || col >= p.n) { return; }
  var acc = 0.0;
  for (var t = 0u; t < p.k; t++) {
    let av = select(a[row * p.k + t], a[t * p.m + row], p.trans_a == 1u);
    let bv = select(b[t * p.n + col], b[col * p.k + t], p.trans_b == 1u);
    acc += av * bv;
  }
  c[row * p.n + col] = acc;
}
