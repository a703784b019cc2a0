import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertOk,
  assertRejects,
  assertThrows,
  gpuTest,
  rng,
} from "./util.ts";
import { Image } from "imagescript";
import {
  computeImageFeatures,
  decodeImage,
  featuriseImageFiles,
  featuriseImages,
  imageFeatureDim,
  imageHeaderSize,
  readImageFile,
  resizeForFeatures,
} from "../src/data/image_features.ts";
import { imageFeaturesRef } from "../src/reference/image_features.ts";

// GPU float32 vs float64 reference. Random images differ by < 1e-6. At exact bin centres (axis-
// aligned edges, pure hues) float32 atan2 / hue rounding can move ~1e-7 of weight into the
// neighbouring bin, which the smoothed square root (slope ≤ 50 at 0) turns into up to ~2e-5.
const TOL = { atol: 3e-5, rtol: 1e-4 };

/** `count` images of `size × size` random RGBA pixels. */
function randomPixels(count: number, size: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: count * size * size * 4 }, () => Math.floor(r() * 256));
}

/** Pixels from a function of (x, y) → [r, g, b]. */
function drawn(size: number, f: (x: number, y: number) => number[]): Uint8Array {
  const out = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) out.set([...f(x, y), 255], (y * size + x) * 4);
  }
  return out;
}

async function compare(
  pixels: Uint8Array,
  count: number,
  size: number,
  grid: number,
  batch?: number,
  rowsPerRead?: number,
) {
  const gpu = await computeImageFeatures(pixels, count, { size, grid, batch, rowsPerRead });
  const cpu = imageFeaturesRef(pixels, count, size, grid);
  assertEquals(gpu.length, count * imageFeatureDim(grid));
  assertFinite(gpu, "features");
  assertAllClose(gpu, cpu, TOL, `${count} images ${size}x${size} grid ${grid}`);
  return gpu;
}

gpuTest(
  "image features: GPU kernel matches the float64 reference on random and edge shapes",
  async () => {
    // 1×1 images, uneven cells (7 px over 3 cells), one cell, the default 64/4, and a count whose
    // cell invocations are not a multiple of the workgroup size, split over several batches.
    const cases: [number, number, number, number?][] = [
      [1, 1, 1],
      [3, 7, 3],
      [2, 5, 1],
      [2, 64, 4],
      [70, 16, 4, 16],
      [5, 33, 4, 2],
      [200, 64, 4, 96], // large: 3200 cell invocations, 3 batches
    ];
    for (const [count, size, grid, batch] of cases) {
      await compare(randomPixels(count, size, count * 31 + size), count, size, grid, batch);
    }
    // Output read back in parts of 40 rows (batches of 16 straddle the parts).
    await compare(randomPixels(70, 8, 3), 70, 8, 2, 16, 40);
  },
);

gpuTest("image features: flat, saturated and high-frequency images", async () => {
  const size = 16;
  const images = [
    drawn(size, () => [0, 0, 0]), // black: all weight in the dark grey bin, no gradients
    drawn(size, () => [255, 255, 255]), // white
    drawn(size, () => [255, 0, 0]), // pure red: hue exactly at bin 0
    drawn(size, () => [0, 255, 255]), // cyan: hue 0.5, exactly bin 4
    drawn(size, (x, y) => ((x + y) % 2 ? [255, 255, 255] : [0, 0, 0])), // checkerboard
    drawn(size, (x) => [x * 16, 255 - x * 16, 128]), // smooth colour ramp
  ];
  const pixels = new Uint8Array(images.length * size * size * 4);
  images.forEach((im, i) => pixels.set(im, i * im.length));
  const f = await compare(pixels, images.length, size, 4);
  const dim = imageFeatureDim(4);
  // Rows have unit norm.
  for (let i = 0; i < images.length; i++) {
    const row = f.subarray(i * dim, (i + 1) * dim);
    assertAllClose([Math.hypot(...row)], [1], { atol: 1e-5 }, `norm of row ${i}`);
  }
  // Black: each cell has grey bin 0 = 1 and nothing else; so 16 ones, normalised by 4.
  const black = f.subarray(0, dim);
  assertAllClose([black[8], black[9], black[11]], [0.25, 0, 0], { atol: 1e-6 }, "black cell 0");
  // Red lands in hue bin 0 only, cyan in hue bin 4 only (weights = chroma 1 → sqrt(1) per cell).
  const red = f.subarray(2 * dim, 3 * dim);
  const cyan = f.subarray(3 * dim, 4 * dim);
  assertOk(red[0] > 0.2 && red[1] === 0 && red[7] === 0, "red in hue bin 0");
  assertOk(cyan[4] > 0.2 && cyan[0] === 0 && cyan[3] === 0, "cyan in hue bin 4");
});

