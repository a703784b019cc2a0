import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertRejects,
  gpuTest,
  sharedData,
} from "./util.ts";
import { Image } from "imagescript";
import { loadCollection, parseCocoCaptions } from "../src/data/collection.ts";
import { featuriseImageFiles, imageFeatureDim } from "../src/data/image_features.ts";
import { featuriseTexts } from "../src/data/text_features.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-collection-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes a small solid-colour image (PNG or JPEG by extension). */
async function writeImage(path: string, rgb: [number, number, number], w = 24, h = 16) {
  const img = new Image(w, h);
  img.fill(Image.rgbaToColor(...rgb, 255));
  await Deno.writeFile(path, path.endsWith(".png") ? await img.encode() : await img.encodeJPEG(90));
}

const coco = (images: unknown[], annotations: unknown[]) => JSON.stringify({ images, annotations });

gpuTest("collection: COCO captions JSON with an images/ folder", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/images`);
    await writeImage(`${dir}/images/b.png`, [200, 30, 30]);
    await writeImage(`${dir}/images/a.jpg`, [30, 30, 200], 10, 40);
    await Deno.writeTextFile(
      `${dir}/captions.json`,
      coco([{ id: 7, file_name: "b.png" }, { id: 3, file_name: "a.jpg" }], [
        { image_id: 3, caption: "a blue image " },
        { image_id: 7, caption: "a red image" },
        { image_id: 3, caption: "blue, tall" },
      ]),
    );
    const ds = await loadCollection(dir);
    assertEquals(ds.name, dir.split("/").at(-1));
    assertEquals([ds.numImages, ds.imageDim, ds.numTexts, ds.textDim], [
      2,
      imageFeatureDim(),
      3,
      1024,
    ]);
    // Images in "images" order, texts grouped by image in annotation order.
    assertEquals(ds.imageNames, ["b.png", "a.jpg"]);
    assertEquals(ds.imagePaths, [`${dir}/images/b.png`, `${dir}/images/a.jpg`]);
    assertEquals(ds.captions, ["a red image", "a blue image", "blue, tall"]);
    assertEquals(Array.from(ds.textToImage), [0, 1, 1]);
    assertAllClose(
      ds.images,
      await featuriseImageFiles(ds.imagePaths!),
      { atol: 0, rtol: 0 },
      "images",
    );
    assertAllClose(ds.texts, featuriseTexts(ds.captions!), { atol: 0, rtol: 0 }, "texts");
  });
});

gpuTest("collection: Flickr-style CSV, with and without caption_index", async () => {
  await withDir(async (dir) => {
    await writeImage(`${dir}/x.jpg`, [10, 200, 10]);
    await writeImage(`${dir}/y.png`, [250, 250, 10]);
    await Deno.writeTextFile(
      `${dir}/captions.csv`,
      'image,caption\ny.png,"yellow, bright"\nx.jpg,green\ny.png,sunny\n',
    );
    const ds = await loadCollection(dir, { textDim: 64 });
    assertEquals(ds.imageNames, ["y.png", "x.jpg"]);
    assertEquals(ds.captions, ["yellow, bright", "sunny", "green"]);
    assertEquals(Array.from(ds.textToImage), [0, 0, 1]);
    assertEquals(ds.textDim, 64);
    assertFinite(ds.images, "images");

    await Deno.writeTextFile(
      `${dir}/captions.csv`,
      "image,caption_index,caption\nx.jpg,1,second\nx.jpg,0,first\ny.png,0,only\n",
    );
    const indexed = await loadCollection(dir, { name: "flickr-style" });
    assertEquals(indexed.name, "flickr-style");
    assertEquals(indexed.captions, ["first", "second", "only"]);
  });
});

gpuTest("collection: bad input names the file and the fault", async () => {
  await withDir(async (dir) => {
    const fails = (pattern: RegExp, options = {}) =>
      assertRejects(() => loadCollection(dir, options), pattern);
    await fails(/no captions file \(captions\.json or captions\.csv\) found/);
    await writeImage(`${dir}/a.png`, [1, 2, 3]);
    await writeImage(`${dir}/b.png`, [4, 5, 6]);
    const json = (images: unknown[], annotations: unknown[]) =>
      Deno.writeTextFile(`${dir}/captions.json`, coco(images, annotations));
    const a = { id: 1, file_name: "a.png" };
    const b = { id: 2, file_name: "b.png" };

    // A path that leaves the image folder, directly or through a symlink, is refused with the
    // annotation (COCO) or the line (CSV) that names it.
    const outside = await Deno.makeTempDir({ prefix: "crossrank-outside-" });
    try {
      await writeImage(`${outside}/x.png`, [7, 8, 9]);
      const escape = `../${outside.split("/").at(-1)}/x.png`;
      await json([a, { id: 5, file_name: escape }], [{ image_id: 1, caption: "x" }]);
      await fails(
        /captions\.json images\[1\] \(id 5\): image ".*x\.png" resolves to .*crossrank-outside-.*\/x\.png, outside the image folder/,
      );
      await Deno.writeTextFile(`${dir}/captions.csv`, `image,caption\na.png,x\n${escape},y\n`);
      await fails(
        /captions\.csv line 3: image ".*x\.png" resolves to .*, outside the image folder/,
        {
          captionsFile: `${dir}/captions.csv`,
        },
      );
      await Deno.remove(`${dir}/captions.csv`);
      await Deno.symlink(`${outside}/x.png`, `${dir}/link.png`);
      await json([a, { id: 5, file_name: "link.png" }], [{ image_id: 1, caption: "x" }]);
      await fails(/captions\.json images\[1\] \(id 5\): image "link\.png" resolves to .*outside/);
      // An unnamed link out of the folder is refused too (it would be a distractor).
      await json([a, b], [{ image_id: 1, caption: "x" }]);
      await fails(/link\.png: a link to .*x\.png, outside the image folder/);
      await Deno.remove(`${dir}/link.png`);
    } finally {
      await Deno.remove(outside, { recursive: true });
    }

    // Images without captions stay in the gallery as distractors: a COCO image with no
    // annotation keeps its place, and files the captions never name follow, sorted by name.
    await writeImage(`${dir}/c.jpg`, [9, 9, 9]);
    await json([b, a], [{ image_id: 1, caption: "x" }]);
    const ds = await loadCollection(dir);
    assertEquals(ds.imageNames, ["b.png", "a.png", "c.jpg"]);
    assertEquals([ds.numImages, ds.numTexts, Array.from(ds.textToImage)], [3, 1, [1]]);
    await json([a], [{ image_id: 1, caption: "x" }]);
    assertEquals((await loadCollection(dir)).imageNames, ["a.png", "b.png", "c.jpg"]);
    await Deno.remove(`${dir}/c.jpg`);
    await json([a, b], []);
    await fails(/captions\.json: empty dataset \(no captions\)/);

    // A caption for a missing image: an unknown image_id, or a named file that does not exist.
    await json([a, b], [{ image_id: 1, caption: "x" }, { image_id: 2, caption: "y" }, {
      image_id: 9,
      caption: "z",
    }]);
    await fails(/annotations\[2\] is a caption for a missing image: image_id 9 is not in "images"/);
    await json(
      [a, b, { id: 3, file_name: "c.png" }],
      [1, 2, 3].map((i) => ({ image_id: i, caption: "q" })),
    );
    await fails(
      /captions\.json images\[2\] \(id 3\): caption for a missing image: c\.png is not in /,
    );

    // Malformed files and empty data.
    await json([], []);
    await fails(/captions\.json: empty dataset \(no images\)/);
    await json([a, b], [{ image_id: 1, caption: "  " }, { image_id: 2, caption: "y" }]);
    await fails(/annotations\[0\] has an empty or missing caption/);
    await Deno.writeTextFile(`${dir}/captions.json`, "{ nope");
    await fails(/captions\.json: not valid JSON/);
    await Deno.writeTextFile(`${dir}/captions.json`, '{"images": []}');
    await fails(/not COCO captions JSON \(no "annotations" array\)/);

    // An unreadable image is named.
    await json([a, b], [{ image_id: 1, caption: "x" }, { image_id: 2, caption: "y" }]);
    await Deno.writeTextFile(`${dir}/b.png`, "this is not a png");
    await fails(/b\.png: unreadable image/);
    await Deno.remove(`${dir}/captions.json`);

    // CSV faults.
    await writeImage(`${dir}/b.png`, [4, 5, 6]);
    const csv = (text: string) => Deno.writeTextFile(`${dir}/captions.csv`, text);
    await csv("image,caption\na.png,x\nb.png,y\nmissing.jpg,z\n");
    await fails(/captions\.csv line 4: caption for a missing image: missing\.jpg/);
    await csv("image,caption\na.png,x\nb.png,\n");
    await fails(/captions\.csv line 3: empty caption/);
    await csv("image,caption\n");
    await fails(/captions\.csv: empty dataset \(no caption rows\)/);
    await csv("file,text\na.png,x\n");
    await fails(/captions\.csv: expected a header with columns image,caption/);
    await Deno.remove(`${dir}/captions.csv`);
    await Deno.writeTextFile(`${dir}/one.csv`, "");
    await Deno.writeTextFile(`${dir}/two.json`, "");
    await fails(/several possible captions files \(one\.csv, two\.json\)/);
  });
  await assertRejects(() => loadCollection("/nonexistent/dir"), /no such directory/);
  assertEquals(
    parseCocoCaptions(coco([{ id: "s", file_name: "f" }], [{ image_id: "s", caption: "c" }]), "j")
      .files,
    ["f"],
  );
});

const cocoDir = sharedData("coco-mini-val");
Deno.test({
  name: "collection: the real COCO mini val set — all 79 photos load and featurise",
  ignore: cocoDir === null,
  fn: async () => {
    const ds = await loadCollection(cocoDir!);
    assertEquals([ds.name, ds.numImages, ds.numTexts], ["coco-mini-val", 79, 395]);
    assertEquals(ds.images.length, 79 * imageFeatureDim());
    assertFinite(ds.images, "COCO image features");
    const counts = new Array(79).fill(0);
    for (const i of ds.textToImage) counts[i]++;
    assertEquals(counts.every((c) => c === 5), true);
    // Every row is a unit vector, and no two photos have identical features.
    const dim = ds.imageDim;
    const rows = Array.from({ length: 79 }, (_, i) => ds.images.subarray(i * dim, (i + 1) * dim));
    for (const r of rows) assertAllClose([Math.hypot(...r)], [1], { atol: 1e-5 }, "norm");
    assertEquals(new Set(rows.map((r) => r.join(","))).size, 79);
    const json = JSON.parse(await Deno.readTextFile(`${cocoDir}/captions.json`));
    assertEquals(ds.imageNames, json.images.map((i: { file_name: string }) => i.file_name));
  },
});
