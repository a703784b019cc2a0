// Fixed image features for the built-in featuriser (src/data/image_features.ts).
//
// Input: `count` images of size x size pixels, already resized on the CPU, one u32 per pixel
// (RGBA8: red in the low byte), image-major then row-major. Output: `count` rows of
// dim = grid * grid * 19 + 8 floats.
//
// Per cell of a grid x grid spatial grid (cell (cx, cy) covers columns [cx*size/grid,
// (cx+1)*size/grid) and rows likewise; cells in row-major order), 19 values:
//   [0, 8)   hue histogram: 8 circular bins centred on hues k/8 (red = bin 0), each pixel adds its
//            chroma (max - min of r, g, b) split linearly between the two nearest bins;
//   [8, 11)  lightness of grey pixels: 3 bins centred on value (max of r, g, b) 0, 0.5, 1, each
//            pixel adds (1 - chroma) split linearly; so the 11 colour weights of a pixel sum to 1;
//   [11, 19) gradient orientation: 8 bins over [0, pi) (unsigned, bin 0 = horizontal gradient),
//            central differences of luma 0.299 r + 0.587 g + 0.114 b with edge pixels replicated,
//            each pixel adds its gradient magnitude split linearly between the two nearest bins.
// Block normalisation: colour / pixel count; orientation / (sum + 0.05 * pixel count) (flat cells
// stay near zero); then each value x in [0, 1] is power-normalised by a smoothed square root,
// sqrt(x + 1e-4) - 0.01 (a Hellinger-like map whose slope at 0 is bounded, so float32 rounding of
// nearly empty bins stays small).
// Global block (8 values, after the cells): mean r, g, b; standard deviation r, g, b (two-pass);
// mean chroma; mean value. Finally each row is scaled to unit L2 norm.
//
// Entry points, dispatched in this order (global_features reads the cell values back):
//   cell_features    one invocation per (image, cell), writes the 19 cell values;
//   global_features  one invocation per image, writes the global block and normalises the row.
// Image i of the batch writes output row first + i, so several batches can fill one output buffer.

const PI = 3.14159265358979;

// The pixel at (x, y) of image `img`, coordinates clamped to the image (edge replication).
fn rgb(img: u32, x: i32, y: i32) -> vec3<f32> {
  let last = i32(p.size) - 1;
  let cx = u32(clamp(x, 0, last));
  let cy = u32(clamp(y, 0, last));
  return unpack4x8unorm(pixels[(img * p.size + cy) * p.size + cx]).rgb;
}

// Smoothed square root: sqrt(x + eps) - sqrt(eps).
fn power(x: f32) -> f32 {
  return sqrt(x + POWER_EPS) - 0.01;
}

fn luma(c: vec3<f32>) -> f32 {
  return dot(c, vec3<f32>(0.299, 0.587, 0.114));
}

// Linear (triangle) weights of position `pos` for circular bins k..k+3 of 8: max(0, 1 - d) with d
// the circular distance between pos and k.
fn circular4(pos: f32, start: f32) -> vec4<f32> {
  var d = vec4<f32>(pos) - (vec4<f32>(0.0, 1.0, 2.0, 3.0) + start);
  d = d - 8.0 * round(d / 8.0);
  return max(vec4<f32>(0.0), 1.0 - abs(d));
}

// HSV hue in [0, 1) of a pixel with chroma > 0.
fn hue(c: vec3<f32>, hi: f32, chroma: f32) -> f32 {
  var h: f32;
  if (hi == c.r) {
    h = (c.g - c.b) / chroma;
    if (h < 0.0) { h += 6.0; }
  } else if (hi == c.g) {
    h = (c.b - c.r) / chroma + 2.0;
  } else {
    h = (c.r - c.g) / chroma + 4.0;
  }
  return h / 6.0;
}