gpuTest(
  "image features: vertical and horizontal edges land in orientation bins 0 and 4",
  async () => {
    const size = 16;
    const vertical = drawn(size, (x) => (x < 8 ? [0, 0, 0] : [255, 255, 255]));
    const horizontal = drawn(size, (_x, y) => (y < 8 ? [0, 0, 0] : [255, 255, 255]));
    const pixels = new Uint8Array([...vertical, ...horizontal]);
    const f = await compare(pixels, 2, size, 2);
    const dim = imageFeatureDim(2);
    const orient = (img: number, cell: number) =>
      Array.from(f.subarray(img * dim + cell * 19 + 11, img * dim + cell * 19 + 19));
    // A left-to-right step has gradient along +x: angle 0, bin 0 only.
    const v = orient(0, 0);
    assertOk(v[0] > 0 && v.slice(1).every((x) => x === 0), `vertical edge bins ${v}`);
    const h = orient(1, 0);
    assertOk(h[4] > 0 && h.filter((_, k) => k !== 4).every((x) => x === 0), `horizontal edge ${h}`);
  },
);

gpuTest("image features: bad sizes and pixel counts are rejected", async () => {
  await assertRejects(
    () => computeImageFeatures(new Uint8Array(10), 1, { size: 4 }),
    /10 pixel bytes for 1 images of 4 × 4/,
  );
  await assertRejects(
    () => computeImageFeatures(new Uint8Array(64), 1, { size: 4, grid: 5 }),
    /grid 5 must be an integer in \[1, size = 4\]/,
  );
  assertEquals((await computeImageFeatures(new Uint8Array(0), 0)).length, 0);
});

Deno.test("resize: centre crop, area averaging, upscaling and alpha over white", () => {
  // A 4 × 2 image: the centred 2 × 2 square is columns 1..2.
  const wide = { width: 4, height: 2, rgba: new Uint8Array(4 * 2 * 4) };
  for (let i = 0; i < 8; i++) wide.rgba.set([i * 10, 0, 0, 255], i * 4);
  const crop = resizeForFeatures(wide, 2);
  assertEquals([crop[0], crop[4], crop[8], crop[12]], [10, 20, 50, 60]);
  // 4 × 4 → 2 × 2 averages 2 × 2 blocks.
  const sq = { width: 4, height: 4, rgba: new Uint8Array(64) };
  for (let i = 0; i < 16; i++) sq.rgba.set([i * 8, 0, 100, 255], i * 4);
  const half = resizeForFeatures(sq, 2);
  assertEquals(Array.from(half.subarray(0, 4)), [20, 0, 100, 255]); // mean of 0, 8, 32, 40
  // 3 × 3 → 2 × 2: each output pixel covers 1.5 × 1.5 source pixels.
  const three = { width: 3, height: 3, rgba: new Uint8Array(36) };
  for (let i = 0; i < 9; i++) three.rgba.set([i === 4 ? 255 : 0, 0, 0, 255], i * 4);
  assertEquals(resizeForFeatures(three, 2)[0], Math.round(255 * (0.5 * 0.5) / (1.5 * 1.5)));
  // Upscaling a single pixel, and 50 % transparent red over white.
  const one = { width: 1, height: 1, rgba: new Uint8Array([255, 0, 0, 128]) };
  const up = resizeForFeatures(one, 3);
  assertEquals(Array.from(up.subarray(16, 20)), [255, 127, 127, 255]);
  assertThrows(
    () => resizeForFeatures({ width: 2, height: 2, rgba: new Uint8Array(3) }),
    /3 bytes for 2 × 2/,
  );
});

// A 1-component (grayscale) JPEG and a 16-bit grayscale PNG written by ImageMagick.
const GRAY_JPEG =
  "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/wAALCAAMAAgBAREA/8QAFQABAQAAAAAAAAAAAAAAAAAACAr/xAAeEAABAgcBAAAAAAAAAAAAAAABAFYCBxgZkZPR4f/aAAgBAQAAPwBcXpy6xu9UxlVM6HMcRdX/2Q==";
const GRAY16_PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAoAAAAFEAAAAAAJn/73AAAABGdBTUEAALGPC/xhBQAAAAJiS0dE//8UqzHNAAAAB3RJTUUH6gsdBC0jK+yvVgAAABpJREFUCNdjYMACGB2wCLJgFbT/j0X7fyyCAH9+A8ejdCnUAAAAJXRFWHRkYXRlOmNyZWF0ZQAyMDI2LTExLTI5VDA0OjQ1OjM1KzAwOjAwj1HjYQAAACV0RVh0ZGF0ZTptb2RpZnkAMjAyNi0xMS0yOVQwNDo0NTozNSswMDowMP4MW90AAAAASUVORK5CYII=";
const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

