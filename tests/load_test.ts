import {
  assertEquals,
  assertOk,
  assertRejects,
  assertThrows,
  gpuTest,
  sharedData,
} from "./util.ts";
import { Image } from "imagescript";
import { splitByImage, subsetByImages } from "../src/data/split.ts";
import { detectDataKind, loadRetrievalData, loadRetrievalSplits } from "../src/data/load.ts";
import { writeNpy } from "../src/data/npy.ts";
import type { RetrievalDataset } from "../src/data/types.ts";

/** A toy dataset: image i has features [i, -i], texts t of image ⌊t/2⌋ have [t]. */
function toy(numImages: number): RetrievalDataset {
  const numTexts = numImages * 2;
  return {
    name: "toy",
    images: Float32Array.from({ length: numImages * 2 }, (_, k) => (k % 2 ? -1 : 1) * (k >> 1)),
    numImages,
    imageDim: 2,
    texts: Float32Array.from({ length: numTexts }, (_, t) => t),
    numTexts,
    textDim: 1,
    textToImage: Int32Array.from({ length: numTexts }, (_, t) => t >> 1),
    imageNames: Array.from({ length: numImages }, (_, i) => `img${i}`),
    captions: Array.from({ length: numTexts }, (_, t) => `cap${t}`),
    renderImage: (i) =>
      Promise.resolve({ width: 1, height: 1, rgba: new Uint8Array([i, 0, 0, 255]) }),
  };
}

Deno.test("split: by image, seeded, re-indexed consistently, names and renderer follow", async () => {
  const ds = toy(50);
  const s = splitByImage(ds, { valFraction: 0.1, testFraction: 0.2, seed: 4 });
  assertEquals([s.train.numImages, s.val.numImages, s.test.numImages], [35, 5, 10]);
  assertEquals([s.train.name, s.val.name, s.test.name], ["toy-train", "toy-val", "toy-test"]);
  const all = [s.train, s.val, s.test].flatMap((p) => p.imageNames!);
  assertEquals(new Set(all).size, 50);
  for (const part of [s.train, s.val, s.test]) {
    assertEquals(part.numTexts, part.numImages * 2);
    for (let t = 0; t < part.numTexts; t++) {
      const i = part.textToImage[t];
      const original = Number(part.imageNames![i].slice(3));
      assertEquals(part.images[i * 2], original); // image row moved with its name
      assertEquals(part.captions![t], `cap${part.texts[t]}`); // caption moved with its text row
      assertEquals(part.texts[t] >> 1, original); // the text still belongs to its image
    }
    const shown = await part.renderImage!(0);
    assertEquals(shown.rgba[0], Number(part.imageNames![0].slice(3)));
  }
  // Same seed, same split; another seed, another split.
  const again = splitByImage(ds, { valFraction: 0.1, testFraction: 0.2, seed: 4 });
  assertEquals(again.test.imageNames, s.test.imageNames);
  assertOk(
    splitByImage(ds, { valFraction: 0.1, testFraction: 0.2, seed: 5 }).test.imageNames!.join() !==
      s.test.imageNames!.join(),
  );
  // A positive fraction takes at least one image; zero gives an empty split.
  const tiny = splitByImage(toy(3), { valFraction: 0.01, seed: 1 });
  assertEquals([tiny.train.numImages, tiny.val.numImages, tiny.test.numImages], [2, 1, 0]);
  assertEquals(tiny.test.images.length, 0);
  assertThrows(
    () => splitByImage(toy(2), { valFraction: 0.4, testFraction: 0.4, seed: 1 }),
    /2 images leave none for training/,
  );
  assertThrows(
    () => splitByImage(toy(2), { valFraction: -0.1, seed: 1 }),
    /valFraction -0\.1 is not in \[0, 1\)/,
  );
  assertThrows(() => subsetByImages(ds, [0, 0], "x"), /image 0 listed twice/);
  assertThrows(() => subsetByImages(ds, [50], "x"), /image index 50 out of range/);
  await assertRejects(() => s.val.renderImage!(5), /image 5 out of range \[0, 5\)/);
});

gpuTest("load: dispatches default, features and collections; clear error otherwise", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-load-" });
  try {
    const small = { defaultDataset: { images: 30 }, seed: 2 };
    assertEquals(await detectDataKind(), "default");
    const whole = await loadRetrievalData(undefined, small);
    assertEquals([whole.name, whole.numImages], ["default", 30]);
    const test = await loadRetrievalData(undefined, { ...small, split: "test" });
    assertEquals([test.name, test.numImages, test.numTexts], ["default-test", 3, 15]);
    const splits = await loadRetrievalSplits(undefined, small);
    assertEquals(splits.test.imageNames, test.imageNames);

    // Features directory.
    await Deno.mkdir(`${dir}/feats`);
    await writeNpy(`${dir}/feats/images.npy`, new Float32Array(40).fill(1), [20, 2]);
    await writeNpy(`${dir}/feats/texts.npy`, new Float32Array(40).fill(2), [20, 2]);
    assertEquals(await detectDataKind(`${dir}/feats/`), "features");
    assertEquals((await loadRetrievalData(`${dir}/feats`)).numImages, 20);
    const fsplit = await loadRetrievalSplits(`${dir}/feats`, {
      valFraction: 0.25,
      testFraction: 0.25,
    });
    assertEquals([fsplit.train.numImages, fsplit.val.numImages, fsplit.test.numImages], [10, 5, 5]);
    assertEquals(
      (await loadRetrievalData(`${dir}/feats`, { split: "val", valFraction: 0.5 })).numImages,
      10,
    );

    // Collection directory.
    await Deno.mkdir(`${dir}/coll`);
    const img = new Image(8, 8);
    img.fill(Image.rgbaToColor(9, 99, 199, 255));
    await Deno.writeFile(`${dir}/coll/p.png`, await img.encode());
    await Deno.writeTextFile(`${dir}/coll/captions.csv`, "image,caption\np.png,a blue square\n");
    assertEquals(await detectDataKind(`${dir}/coll`), "collection");
    assertEquals((await loadRetrievalData(`${dir}/coll`)).captions, ["a blue square"]);

    // Nothing recognisable.
    await Deno.mkdir(`${dir}/empty`);
    await assertRejects(
      () => loadRetrievalData(`${dir}/empty`),
      /no images\.npy\/texts\.npy, \*\.safetensors or captions file found in .*empty/,
    );
    await assertRejects(() => loadRetrievalData(`${dir}/coll/p.png`), /p\.png: not a dataset/);
    await assertRejects(
      () => loadRetrievalData(`${dir}/nothing`),
      /nothing: no such file or directory/,
    );
    await assertRejects(
      // deno-lint-ignore no-explicit-any
      () => loadRetrievalData(`${dir}/feats`, { split: "dev" as any }),
      /split dev is not all, train, val or test/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const flickr = sharedData("flickr8k-clip-b32-val");
Deno.test({
  name: "load: the real Flickr8k features directory",
  ignore: flickr === null,
  fn: async () => {
    const ds = await loadRetrievalData(flickr!);
    assertEquals([ds.name, ds.numImages, ds.numTexts, ds.imageDim], [
      "flickr8k-clip-b32-val",
      1000,
      1000,
      512,
    ]);
  },
});