@compute @workgroup_size(WG)
fn cell_features(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let id = linear_index(wid, nwg, lid, WG);
  let cells = p.grid * p.grid;
  if (id >= p.count * cells) { return; }
  let img = id / cells;
  let cell = id % cells;
  let cy = cell / p.grid;
  let cx = cell % p.grid;
  let x0 = i32(cx * p.size / p.grid);
  let x1 = i32((cx + 1u) * p.size / p.grid);
  let y0 = i32(cy * p.size / p.grid);
  let y1 = i32((cy + 1u) * p.size / p.grid);

  var hueLo = vec4<f32>(0.0);
  var hueHi = vec4<f32>(0.0);
  var grey = vec3<f32>(0.0);
  var oriLo = vec4<f32>(0.0);
  var oriHi = vec4<f32>(0.0);
  for (var y = y0; y < y1; y++) {
    for (var x = x0; x < x1; x++) {
      let c = rgb(img, x, y);
      let hi = max(c.r, max(c.g, c.b));
      let chroma = hi - min(c.r, min(c.g, c.b));
      if (chroma > 0.0) {
        let pos = hue(c, hi, chroma) * 8.0;
        hueLo += chroma * circular4(pos, 0.0);
        hueHi += chroma * circular4(pos, 4.0);
      }
      let v = 2.0 * hi;
      grey += (1.0 - chroma) * max(vec3<f32>(0.0), 1.0 - abs(vec3<f32>(v) - vec3<f32>(0.0, 1.0, 2.0)));

      let gx = 0.5 * (luma(rgb(img, x + 1, y)) - luma(rgb(img, x - 1, y)));
      let gy = 0.5 * (luma(rgb(img, x, y + 1)) - luma(rgb(img, x, y - 1)));
      let mag = sqrt(gx * gx + gy * gy);
      if (mag > 0.0) {
        var theta = atan2(gy, gx);
        if (theta < 0.0) { theta += PI; }
        let pos = theta / PI * 8.0;
        oriLo += mag * circular4(pos, 0.0);
        oriHi += mag * circular4(pos, 4.0);
      }
    }
  }
  let npix = f32((x1 - x0) * (y1 - y0));
  let base = (p.first + img) * p.dim + cell * CELL_DIM;
  let inv = 1.0 / npix;
  for (var k = 0u; k < 4u; k++) {
    out[base + k] = power(hueLo[k] * inv);
    out[base + 4u + k] = power(hueHi[k] * inv);
  }
  for (var k = 0u; k < 3u; k++) { out[base + 8u + k] = power(grey[k] * inv); }
  let gsum = dot(oriLo, vec4<f32>(1.0)) + dot(oriHi, vec4<f32>(1.0));
  let ginv = 1.0 / (gsum + GRAD_EPS * npix);
  for (var k = 0u; k < 4u; k++) {
    out[base + 11u + k] = power(oriLo[k] * ginv);
    out[base + 15u + k] = power(oriHi[k] * ginv);
  }
}

@compute @workgroup_size(WG)
fn global_features(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let img = linear_index(wid, nwg, lid, WG);
  if (img >= p.count) { return; }
  let n = p.size * p.size;
  let pix0 = img * n;
  var sum = vec3<f32>(0.0);
  var chromaSum = 0.0;
  var valueSum = 0.0;
  for (var i = 0u; i < n; i++) {
    let c = unpack4x8unorm(pixels[pix0 + i]).rgb;
    let hi = max(c.r, max(c.g, c.b));
    sum += c;
    chromaSum += hi - min(c.r, min(c.g, c.b));
    valueSum += hi;
  }
  let inv = 1.0 / f32(n);
  let mean = sum * inv;
  var sq = vec3<f32>(0.0);
  for (var i = 0u; i < n; i++) {
    let d = unpack4x8unorm(pixels[pix0 + i]).rgb - mean;
    sq += d * d;
  }
  let sd = sqrt(sq * inv);
  let row = (p.first + img) * p.dim;
  let g = row + p.grid * p.grid * CELL_DIM;
  out[g] = mean.r;
  out[g + 1u] = mean.g;
  out[g + 2u] = mean.b;
  out[g + 3u] = sd.r;
  out[g + 4u] = sd.g;
  out[g + 5u] = sd.b;
  out[g + 6u] = chromaSum * inv;
  out[g + 7u] = valueSum * inv;

  var ss = 0.0;
  for (var j = 0u; j < p.dim; j++) { ss += out[row + j] * out[row + j]; }
  let scale = 1.0 / max(sqrt(ss), 1e-12);
  for (var j = 0u; j < p.dim; j++) { out[row + j] = out[row + j] * scale; }
}
