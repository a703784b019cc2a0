// Top-k gallery items per query, merged block by block (src/eval/topk.ts; CPU twin:
// src/reference/topk.ts). Scores come from `retrieval.wgsl:scores`: a block of `ng` gallery rows
// (global rows g0 ..) × `nq` queries (global queries row0 ..), block[j * nq + c].
//
// out (u32) holds per query q its list of k scores (f32 bits) at [q * k, q * k + k), best first,
// then its k gallery indices at [total * k + q * k, ...).
//
// Blocks must arrive in gallery order (g0 increasing), so a query's list holds min(k, g0) items
// when a block starts. Ties: among equal scores the lower gallery index comes first (a new item
// only moves above strictly lower scores). One invocation per query loops over the block's rows
// serially (no barriers: they are costly on llvmpipe); the k-th score is kept in a register, so
// most items cost one load and one compare.

@compute @workgroup_size(WG)
fn topk_merge(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let c = linear_index(wid, nwg, lid, WG);
  if (c >= p.nq) { return; }
  let q = p.row0 + c;
  let sb = q * p.k; // scores of q's list
  let ib = p.total * p.k + q * p.k; // indices of q's list
  var n = min(p.k, p.g0);
  var kth = 0.0;
  if (n == p.k) { kth = bitcast<f32>(out[sb + p.k - 1u]); }
  for (var j = 0u; j < p.ng; j++) {
    let s = block[j * p.nq + c];
    var pos = n;
    if (n < p.k) {
      n++;
    } else if (s > kth) {
      pos = p.k - 1u;
    } else {
      continue;
    }
    while (pos > 0u && bitcast<f32>(out[sb + pos - 1u]) < s) {
      out[sb + pos] = out[sb + pos - 1u];
      out[ib + pos] = out[ib + pos - 1u];
      pos--;
    }
    out[sb + pos] = bitcast<u32>(s);
    out[ib + pos] = p.g0 + j;
    if (n == p.k) { kth = bitcast<f32>(out[sb + p.k - 1u]); }
  }
}
