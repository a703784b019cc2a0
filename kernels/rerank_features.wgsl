// Per-candidate input features of the listwise reranker. For query qi (row of `query`) and its
// j-th first-stage candidate (row idx[qi * k + j] of `cand`) with first-stage score s, output row
// r = qi * k + j holds, for an embedding width e (width = 3e + 2 columns):
//   [ query[qi] (e) | cand[c] (e) | query[qi] * cand[c] (e) | s | (j + 1) / k ]
// One invocation per output element.

@compute @workgroup_size(WG)
fn rerank_features(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let t = linear_index(wid, nwg, lid, WG);
  if (t >= p.rows * p.width) { return; }
  let r = t / p.width;
  let col = t - r * p.width;
  let qi = r / p.k;
  let j = r - qi * p.k;
  var value: f32;
  if (col < p.e) {
    value = query[qi * p.e + col];
  } else if (col < 2u * p.e) {
    value = cand[idx[r] * p.e + col - p.e];
  } else if (col < 3u * p.e) {
    let d = col - 2u * p.e;
    value = query[qi * p.e + d] * cand[idx[r] * p.e + d];
  } else if (col == 3u * p.e) {
    value = scores[r];
  } else {
    value = f32(j + 1u) / f32(p.k);
  }
  out[t] = value;
}
