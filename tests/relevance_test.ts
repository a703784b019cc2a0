import { assertEquals, assertOk, assertRejects, assertThrows } from "./util.ts";
import {
  buildRelation,
  checkRelation,
  gradeOf,
  isOneToOne,
  oneToOne,
  pairsByImage,
  pairTexts,
  relevanceOf,
} from "../src/data/relation.ts";
import { loadFeatureDataset } from "../src/data/features.ts";
import { writeNpy } from "../src/data/npy.ts";
import { writeSafetensors } from "../src/data/safetensors.ts";
import { splitByImage, subsetByImages } from "../src/data/split.ts";
import { fingerprintDataset } from "../src/data/source.ts";
import type { GradedRelation, RetrievalDataset } from "../src/data/types.ts";

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-relevance-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const plain = (r: GradedRelation) => ({
  offsets: Array.from(r.offsets),
  images: Array.from(r.images),
  grades: Array.from(r.grades),
});

Deno.test("relevance: canonical rows — primary (highest grade, first listed) first, rest ascending", () => {
  const { relation, textToImage } = buildRelation(3, 5, [
    { text: 0, image: 4, grade: 1 },
    { text: 0, image: 3, grade: 2 },
    { text: 0, image: 1, grade: 2 }, // ties with image 3 at the top grade: 3 was listed first
    { text: 0, image: 0, grade: 1 },
    { text: 1, image: 2, grade: 0 }, // grade 0: listed, not relevant
    { text: 1, image: 1, grade: 3 },
    { text: 2, image: 0, grade: 1 },
  ], "t");
  assertEquals(Array.from(textToImage), [3, 1, 0]);
  assertEquals(plain(relation), {
    offsets: [0, 4, 5, 6],
    images: [3, 0, 1, 4, 1, 0],
    grades: [2, 1, 2, 1, 3, 1],
  });
  checkRelation(relation, textToImage, 5, "built");
  assertEquals([gradeOf(relation, 0, 1), gradeOf(relation, 0, 2), gradeOf(relation, 1, 2)], [
    2,
    0,
    0,
  ]);
  assertEquals(Array.from(pairTexts(relation)), [0, 0, 0, 0, 1, 2]);
  const byImage = pairsByImage(relation, 5);
  assertEquals(Array.from(byImage.offsets), [0, 2, 4, 4, 5, 6]);
  assertEquals(Array.from(byImage.order), [1, 5, 2, 4, 0, 3]);
  // A named primary must carry the highest grade.
  const named = buildRelation(
    1,
    3,
    [
      { text: 0, image: 0, grade: 2 },
      { text: 0, image: 2, grade: 2 },
    ],
    "t",
    [2],
  );
  assertEquals(Array.from(named.textToImage), [2]);
  assertEquals(Array.from(named.relation.images), [2, 0]);
  assertThrows(
    () =>
      buildRelation(1, 3, [{ text: 0, image: 0, grade: 2 }, { text: 0, image: 2, grade: 1 }], "t", [
        2,
      ]),
    /text 0's image 2 \(text_to_image\) is not listed with its highest relevance 2/,
  );
});

Deno.test("relevance: one-to-one relation of ungraded data, and the faults buildRelation names", () => {
  const rel = relevanceOf({ textToImage: Int32Array.of(1, 0, 1) });
  assertEquals(plain(rel), { offsets: [0, 1, 2, 3], images: [1, 0, 1], grades: [1, 1, 1] });
  assertOk(isOneToOne(rel));
  assertOk(isOneToOne(oneToOne([])));
  const graded = {
    textToImage: Int32Array.of(0),
    relevance: buildRelation(1, 2, [{ text: 0, image: 0, grade: 2 }], "t").relation,
  };
  assertEquals(relevanceOf(graded), graded.relevance);
  assertOk(!isOneToOne(graded.relevance));
  const pair = (text: number, image: number, grade: number) => ({
    text,
    image,
    grade,
    where: `f line ${text + image + 2}`,
  });
  const fault = (pairs: ReturnType<typeof pair>[], pattern: RegExp) =>
    assertThrows(() => buildRelation(2, 2, pairs, "f"), pattern);
  fault(
    [pair(0, 0, 1), pair(0, 0, 2)],
    /f line 2: text 0 and image 0 are already paired \(f line 2\)/,
  );
  fault([pair(0, 0, -1)], /f line 2: relevance -1 is not an integer grade/);
  fault([pair(0, 0, 1.5)], /relevance 1\.5 is not an integer grade/);
  fault([pair(0, 0, 25)], /relevance 25 is not an integer grade in \[0, 24\]/);
  fault([pair(0, 5, 1)], /image 5 is out of range \(2 images\)/);
  fault([pair(3, 0, 1)], /text 3 is out of range \(2 texts\)/);
  fault([pair(0, 0, 1), pair(1, 0, 0)], /^f: text 1 has no image with relevance ≥ 1/);
  const bad = {
    offsets: Int32Array.of(0, 2),
    images: Int32Array.of(0, 1),
    grades: Int32Array.of(1, 2),
  };
  assertThrows(() => checkRelation(bad, [0], 2, "x"), /x: text 0 -> image 1 has grade 2/);
});

