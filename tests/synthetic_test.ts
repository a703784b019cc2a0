import { assertEquals, assertFinite, assertOk, assertRejects, gpuTest } from "./util.ts";
import {
  BACKGROUNDS,
  COLOURS,
  defaultScenes,
  generateDefaultDataset,
  generateScene,
  renderScene,
  type Scene,
} from "../src/data/synthetic.ts";
import {
  captionGrade,
  type CaptionSpec,
  COLOURS_V2,
  generateSceneV2,
  gradeRelation,
} from "../src/data/scene_v2.ts";
import { checkRelation, gradeOf, relevanceOf } from "../src/data/relation.ts";
import type { RetrievalDataset } from "../src/data/types.ts";
import { gaussian, seededRandom } from "../src/util/random.ts";

const SMALL = { seed: 5, images: 40, displaySize: 48, generator: "v2" as const };

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
    // Five captions per scene, all differently worded; v1 captions name every object's colour.
    for (let i = 0; i < all.numImages; i++) {
      const caps = all.captions!.slice(i * 5, i * 5 + 5);
      assertEquals(new Set(caps).size, 5, `captions of scene ${i}: ${caps.join(" | ")}`);
    }
    const synonyms: Record<string, string[]> = {
      red: ["red", "crimson", "scarlet"],
      blue: ["blue", "azure", "cobalt"],
    };
    const v1 = defaultScenes({ ...SMALL, generator: "v1" });
    for (let i = 0; i < v1.scenes.length; i++) {
      const caps = v1.captions.slice(i * 5, i * 5 + 5);
      for (const o of generateScene(5, i).objects) {
        const words = synonyms[COLOURS[o.colour].name];
        if (!words) continue;
        for (const c of caps) assertOk(words.some((w) => c.includes(w)), `"${c}" names the colour`);
      }
    }
    // renderImage draws the scene at the display size, background in the corner.
    const shown = await test.renderImage!(1);
    assertEquals([shown.width, shown.height, shown.rgba.length], [48, 48, 48 * 48 * 4]);
    const scene = generateSceneV2(5, Number(test.imageNames![1].slice(6)));
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

/** A scene from a list of (shape, colour, place, large) objects, drawn nowhere. */
function scene(
  background: number,
  objects: [Scene["objects"][number]["shape"], number, number, boolean][],
): Scene {
  return {
    background,
    objects: objects.map(([shape, colour, place, large]) => ({
      shape,
      colour,
      large,
      place,
      x: 0.5,
      y: 0.5,
      radius: 0.1,
      angle: 0,
      rgb: [0, 0, 0] as [number, number, number],
    })),
  };
}

