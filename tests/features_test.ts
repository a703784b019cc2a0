import { assertEquals, assertRejects, sharedData } from "./util.ts";
import { loadFeatureDataset } from "../src/data/features.ts";
import { writeNpy } from "../src/data/npy.ts";
import { writeSafetensors } from "../src/data/safetensors.ts";
import { floatToHalf } from "../src/data/float16.ts";

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-features-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const seq = (n: number, scale = 1) => Float32Array.from({ length: n }, (_, i) => (i % 7) * scale);

/** Writes images.npy [ni × di] and texts.npy [nt × dt] with simple distinct values. */
async function writePair(dir: string, ni: number, di: number, nt: number, dt: number) {
  await writeNpy(`${dir}/images.npy`, seq(ni * di), [ni, di]);
  await writeNpy(`${dir}/texts.npy`, seq(nt * dt, 0.5), [nt, dt]);
}

Deno.test("features: row-aligned and k-captions-per-image layouts", async () => {
  await withDir(async (dir) => {
    await writePair(dir, 3, 4, 3, 2);
    const ds = await loadFeatureDataset(dir);
    assertEquals([ds.numImages, ds.imageDim, ds.numTexts, ds.textDim], [3, 4, 3, 2]);
    assertEquals(Array.from(ds.textToImage), [0, 1, 2]);
    assertEquals(Array.from(ds.images.subarray(0, 4)), [0, 1, 2, 3]);
    assertEquals(ds.name, dir.split("/").at(-1));
    assertEquals(ds.captions, undefined);

    await writePair(dir, 2, 4, 10, 3);
    const k5 = await loadFeatureDataset(`${dir}/`, { name: "k5" });
    assertEquals(k5.name, "k5");
    assertEquals(Array.from(k5.textToImage), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  });
});

Deno.test("features: pairs.csv, images.txt, captions.txt and all_captions.csv", async () => {
  await withDir(async (dir) => {
    await writePair(dir, 2, 3, 4, 3);
    await Deno.writeTextFile(`${dir}/pairs.csv`, "text,image\n0,1\n1,0\n\n3,1\n2,0\n");
    await Deno.writeTextFile(`${dir}/images.txt`, "a.jpg\nb.jpg\n");
    await Deno.writeTextFile(
      `${dir}/all_captions.csv`,
      'image,caption_index,caption\nb.jpg,0,"b zero, quoted"\na.jpg,0,a zero\na.jpg,1,a one\n' +
        "b.jpg,1,b one\n",
    );
    const ds = await loadFeatureDataset(dir);
    assertEquals(Array.from(ds.textToImage), [1, 0, 0, 1]);
    assertEquals(ds.imageNames, ["a.jpg", "b.jpg"]);
    // Text t shows caption j of its image, j = texts of that image before t.
    assertEquals(ds.captions, ["b zero, quoted", "a zero", "a one", "b one"]);

    await Deno.writeTextFile(`${dir}/captions.txt`, "one\ntwo\nthree\nfour\n");
    assertEquals((await loadFeatureDataset(dir)).captions, ["one", "two", "three", "four"]);
    const bare = await loadFeatureDataset(dir, { skipDisplayFiles: true });
    assertEquals([bare.imageNames, bare.captions], [undefined, undefined]);
  });
});

Deno.test("features: float16 .npy and .safetensors files (file or directory)", async () => {
  await withDir(async (dir) => {
    // float16 images.npy written by hand (numpy's '<f2').
    const halves = new Uint16Array([0.5, 1, -2, 4].map(floatToHalf));
    const header = "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }";
    const h = new TextEncoder().encode(header + " ".repeat(128 - 10 - header.length - 1) + "\n");
    const bytes = new Uint8Array(10 + h.length + 8);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(bytes.buffer).setUint16(8, h.length, true);
    bytes.set(h, 10);
    bytes.set(new Uint8Array(halves.buffer), 10 + h.length);
    await Deno.writeFile(`${dir}/images.npy`, bytes);
    await writeNpy(`${dir}/texts.npy`, seq(4), [2, 2]);
    assertEquals(Array.from((await loadFeatureDataset(dir)).images), [0.5, 1, -2, 4]);

    const sub = `${dir}/st`;
    await Deno.mkdir(sub);
    await writeSafetensors(`${sub}/feats.safetensors`, {
      images: { shape: [2, 3], data: seq(6) },
      texts: { shape: [3, 2], data: seq(6, 2) },
      text_to_image: { shape: [3], data: new Int32Array([1, 0, 1]) },
    });
    await Deno.writeTextFile(`${sub}/images.txt`, "x\ny\n");
    const viaDir = await loadFeatureDataset(sub);
    assertEquals(viaDir.name, "st");
    assertEquals(Array.from(viaDir.textToImage), [1, 0, 1]);
    assertEquals(viaDir.imageNames, ["x", "y"]);
    const viaFile = await loadFeatureDataset(`${sub}/feats.safetensors`);
    assertEquals(viaFile.name, "feats");
    assertEquals(Array.from(viaFile.texts), Array.from(seq(6, 2)));
    assertEquals(viaFile.imageNames, undefined); // display files are read only for a directory

    // Without text_to_image, the k rule applies.
    await writeSafetensors(`${sub}/feats.safetensors`, {
      images: { shape: [1, 3], data: seq(3) },
      texts: { shape: [2, 2], data: seq(4) },
    });
    assertEquals(Array.from((await loadFeatureDataset(`${sub}/feats.safetensors`)).textToImage), [
      0,
      0,
    ]);
  });
});

Deno.test("features: bad input names the file and the fault", async () => {
  await withDir(async (dir) => {
    const expectError = async (pattern: RegExp) => {
      await assertRejects(() => loadFeatureDataset(dir), pattern);
    };
    await expectError(/no images\.npy\/texts\.npy or \*\.safetensors found/);
    await writeNpy(`${dir}/images.npy`, seq(6), [2, 3]);
    await expectError(/texts\.npy is missing/);

    // NaN / Inf rows.
    const bad = seq(8);
    bad[5] = NaN;
    await writeNpy(`${dir}/texts.npy`, bad, [4, 2]);
    await expectError(/texts\.npy: row 2 has a non-finite value \(NaN at column 1\)/);
    bad[5] = 1;
    bad[6] = -Infinity;
    await writeNpy(`${dir}/texts.npy`, bad, [4, 2]);
    await expectError(/texts\.npy: row 3 has a non-finite value \(-Infinity/);

    // Shapes and row counts.
    await writeNpy(`${dir}/texts.npy`, seq(8), [8]);
    await expectError(/texts\.npy: expected a 2-D array .*got shape \(8\)/);
    await writeNpy(`${dir}/texts.npy`, seq(0), [0, 4]);
    await expectError(/texts\.npy: empty dataset \(0 rows\)/);
    await writeNpy(`${dir}/texts.npy`, seq(15), [5, 3]);
    await expectError(/texts\.npy has 5 rows and .*images\.npy 2: without a pairs\.csv/);

    // pairs.csv faults.
    const pairs = async (text: string, pattern: RegExp) => {
      await Deno.writeTextFile(`${dir}/pairs.csv`, text);
      await expectError(pattern);
    };
    await pairs(
      "text,image\n0,0\n1,1\n2,0\n3,1\n9,0\n",
      /pairs\.csv line 6: text 9 is out of range/,
    );
    await pairs("text,image\n0,0\n1,2\n", /pairs\.csv line 3: image 2 is out of range/);
    await pairs(
      "text,image\n0,0\n1,1\n0,1\n",
      /pairs\.csv line 4: text 0 is already paired \(line 2\)/,
    );
    await pairs("text,image\n0,0\n1,1\n2,0\n4,0\n", /pairs\.csv: text 3 has no line/);
    // An image no text belongs to stays in the gallery as a distractor.
    await Deno.writeTextFile(`${dir}/pairs.csv`, "text,image\n0,0\n1,0\n2,0\n3,0\n4,0\n");
    const withDistractor = await loadFeatureDataset(dir);
    assertEquals([withDistractor.numImages, withDistractor.numTexts], [2, 5]);
    assertEquals(Array.from(withDistractor.textToImage), [0, 0, 0, 0, 0]);
    await pairs("text,img\n0,0\n", /pairs\.csv: expected a header with columns text,image/);
    await pairs(
      "text,image\n0,-1\n",
      /pairs\.csv line 2: image "-1" is not a non-negative integer/,
    );
    await pairs('text,image\n"0,1\n', /pairs\.csv line \d+: malformed CSV/);
    await Deno.remove(`${dir}/pairs.csv`);

    // Display files with the wrong line count.
    await writeNpy(`${dir}/texts.npy`, seq(6), [2, 3]);
    await Deno.writeTextFile(`${dir}/images.txt`, "a\nb\nc\n");
    await expectError(/images\.txt: 3 lines, expected 2 \(one per image row\)/);
    await Deno.writeTextFile(`${dir}/images.txt`, "a\nb\n");
    await Deno.writeTextFile(`${dir}/all_captions.csv`, "image,caption_index,caption\na,0,x\n");
    await expectError(/all_captions\.csv: no caption 0 for image b \(text row 1, image row 1\)/);

    // Paths that are not feature datasets.
    await assertRejects(() => loadFeatureDataset(`${dir}/nope`), /nope: no such file or directory/);
    await assertRejects(() => loadFeatureDataset(`${dir}/images.txt`), /not a feature dataset/);
  });
  await withDir(async (dir) => {
    const f = `${dir}/x.safetensors`;
    await writeSafetensors(f, { images: { shape: [2, 2], data: seq(4) } });
    await assertRejects(
      () => loadFeatureDataset(f),
      /x\.safetensors: no tensor 'texts' \(found: images/,
    );
    await writeSafetensors(f, {
      images: { shape: [2, 2], data: seq(4) },
      texts: { shape: [2, 2], data: seq(4) },
      text_to_image: { shape: [2], data: new Int32Array([0, 2]) },
    });
    await assertRejects(
      () => loadFeatureDataset(f),
      /'text_to_image': text 1 -> image 2 is out of range/,
    );
    await writeSafetensors(f, {
      images: { shape: [2, 2], data: seq(4) },
      texts: { shape: [2, 2], data: seq(4) },
      text_to_image: { shape: [2], data: new Int32Array([1, 1]) },
    });
    const distractor = await loadFeatureDataset(f);
    assertEquals([distractor.numImages, Array.from(distractor.textToImage)], [2, [1, 1]]);
    await writeSafetensors(f, {
      images: { shape: [2, 2], data: new Int32Array(4) },
      texts: { shape: [2, 2], data: seq(4) },
    });
    await assertRejects(() => loadFeatureDataset(f), /'images': dtype I32 is not a float type/);
    await Deno.copyFile(f, `${dir}/y.safetensors`);
    await assertRejects(
      () => loadFeatureDataset(dir),
      /several \.safetensors files \(x\.safetensors, y/,
    );
  });
});

const flickr = sharedData("flickr8k-clip-b32-val");
Deno.test({
  name: "features: the real Flickr8k CLIP set (1000 row-aligned pairs, names, caption 0)",
  ignore: flickr === null,
  fn: async () => {
    const ds = await loadFeatureDataset(flickr!);
    assertEquals(ds.name, "flickr8k-clip-b32-val");
    assertEquals([ds.numImages, ds.imageDim, ds.numTexts, ds.textDim], [1000, 512, 1000, 512]);
    assertEquals(Array.from(ds.textToImage.subarray(0, 3)), [0, 1, 2]);
    assertEquals(ds.imageNames!.length, 1000);
    assertEquals(ds.imageNames![0], "2090545563_a4e66ec76b.jpg");
    // Caption 0 of the first image, as written in all_captions.csv.
    const csv = await Deno.readTextFile(`${flickr}/all_captions.csv`);
    const first = csv.split("\n").find((l) => l.startsWith(`${ds.imageNames![0]},0,`))!;
    assertEquals(ds.captions![0], first.slice(first.indexOf(",0,") + 3).trim());
    assertEquals(ds.captions!.length, 1000);
  },
});