async function writeFeatures(dir: string, ni: number, nt: number) {
  await writeNpy(`${dir}/images.npy`, Float32Array.from({ length: ni * 2 }, (_, i) => i), [ni, 2]);
  await writeNpy(`${dir}/texts.npy`, Float32Array.from({ length: nt * 2 }, (_, i) => -i), [nt, 2]);
}

Deno.test("relevance: pairs.csv with a relevance column (many-to-many)", async () => {
  await withDir(async (dir) => {
    await writeFeatures(dir, 3, 4);
    await Deno.writeTextFile(
      `${dir}/pairs.csv`,
      "text,image,relevance\n0,0,3\n0,2,1\n1,1,2\n1,0,2\n2,2,1\n3,2,3\n3,1,0\n",
    );
    const ds = await loadFeatureDataset(dir);
    assertEquals(Array.from(ds.textToImage), [0, 1, 2, 2]);
    assertEquals(plain(ds.relevance!), {
      offsets: [0, 2, 4, 5, 6],
      images: [0, 2, 1, 0, 2, 2],
      grades: [3, 1, 2, 2, 1, 3],
    });
    // The same relation written one-to-one at grade 1 is ungraded data.
    await Deno.writeTextFile(
      `${dir}/pairs.csv`,
      "text,image,relevance\n0,0,1\n1,1,1\n2,2,1\n3,2,1\n",
    );
    const flat = await loadFeatureDataset(dir);
    assertEquals(flat.relevance, undefined);
    await Deno.writeTextFile(`${dir}/pairs.csv`, "text,image\n0,0\n1,1\n2,2\n3,2\n");
    assertEquals(
      await fingerprintDataset(flat),
      await fingerprintDataset(await loadFeatureDataset(dir)),
    );
    assertOk(await fingerprintDataset(flat) !== await fingerprintDataset(ds), "grades count");

    const fault = async (csv: string, pattern: RegExp) => {
      await Deno.writeTextFile(`${dir}/pairs.csv`, csv);
      await assertRejects(() => loadFeatureDataset(dir), pattern);
    };
    const head = "text,image,relevance\n0,0,1\n1,1,1\n2,2,1\n";
    await fault(
      `${head}3,2,-1\n`,
      /pairs\.csv line 5: relevance "-1" is not a non-negative integer/,
    );
    await fault(
      `${head}3,2,1.5\n`,
      /pairs\.csv line 5: relevance "1\.5" is not a non-negative integer/,
    );
    await fault(`${head}3,2,\n`, /pairs\.csv line 5: relevance "" is not a non-negative integer/);
    await fault(
      `${head}3,2,2\n3,2,1\n`,
      /pairs\.csv line 6: text 3 and image 2 are already paired \(.*pairs\.csv line 5\)/,
    );
    await fault(
      `${head}3,2,99\n`,
      /pairs\.csv line 5: relevance 99 is not an integer grade in \[0, 24\]/,
    );
    await fault(`${head}3,7,1\n`, /pairs\.csv line 5: image 7 is out of range/);
    await fault(`${head}3,1,0\n`, /pairs\.csv: text 3 has no image with relevance ≥ 1/);
  });
});

