import { assertAllClose, assertEquals, assertRejects, sharedData } from "./util.ts";
import { readSvmlight } from "../src/data/svmlight.ts";

async function withFiles(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-svm-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const LETOR = `# a LETOR-style file
2 qid:10 1:0.5 3:1.5 # doc A
0 qid:10 2:-1
1 qid:10 1:1 2:2 3:3

3 qid:7 4:0.25
0.5 qid:7
`;

Deno.test("svmlight: qid groups, 1-based indices to dense columns, comments and blank lines", async () => {
  await withFiles({ "a.txt": LETOR }, async (dir) => {
    const ltr = await readSvmlight(`${dir}/a.txt`);
    assertEquals(ltr.path, `${dir}/a.txt`);
    assertEquals(ltr.dim, 4);
    assertEquals(ltr.queries.map((q) => [q.qid, q.numDocs]), [["10", 3], ["7", 2]]);
    const [q10, q7] = ltr.queries;
    assertEquals(Array.from(q10.labels), [2, 0, 1]);
    assertEquals(Array.from(q10.features), [0.5, 0, 1.5, 0, 0, -1, 0, 0, 1, 2, 3, 0]);
    assertEquals(Array.from(q7.labels), [3, 0.5]);
    assertEquals(Array.from(q7.features), [0, 0, 0, 0.25, 0, 0, 0, 0]);
    // A fixed dim pads with zero columns.
    const wide = await readSvmlight(`${dir}/a.txt`, { dim: 6 });
    assertEquals(wide.dim, 6);
    assertEquals(Array.from(wide.queries[1].features.subarray(0, 6)), [0, 0, 0, 0.25, 0, 0]);
  });
});

Deno.test("svmlight: LightGBM .query files, found beside the data or given", async () => {
  const data = "1 1:1\n0 2:1\n2 1:0.5 2:0.5\n0 1:2\n";
  await withFiles(
    { "r.train": data, "r.train.query": "3\n1\n", "other.query": "1\n3\n" },
    async (dir) => {
      const auto = await readSvmlight(`${dir}/r.train`);
      assertEquals(auto.queries.map((q) => [q.qid, q.numDocs]), [["0", 3], ["1", 1]]);
      assertEquals(Array.from(auto.queries[1].features), [2, 0]);
      const given = await readSvmlight(`${dir}/r.train`, { queryFile: `${dir}/other.query` });
      assertEquals(given.queries.map((q) => q.numDocs), [1, 3]);
    },
  );
  // With qid fields, an auto-detected .query file is not needed.
  await withFiles(
    { "q.txt": "1 qid:a 1:1\n0 qid:b 1:2\n", "q.txt.query": "garbage\n" },
    async (dir) => {
      assertEquals((await readSvmlight(`${dir}/q.txt`)).queries.map((q) => q.qid), ["a", "b"]);
    },
  );
});

Deno.test("svmlight: bad input names the file, the line and the fault", async () => {
  const cases: [string, RegExp, string?][] = [
    ["x 1:1\n", /a\.txt line 1: label "x" is not a number/],
    ["1 qid:1 1:1\n-1 qid:1 1:1\n", /a\.txt line 2: label -1 is negative/],
    ["1 qid:1 0:1\n", /line 1: feature index 0: indices are 1-based/],
    ["1 qid:1 2:1 2:3\n", /line 1: feature index 2 after 2: indices must increase/],
    ["1 qid:1 1:abc\n", /line 1: feature 1 has value "abc", not a finite number/],
    ["1 qid:1 1:1 7\n", /line 1: expected idx:value, got "7"/],
    ["1 1:1 qid:3\n", /line 1: qid: must come right after the label/],
    [
      "1 qid:1 1:1\n1 qid:2 1:1\n1 qid:1 1:1\n",
      /line 3: qid 1 reappears after other queries \(first seen on line 1\)/,
    ],
    ["1 qid:1 1:1\n1 1:1\n", /line 2: no qid: field, while other lines have one/],
    ["1 1:1\n0 1:2\n", /no qid: fields and no query file/],
    ["# only a comment\n\n", /empty dataset \(no documents\)/],
    ["1 qid:1\n", /no features on any line/],
    ["1 qid:1 9:1\n", /line 1: feature index 9 exceeds dim 4/, "dim"],
    // Sizes are bounded before anything is allocated, naming the line.
    [
      "1 qid:1 1:1\n0 qid:1 1000000000:1\n",
      /a\.txt line 2: feature index 1000000000 is over the limit of 100000 features/,
    ],
    [
      "1 qid:1 100000000000000000000:1\n",
      /a\.txt line 1: feature index 100000000000000000000 is over the limit/,
    ],
    ["1 qid:1 10000000:1\n", /a\.txt line 1: feature index 10000000 is over the limit/],
  ];
  for (const [text, pattern, opt] of cases) {
    await withFiles({ "a.txt": text }, async (dir) => {
      await assertRejects(() => readSvmlight(`${dir}/a.txt`, opt ? { dim: 4 } : {}), pattern);
    });
  }
  await withFiles({ "b.txt": "1 1:1\n0 1:2\n", "b.txt.query": "3\n" }, async (dir) => {
    await assertRejects(
      () => readSvmlight(`${dir}/b.txt`),
      /b\.txt\.query: the group counts sum to 3 documents, .*b\.txt has 2/,
    );
    await Deno.writeTextFile(`${dir}/b.txt.query`, "1\nzero\n");
    await assertRejects(
      () => readSvmlight(`${dir}/b.txt`),
      /b\.txt\.query line 2: "zero" is not a positive document count/,
    );
  });
  await assertRejects(
    () => readSvmlight("/nonexistent/rank.train"),
    /cannot read \/nonexistent\/rank\.train: no such file/,
  );
});

const ltrDir = sharedData("ltr-lightgbm");
Deno.test({
  name:
    "svmlight: the real LightGBM lambdarank example (rank.train 3005 / 201, rank.test 768 / 50)",
  ignore: ltrDir === null,
  fn: async () => {
    const train = await readSvmlight(`${ltrDir}/rank.train`);
    const test = await readSvmlight(`${ltrDir}/rank.test`, { dim: train.dim });
    const docs = (q: { numDocs: number }[]) => q.reduce((a, x) => a + x.numDocs, 0);
    assertEquals([train.dim, train.queries.length, docs(train.queries)], [300, 201, 3005]);
    assertEquals([test.dim, test.queries.length, docs(test.queries)], [300, 50, 768]);
    const labels = new Set(train.queries.flatMap((q) => Array.from(q.labels)));
    assertEquals([...labels].sort(), [0, 1, 2, 3, 4]);
    // The first document, from the file's first line: "0 10:0.89 11:0.75 12:0.01 ...".
    const firstLine = (await Deno.readTextFile(`${ltrDir}/rank.train`)).split("\n")[0];
    const first = train.queries[0];
    assertEquals(first.labels[0], Number(firstLine.split(" ")[0]));
    const expected = new Float32Array(300);
    for (const pair of firstLine.trim().split(/\s+/).slice(1)) {
      const [i, v] = pair.split(":");
      expected[Number(i) - 1] = Number(v);
    }
    assertAllClose(first.features.subarray(0, 300), expected, { atol: 0, rtol: 0 }, "first doc");
    // Group sizes follow rank.train.query.
    const sizes = (await Deno.readTextFile(`${ltrDir}/rank.train.query`)).trim().split(/\s+/).map(
      Number,
    );
    assertEquals(train.queries.map((q) => q.numDocs), sizes);
  },
});
