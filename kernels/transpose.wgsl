// out[j, i] = a[i, j] for a rows x cols matrix. One invocation per element of out, reading a column.

@compute @workgroup_size(WG)
fn transpose(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let e = linear_index(wid, nwg, lid, WG);
  if (e >= p.rows * p.cols) { return; }
  let j = e / p.rows;      // row of out
  let i = e - j * p.rows;  // column of out
  out[e] = a[i * p.cols + j];
}