gpuTest(
  "image files: JPEG, PNG, grayscale and odd aspect ratios decode and featurise",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "crossrank-images-" });
    try {
      const wide = new Image(90, 20);
      wide.fill(Image.rgbaToColor(200, 40, 40, 255));
      const tall = new Image(7, 50);
      tall.fill(Image.rgbaToColor(20, 40, 200, 255));
      await Deno.writeFile(`${dir}/wide.png`, await wide.encode());
      await Deno.writeFile(`${dir}/tall.jpg`, await tall.encodeJPEG(90));
      await Deno.writeFile(`${dir}/gray.jpg`, b64(GRAY_JPEG));
      await Deno.writeFile(`${dir}/gray16.png`, b64(GRAY16_PNG));
      const gray = await readImageFile(`${dir}/gray.jpg`);
      assertEquals([gray.width, gray.height], [8, 12]);
      assertEquals([gray.rgba[0], gray.rgba[1], gray.rgba[2]], [255, 255, 255]); // r = g = b
      assertEquals((await readImageFile(`${dir}/gray16.png`)).width, 10);

      const paths = ["wide.png", "tall.jpg", "gray.jpg", "gray16.png"].map((f) => `${dir}/${f}`);
      const feats = await featuriseImageFiles(paths);
      assertEquals(feats.length, 4 * imageFeatureDim());
      assertFinite(feats, "file features");
      // Same pipeline from decoded images, and the CPU reference on the same resized pixels.
      const decoded = await Promise.all(paths.map((p) => readImageFile(p)));
      assertAllClose(await featuriseImages(decoded), feats, { atol: 0, rtol: 0 }, "decoded path");
      const pixels = new Uint8Array(decoded.flatMap((d) => Array.from(resizeForFeatures(d))));
      assertAllClose(feats, imageFeaturesRef(pixels, 4, 64, 4), TOL, "files vs reference");

      await Deno.writeFile(`${dir}/corrupt.jpg`, b64(GRAY_JPEG).subarray(0, 90));
      await Deno.writeTextFile(`${dir}/text.png`, "not an image");
      await assertRejects(
        () => readImageFile(`${dir}/corrupt.jpg`),
        /corrupt\.jpg: unreadable image/,
      );
      await assertRejects(
        () => featuriseImageFiles([paths[0], `${dir}/text.png`]),
        /text\.png: unreadable image/,
      );
      await assertRejects(() => readImageFile(`${dir}/missing.png`), /missing\.png: no such file/);
      await assertRejects(
        () => decodeImage(new Uint8Array(0), "empty.png"),
        /empty\.png: unreadable image/,
      );

      // The declared size is read from the header (PNG IHDR, JPEG start-of-frame) and checked
      // against the pixel limit before anything is decoded.
      assertEquals(imageHeaderSize(await Deno.readFile(paths[0])), { width: 90, height: 20 });
      assertEquals(imageHeaderSize(await Deno.readFile(paths[1])), { width: 7, height: 50 });
      assertEquals(imageHeaderSize(b64(GRAY_JPEG)), { width: 8, height: 12 });
      assertEquals(imageHeaderSize(new TextEncoder().encode("GIF89a......")), null);
      await assertRejects(
        () => readImageFile(paths[0], { maxImagePixels: 1000 }),
        /wide\.png: the image declares 90 × 20 pixels \(0\.0 MP\), over the limit of 0\.001 MP; raise it with --max-megapixels/,
      );
      // A PNG that is only a header declaring 16000 × 16000, and a JPEG whose frame says 60000 ×
      // 50000: refused at once, from a few bytes.
      const png = (await Deno.readFile(paths[0])).slice(0, 33);
      new DataView(png.buffer).setUint32(16, 16000);
      new DataView(png.buffer).setUint32(20, 16000);
      await Deno.writeFile(`${dir}/huge.png`, png);
      await assertRejects(
        () => featuriseImageFiles([`${dir}/huge.png`]),
        /huge\.png: the image declares 16000 × 16000 pixels \(256\.0 MP\), over the limit of 40 MP/,
      );
      const jpeg = b64(GRAY_JPEG);
      const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0);
      new DataView(jpeg.buffer).setUint16(sof + 5, 50000);
      new DataView(jpeg.buffer).setUint16(sof + 7, 60000);
      await Deno.writeFile(`${dir}/huge.jpg`, jpeg);
      await assertRejects(
        () => readImageFile(`${dir}/huge.jpg`),
        /huge\.jpg: the image declares 60000 × 50000 pixels \(3000\.0 MP\)/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