Deno.test("relevance: safetensors 'relevance' tensor [P, 3], alone or beside text_to_image", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/g.safetensors`;
    const images = { shape: [3, 2], data: Float32Array.from([1, 0, 0, 1, 1, 1]) };
    const texts = { shape: [3, 2], data: Float32Array.from([1, 0, 0, 1, 1, 1]) };
    const relevance = {
      shape: [6, 3],
      data: Int32Array.from([0, 0, 2, 0, 1, 2, 1, 1, 1, 1, 0, 1, 2, 2, 3, 2, 0, 1]),
    };
    await writeSafetensors(file, { images, texts, relevance });
    const ds = await loadFeatureDataset(file);
    assertEquals(Array.from(ds.textToImage), [0, 1, 2]);
    assertEquals(plain(ds.relevance!), {
      offsets: [0, 2, 4, 6],
      images: [0, 1, 1, 0, 2, 0],
      grades: [2, 2, 1, 1, 3, 1],
    });
    // text_to_image picks the primary among tied top grades.
    await writeSafetensors(file, {
      images,
      texts,
      relevance,
      text_to_image: { shape: [3], data: Int32Array.of(1, 0, 2) },
    });
    const named = await loadFeatureDataset(file);
    assertEquals(Array.from(named.textToImage), [1, 0, 2]);
    assertEquals(Array.from(named.relevance!.images), [1, 0, 0, 1, 2, 0]);
    await writeSafetensors(file, {
      images,
      texts,
      relevance,
      text_to_image: { shape: [3], data: Int32Array.of(0, 1, 0) },
    });
    await assertRejects(
      () => loadFeatureDataset(file),
      /tensor 'relevance': text 2's image 0 \(text_to_image\) is not listed with its highest relevance 3/,
    );
    await writeSafetensors(file, {
      images,
      texts,
      relevance: { shape: [6, 3], data: new Float32Array(18) },
    });
    await assertRejects(
      () => loadFeatureDataset(file),
      /tensor 'relevance': dtype F32 is not an integer type/,
    );
    await writeSafetensors(file, {
      images,
      texts,
      relevance: { shape: [3, 2], data: new Int32Array(6) },
    });
    await assertRejects(
      () => loadFeatureDataset(file),
      /tensor 'relevance': shape \[3, 2\], expected \[P, 3\]/,
    );
    await writeSafetensors(file, {
      images,
      texts,
      relevance: { shape: [2, 3], data: Int32Array.of(0, 0, 1, 0, 0, 2) },
    });
    await assertRejects(
      () => loadFeatureDataset(file),
      /tensor 'relevance' row 1: text 0 and image 0 are already paired \(.* row 0\)/,
    );
  });
});

Deno.test("relevance: splits keep each text's pairs inside its part and re-index them", () => {
  const { relation, textToImage } = buildRelation(4, 4, [
    { text: 0, image: 0, grade: 3 },
    { text: 0, image: 3, grade: 1 },
    { text: 0, image: 1, grade: 2 },
    { text: 1, image: 1, grade: 1 },
    { text: 2, image: 2, grade: 2 },
    { text: 2, image: 0, grade: 1 },
    { text: 3, image: 3, grade: 1 },
  ], "t");
  const ds: RetrievalDataset = {
    name: "g",
    images: Float32Array.from({ length: 8 }, (_, i) => i),
    numImages: 4,
    imageDim: 2,
    texts: Float32Array.from({ length: 8 }, (_, i) => i),
    numTexts: 4,
    textDim: 2,
    textToImage,
    relevance: relation,
  };
  const sub = subsetByImages(ds, [3, 0], "sub");
  assertEquals(Array.from(sub.textToImage), [1, 0]); // texts 0 and 3 (text 2's image is out)
  assertEquals(plain(sub.relevance!), { offsets: [0, 2, 3], images: [1, 0, 0], grades: [3, 1, 1] });
  checkRelation(sub.relevance!, sub.textToImage, 2, "subset");
  const parts = splitByImage(ds, { valFraction: 0.25, testFraction: 0.25, seed: 3 });
  for (const part of [parts.train, parts.val, parts.test]) {
    checkRelation(part.relevance!, part.textToImage, part.numImages, part.name);
  }
  const pairs = [parts.train, parts.val, parts.test].reduce(
    (n, p) => n + p.relevance!.images.length,
    0,
  );
  assertOk(pairs <= 7 && pairs >= 4, `${pairs} pairs kept`);
  assertEquals(subsetByImages({ ...ds, relevance: undefined }, [0], "u").relevance, undefined);
});
