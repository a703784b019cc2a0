// Graded evaluation on the CPU: per-query ranks files with a grade column (round trip), and the
// paired bootstrap's NDCG@10 columns.
import { assertAllClose, assertEquals, assertOk, assertThrows, randn } from "./util.ts";
import { buildRelation } from "../src/data/relation.ts";
import { randomRelation } from "./graded_fixtures.ts";
import { retrievalRef } from "../src/reference/retrieval.ts";
import {
  GRADED_RANKS_HEADER,
  parseRanksCsv,
  RANKS_HEADER,
  ranksCsv,
} from "../src/eval/ranks_file.ts";
import { retrievalMetrics, type RetrievalRanks } from "../src/eval/metrics.ts";
import { pairedBootstrap } from "../src/eval/bootstrap.ts";
import type { GradedRelation } from "../src/data/types.ts";

Deno.test("ranks file: graded ranks round-trip (grade column, several pairs per text)", () => {
  const [nt, ni, dim] = [40, 15, 6];
  const { relation } = randomRelation(nt, ni, 3);
  const texts = Float32Array.from(randn(nt * dim, 1));
  const images = Float32Array.from(randn(ni * dim, 2));
  const { ranks, metrics } = retrievalRef(texts, images, dim, relation);
  const text = ranksCsv(ranks);
  const lines = text.trim().split("\n");
  assertEquals(lines[0], GRADED_RANKS_HEADER);
  assertEquals(lines.length, 1 + 2 * relation.images.length);
  const back = parseRanksCsv(text, "g.csv");
  assertEquals(back, { ...ranks, numImages: back.numImages });
  assertOk(back.numImages <= ni);
  const got = retrievalMetrics(back);
  for (const dir of ["t2i", "i2t"] as const) {
    for (const [key, value] of Object.entries(metrics[dir])) {
      assertAllClose([got[dir][key as keyof typeof got.t2i]], [value], { atol: 1e-9 }, key);
    }
  }
  // Rows may come in any order: the primary is the first listed t2i row of the highest grade.
  const [head, ...rows] = lines;
  const t2iRows = rows.filter((r) => r.startsWith("t2i"));
  const i2tRows = rows.filter((r) => r.startsWith("i2t"));
  const shuffled = [head, ...i2tRows.reverse(), ...t2iRows].join("\n");
  assertEquals(parseRanksCsv(shuffled, "s.csv").textToImage, ranks.textToImage);
});

Deno.test("ranks file: faults of graded files name the file and line", () => {
  const good = `${GRADED_RANKS_HEADER}\nt2i,0,1,1,2\nt2i,0,0,2,1\ni2t,0,0,1,1\ni2t,1,0,1,2\n`;
  const parsed = parseRanksCsv(good, "ok.csv");
  assertEquals(Array.from(parsed.textToImage), [1]);
  assertEquals(Array.from(parsed.relevance.grades), [2, 1]);
  assertThrows(
    () => parseRanksCsv(good.replace("i2t,1,0,1,2", "i2t,1,0,1,3"), "g.csv"),
    /g\.csv: text 0 and image 1 lack a matching i2t row/,
  );
  assertThrows(
    () => parseRanksCsv(`${good}i2t,2,0,4,1\n`, "x.csv"),
    /x\.csv:6: i2t row without a matching t2i row/,
  );
  assertThrows(
    () => parseRanksCsv(good.replace("t2i,0,0,2,1", "t2i,0,0,2,0"), "z.csv"),
    /z\.csv:3: expected direction,query,item,rank,grade with integers/,
  );
  assertThrows(
    () => parseRanksCsv(good.replace("t2i,0,0,2,1", "t2i,0,1,2,1"), "d.csv"),
    /d\.csv:3: text 0 and image 1 are already paired \(d\.csv:2\)/,
  );
  assertThrows(() => parseRanksCsv(`${RANKS_HEADER}\nt2i,0,0,1,1\n`, "w.csv"), /w\.csv:2/);
});

/** Ranks of one hypothetical run: t2i ranks per pair given, i2t fixed. */
function runRanks(
  relation: GradedRelation,
  textToImage: Int32Array,
  t2i: number[],
): RetrievalRanks {
  return {
    numImages: 3,
    textToImage,
    relevance: relation,
    t2i: Uint32Array.from(t2i),
    i2t: Uint32Array.of(1, 2, 1, 1), // image 1: text 1 (grade 3) first, text 0 second
  };
}

Deno.test("paired bootstrap: NDCG@10 columns see grades that R@1 does not", () => {
  // Two texts, each with a grade-3 image and a grade-1 image. Both methods put the grade-3 image
  // first (same R@1); the candidate puts the grade-1 image 2nd, the baseline 3rd.
  const { relation, textToImage } = buildRelation(2, 3, [
    { text: 0, image: 0, grade: 3 },
    { text: 0, image: 1, grade: 1 },
    { text: 1, image: 1, grade: 3 },
    { text: 1, image: 2, grade: 1 },
  ], "t");
  const candidate = [runRanks(relation, textToImage, [1, 2, 1, 2])];
  const baseline = [runRanks(relation, textToImage, [1, 3, 1, 3])];
  const d = pairedBootstrap(candidate, baseline, { resamples: 200 });
  assertEquals([d["t2i R@1"].diff, d.rsum.diff, d["i2t NDCG@10"].diff], [0, 0, 0]);
  // MRR looks for the highest grade, like R@1: the grade-1 items' places do not move it.
  assertEquals([d["t2i MRR"].diff, d["t2i MRR"].verdict], [0, "no significant difference"]);
  const l = (r: number) => 1 / Math.log2(r + 1);
  const ideal = 7 + l(2);
  assertAllClose([d["t2i NDCG@10"].diff], [100 * (l(2) - l(3)) / ideal], { atol: 1e-9 });
  assertEquals(d["t2i NDCG@10"].verdict, "better");
  assertThrows(
    () => pairedBootstrap(candidate, [runRanks(relation, Int32Array.of(0, 2), [1, 3, 1, 3])]),
    /not evaluated on the same queries/,
  );
});
