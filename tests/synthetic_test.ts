import { assertEquals, assertFinite, assertOk, assertRejects, gpuTest } from "./util.ts";
import {
  BACKGROUNDS,
  COLOURS,
  generateDefaultDataset,
  generateScene,
  renderScene,
} from "../src/data/synthetic.ts";
import type { RetrievalDataset } from "../src/data/types.ts";
import { gaussian, seededRandom } from "../src/util/random.ts";

const SMALL = { seed: 5, images: 40, displaySize: 48 };

gpuTest(
  "default dataset: deterministic from the seed; scene i independent of the size",
  async () => {
    const a = await generateDefaultDataset(SMALL);
    const b = await generateDefaultDataset(SMALL);
    for (const key of ["train", "val", "test", "all"] as const) {
      assertEquals(Array.from(a[key].images), Array.from(b[key].images), `${key} images`);
      assertEquals(Array.from(a[key].texts), Array.from(b[key].texts), `${key} texts`);
      assertEquals(Array.from(a[key].textToImage), Array.from(b[key].textToImage));
      assertEquals(a[key].captions, b[key].captions);
      assertEquals(a[key].imageNames, b[key].imageNames);
    }
    const other = await generateDefaultDataset({ ...SMALL, seed: 6 });
    assertOk(other.all.captions!.join() !== a.all.captions!.join(), "another seed, other scenes");
    const smaller = await generateDefaultDataset({ ...SMALL, images: 20 });
    const n = 20 * a.all.imageDim;
    assertEquals(Array.from(smaller.all.images), Array.from(a.all.images.subarray(0, n)));
    assertEquals(smaller.all.captions, a.all.captions!.slice(0, 100));
  },
);

gpuTest(
  "default dataset: shapes, splits by image, five distinct captions, renderImage",
  async () => {
    const { train, val, test, all } = await generateDefaultDataset(SMALL);
    assertEquals([all.numImages, all.numTexts, all.imageDim, all.textDim], [40, 200, 312, 1024]);
    assertEquals([train.numImages, val.numImages, test.numImages], [32, 4, 4]);
    assertEquals([train.numTexts, val.numTexts, test.numTexts], [160, 20, 20]);
    assertFinite(all.images, "image features");
    assertFinite(all.texts, "text features");
    // No scene in two splits; each split's texts are exactly its scenes' captions.
    const names = [train, val, test].flatMap((s) => s.imageNames!);
    assertEquals(new Set(names).size, 40);
    for (const split of [train, val, test]) {
      for (let t = 0; t < split.numTexts; t++) {
        const scene = Number(split.imageNames![split.textToImage[t]].slice(6));
        assertOk(
          all.captions!.slice(scene * 5, scene * 5 + 5).includes(split.captions![t]),
          "caption",
        );
      }
    }
    // Five captions per scene, all differently worded, each naming every object's colour.
    const synonyms: Record<string, string[]> = {
      red: ["red", "crimson", "scarlet"],
      blue: ["blue", "azure", "cobalt"],
    };
    for (let i = 0; i < all.numImages; i++) {
      const caps = all.captions!.slice(i * 5, i * 5 + 5);
      assertEquals(new Set(caps).size, 5, `captions of scene ${i}: ${caps.join(" | ")}`);
      for (const o of generateScene(5, i).objects) {
        const words = synonyms[COLOURS[o.colour].name];
        if (!words) continue;
        for (const c of caps) assertOk(words.some((w) => c.includes(w)), `"${c}" names the colour`);
      }
    }
    // renderImage draws the scene at the display size, background in the corner.
    const shown = await test.renderImage!(1);
    assertEquals([shown.width, shown.height, shown.rgba.length], [48, 48, 48 * 48 * 4]);
    const scene = generateScene(5, Number(test.imageNames![1].slice(6)));
    assertEquals(Array.from(shown.rgba.subarray(0, 3)), [...BACKGROUNDS[scene.background].rgb]);
    assertEquals(Array.from(shown.rgba), Array.from(renderScene(scene, 48)));
    await assertRejects(() => test.renderImage!(4), /image 4 out of range \[0, 4\)/);
    await assertRejects(
      () => generateDefaultDataset({ images: 0 }),
      /images 0 must be a positive integer/,
    );
    await assertRejects(
      () => generateDefaultDataset({ images: 5, captionsPerImage: 6 }),
      /captionsPerImage 6 must be an integer in \[1, 5\]/,
    );
  },
);

Deno.test("default dataset: hard negatives — every scene shares a shape with a scene that differs", () => {
  const scenes = Array.from({ length: 300 }, (_, i) => generateScene(11, i));
  let withHardNegative = 0;
  scenes.forEach((s, i) => {
    const found = scenes.some((other, j) =>
      j !== i &&
      s.objects.some((o) =>
        other.objects.some((p) =>
          p.shape === o.shape && (p.colour !== o.colour || p.place !== o.place)
        )
      )
    );
    if (found) withHardNegative++;
  });
  assertEquals(withHardNegative, 300);
  // Same shape and colour in another place also occurs (position matters).
  const samePlaceless =
    scenes.filter((s, i) =>
      scenes.some((o, j) =>
        j !== i && o.objects.length === 1 && s.objects.length === 1 &&
        o.objects[0].shape === s.objects[0].shape && o.objects[0].colour === s.objects[0].colour &&
        o.objects[0].place !== s.objects[0].place
      )
    ).length;
  assertOk(samePlaceless > 20, `${samePlaceless} single-object scenes with a moved twin`);
});