Deno.test("v2 grades: a scene and captions with known grades", () => {
  const [red, orange, yellow, blue] = ["red", "orange", "yellow", "blue"].map((n) =>
    COLOURS_V2.findIndex((c) => c.name === n)
  );
  const [pink, cyan, teal] = ["pink", "cyan", "teal"].map((n) =>
    COLOURS_V2.findIndex((c) => c.name === n)
  );
  // Background 0; a small red circle top left (0), a large blue star in the centre (4), a small
  // orange square bottom right (8).
  const s = scene(0, [["circle", red, 0, false], ["star", blue, 4, true], [
    "square",
    orange,
    8,
    false,
  ]]);
  const grade = (spec: CaptionSpec) => captionGrade(spec, s);
  const circle = { shape: "circle" as const, colour: red, place: 0 };
  const star = { shape: "star" as const, colour: blue, place: 4, large: true };
  // 3: every described attribute of every described object (and the background) holds.
  assertEquals(grade({ objects: [circle] }), 3);
  assertEquals(grade({ objects: [{ ...circle, large: false }, star], background: 0 }), 3);
  // 2: all there, one attribute a step off — a neighbouring colour (red ~ orange, red ~ pink
  // round the circle), an adjacent cell, the other size, or the wrong background.
  assertEquals(grade({ objects: [{ ...circle, colour: orange }, star] }), 2);
  assertEquals(grade({ objects: [{ ...circle, colour: pink }] }), 2);
  assertEquals(grade({ objects: [{ ...circle, place: 1 }, star] }), 2);
  assertEquals(grade({ objects: [circle, { ...star, large: false }] }), 2);
  assertEquals(grade({ objects: [circle, star], background: 3 }), 2);
  // 1: one described object fully present, the rest not (or more than one step off).
  assertEquals(grade({ objects: [circle, { ...star, colour: cyan }] }), 2); // cyan ~ blue: 1 step
  assertEquals(grade({ objects: [circle, { ...star, colour: teal }] }), 1); // teal: 2 steps
  assertEquals(grade({ objects: [circle, { ...star, shape: "cross" }] }), 1);
  assertEquals(grade({ objects: [circle, { ...star, large: false }], background: 3 }), 1);
  // 0: nothing described is there — two steps of colour, a diagonal cell, another shape.
  assertEquals(grade({ objects: [{ ...circle, colour: yellow }] }), 0);
  assertEquals(grade({ objects: [{ ...circle, place: 4 }] }), 0);
  assertEquals(grade({ objects: [{ ...circle, shape: "hexagon" }] }), 0);
  // Two objects each a step off: two errors, and neither fully present.
  assertEquals(grade({ objects: [{ ...circle, colour: orange }, { ...star, place: 5 }] }), 0);
  // Described objects take distinct scene objects: two red circles need two.
  assertEquals(grade({ objects: [circle, circle] }), 1);
  assertEquals(grade({ objects: [{ ...circle, place: 1 }, circle] }), 1);
});

Deno.test("v2 grades: gradeRelation is exact — it equals grading every caption against every scene", () => {
  const { scenes, specs, textToImage } = defaultScenes({ generator: "v2", seed: 4, images: 150 });
  const pairs = gradeRelation(scenes, specs, textToImage);
  const found = new Map(pairs.map((p) => [`${p.text},${p.image}`, p.grade]));
  assertEquals(found.size, pairs.length, "no pair twice");
  const histogram = [0, 0, 0, 0];
  specs.forEach((spec, t) => {
    scenes.forEach((sc, i) => {
      const g = captionGrade(spec, sc);
      histogram[g]++;
      assertEquals(found.get(`${t},${i}`) ?? 0, g, `caption ${t}, scene ${i}`);
    });
    assertEquals(pairs.find((p) => p.text === t)!.image, textToImage[t], "own scene first");
  });
  assertOk(histogram[1] > 0 && histogram[2] > 0 && histogram[3] > specs.length, `${histogram}`);
});

gpuTest("v2 dataset: graded relation over every split; v1 stays ungraded", async () => {
  const { all, train, val } = await generateDefaultDataset(SMALL);
  const { scenes, specs } = defaultScenes(SMALL);
  const rel = relevanceOf(all);
  checkRelation(rel, all.textToImage, all.numImages, "default");
  for (let t = 0; t < all.numTexts; t++) {
    assertEquals(rel.grades[rel.offsets[t]], 3, "own scene at the top grade");
    for (let i = 0; i < all.numImages; i++) {
      assertEquals(gradeOf(rel, t, i), captionGrade(specs[t], scenes[i]));
    }
  }
  assertOk(rel.images.length > all.numTexts, "captions are partly relevant to other scenes");
  for (const part of [train, val]) {
    checkRelation(part.relevance!, part.textToImage, part.numImages, part.name);
  }
  const v1 = await generateDefaultDataset({ ...SMALL, generator: "v1" });
  assertEquals(v1.all.relevance, undefined);
  await assertRejects(
    () => generateDefaultDataset({ images: 2, generator: "v3" as never }),
    /generator v3 is not one of v2, v1/,
  );
});
