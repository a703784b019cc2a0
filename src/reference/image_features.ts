/**
 * CPU reference (float64) of `kernels/image_features.wgsl`: the same features, computed the plain
 * way (floor-based soft binning rather than the kernel's vectorised triangle weights), as the test
 * oracle and the CPU baseline of the benchmark.
 *
 * @module
 */

import { IMAGE_FEATURES } from "../gpu/kernels.ts";

const HUE_BINS = 8;
const GREY_BINS = 3;
const ORIENT_BINS = 8;
const { CELL_DIM, GLOBAL_DIM, GRAD_EPS, POWER_EPS } = IMAGE_FEATURES.constants;

/** The kernel's smoothed square root: sqrt(x + 1e-4) − 0.01. */
function power(x: number): number {
  return Math.sqrt(x + POWER_EPS) - Math.sqrt(POWER_EPS);
}

/** Feature length for a `grid × grid` layout: 19 per cell plus 8 global values. */
export function imageFeatureDimRef(grid: number): number {
  return grid * grid * CELL_DIM + GLOBAL_DIM;
}

/**
 * Features of `count` images of `size × size` RGBA8 pixels (image-major, row-major, alpha ignored):
 * `count × imageFeatureDimRef(grid)` values, row-major. See the kernel header for the definition.
 */
export function imageFeaturesRef(
  pixels: Uint8Array,
  count: number,
  size: number,
  grid: number,
): Float64Array {
  const dim = imageFeatureDimRef(grid);
  const out = new Float64Array(count * dim);
  const n = size * size;
  for (let img = 0; img < count; img++) {
    const r = new Float64Array(n);
    const g = new Float64Array(n);
    const b = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const at = (img * n + i) * 4;
      r[i] = pixels[at] / 255;
      g[i] = pixels[at + 1] / 255;
      b[i] = pixels[at + 2] / 255;
    }
    const luma = (x: number, y: number) => {
      const i = Math.min(Math.max(y, 0), size - 1) * size + Math.min(Math.max(x, 0), size - 1);
      return 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i];
    };
    const row = out.subarray(img * dim, (img + 1) * dim);
    for (let cy = 0; cy < grid; cy++) {
      for (let cx = 0; cx < grid; cx++) {
        const x0 = Math.floor(cx * size / grid);
        const x1 = Math.floor((cx + 1) * size / grid);
        const y0 = Math.floor(cy * size / grid);
        const y1 = Math.floor((cy + 1) * size / grid);
        const colour = new Float64Array(HUE_BINS + GREY_BINS);
        const orient = new Float64Array(ORIENT_BINS);
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            const i = y * size + x;
            const hi = Math.max(r[i], g[i], b[i]);
            const chroma = hi - Math.min(r[i], g[i], b[i]);
            if (chroma > 0) {
              const pos = hueOf(r[i], g[i], b[i], hi, chroma) * HUE_BINS;
              const lo = Math.floor(pos);
              const f = pos - lo;
              colour[lo % HUE_BINS] += chroma * (1 - f);
              colour[(lo + 1) % HUE_BINS] += chroma * f;
            }
            const v = 2 * hi;
            const vlo = Math.min(Math.floor(v), GREY_BINS - 2);
            const vf = v - vlo;
            colour[HUE_BINS + vlo] += (1 - chroma) * (1 - vf);
            colour[HUE_BINS + vlo + 1] += (1 - chroma) * vf;

            const gx = 0.5 * (luma(x + 1, y) - luma(x - 1, y));
            const gy = 0.5 * (luma(x, y + 1) - luma(x, y - 1));
            const mag = Math.hypot(gx, gy);
            if (mag > 0) {
              let theta = Math.atan2(gy, gx);
              if (theta < 0) theta += Math.PI;
              const pos = theta / Math.PI * ORIENT_BINS;
              const lo = Math.floor(pos);
              const f = pos - lo;
              orient[lo % ORIENT_BINS] += mag * (1 - f);
              orient[(lo + 1) % ORIENT_BINS] += mag * f;
            }
          }
        }
        const npix = (x1 - x0) * (y1 - y0);
        const base = (cy * grid + cx) * CELL_DIM;
        colour.forEach((w, k) => row[base + k] = power(w / npix));
        const gsum = orient.reduce((a, w) => a + w, 0);
        orient.forEach((w, k) =>
          row[base + colour.length + k] = power(w / (gsum + GRAD_EPS * npix))
        );
      }
    }
    const mean = [r, g, b].map((c) => c.reduce((a, v) => a + v, 0) / n);
    const sd = [r, g, b].map((c, k) =>
      Math.sqrt(c.reduce((a, v) => a + (v - mean[k]) ** 2, 0) / n)
    );
    let chromaSum = 0;
    let valueSum = 0;
    for (let i = 0; i < n; i++) {
      const hi = Math.max(r[i], g[i], b[i]);
      chromaSum += hi - Math.min(r[i], g[i], b[i]);
      valueSum += hi;
    }
    row.set([...mean, ...sd, chromaSum / n, valueSum / n], grid * grid * CELL_DIM);
    let ss = 0;
    for (const v of row) ss += v * v;
    const scale = 1 / Math.max(Math.sqrt(ss), 1e-12);
    for (let j = 0; j < dim; j++) row[j] *= scale;
  }
  return out;
}

/** HSV hue in [0, 1) of a colour with chroma > 0 (same branch order as the kernel). */
function hueOf(r: number, g: number, b: number, hi: number, chroma: number): number {
  let h: number;
  if (hi === r) {
    h = (g - b) / chroma;
    if (h < 0) h += 6;
  } else if (hi === g) {
    h = (b - r) / chroma + 2;
  } else {
    h = (r - g) / chroma + 4;
  }
  return h / 6;
}