/** t2i R@K (percent) for text rows `txt` against image rows `img` (both `dim` wide), by cosine. */
function recallAt(
  ds: RetrievalDataset,
  txt: ArrayLike<number>,
  img: ArrayLike<number>,
  dim: number,
) {
  const norm = (a: ArrayLike<number>, i: number) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += a[i * dim + j] ** 2;
    return Math.sqrt(s) || 1;
  };
  const imgNorm = Array.from({ length: ds.numImages }, (_, i) => norm(img, i));
  const hits = [0, 0, 0];
  for (let t = 0; t < ds.numTexts; t++) {
    const scores = Array.from({ length: ds.numImages }, (_, i) => {
      let s = 0;
      for (let j = 0; j < dim; j++) s += txt[t * dim + j] * img[i * dim + j];
      return s / imgNorm[i];
    });
    const target = scores[ds.textToImage[t]];
    const rank = scores.filter((s) => s > target).length; // ties count in the query's favour
    [1, 5, 10].forEach((k, n) => hits[n] += rank < k ? 1 : 0);
  }
  return hits.map((h) => (100 * h) / ds.numTexts);
}

/** Ridge regression image → text features on `ds` (one row per text): W is imageDim × textDim. */
function fitRidge(ds: RetrievalDataset, lambda: number): Float64Array {
  const p = ds.imageDim, q = ds.textDim;
  const a = new Float64Array(p * p);
  const b = new Float64Array(p * q);
  for (let t = 0; t < ds.numTexts; t++) {
    const x = ds.images.subarray(ds.textToImage[t] * p, (ds.textToImage[t] + 1) * p);
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) a[i * p + j] += x[i] * x[j];
    for (let j = 0; j < q; j++) {
      const y = ds.texts[t * q + j];
      if (y !== 0) { for (let i = 0; i < p; i++) b[i * q + j] += x[i] * y; }
    }
  }
  for (let i = 0; i < p; i++) a[i * p + i] += lambda;
  // Cholesky a = L Lᵀ, then two triangular solves per column of b.
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j];
      for (let k = 0; k < j; k++) s -= l[i * p + k] * l[j * p + k];
      l[i * p + j] = i === j ? Math.sqrt(s) : s / l[j * p + j];
    }
  }
  const w = new Float64Array(p * q);
  const z = new Float64Array(p);
  for (let j = 0; j < q; j++) {
    for (let i = 0; i < p; i++) {
      let s = b[i * q + j];
      for (let k = 0; k < i; k++) s -= l[i * p + k] * z[k];
      z[i] = s / l[i * p + i];
    }
    for (let i = p - 1; i >= 0; i--) {
      let s = z[i];
      for (let k = i + 1; k < p; k++) s -= l[k * p + i] * w[k * q + j];
      w[i * q + j] = s / l[i * p + i];
    }
  }
  return w;
}

gpuTest(
  "default dataset: raw features retrieve at chance, a linear map fitted on train does not",
  async () => {
    const { train, test } = await generateDefaultDataset({ seed: 3, images: 600 });
    const p = test.imageDim, q = test.textDim;
    const chance = [1, 5, 10].map((k) => (100 * k) / test.numImages); // 60 test images
    // Untrained: the dimensions differ (1024 vs 312), so project texts with a random Gaussian map.
    const random = seededRandom(9);
    const proj = Float64Array.from({ length: q * p }, () => gaussian(random));
    const projected = new Float64Array(test.numTexts * p);
    for (let t = 0; t < test.numTexts; t++) {
      for (let j = 0; j < q; j++) {
        const y = test.texts[t * q + j];
        if (y !== 0) { for (let i = 0; i < p; i++) projected[t * p + i] += y * proj[j * p + i]; }
      }
    }
    const untrained = recallAt(test, projected, test.images, p);
    // Linear least squares on train, image features → text features, evaluated on test.
    const w = fitRidge(train, 1);
    const predicted = new Float64Array(test.numImages * q);
    for (let i = 0; i < test.numImages; i++) {
      for (let k = 0; k < p; k++) {
        const x = test.images[i * p + k];
        for (let j = 0; j < q; j++) predicted[i * q + j] += x * w[k * q + j];
      }
    }
    const trained = recallAt(test, test.texts, predicted, q);
    console.log(
      `chance R@1/5/10 ${chance.map((v) => v.toFixed(1))}; random projection ` +
        `${untrained.map((v) => v.toFixed(1))}; ridge ${trained.map((v) => v.toFixed(1))}`,
    );
    assertOk(
      untrained[0] < 3 * chance[0] && untrained[2] < 2 * chance[2],
      `untrained ${untrained}`,
    );
    assertOk(trained[0] > 15 * chance[0] && trained[2] > 4 * chance[2], `trained ${trained}`);
  },
);
