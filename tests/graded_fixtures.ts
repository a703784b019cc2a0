/**
 * Fixtures of the graded-relevance tests.
 *
 * @module
 */

import { rng } from "./util.ts";
import { buildRelation, type RelevancePair } from "../src/data/relation.ts";
import type { GradedRelation } from "../src/data/types.ts";

/**
 * A random graded relation: each text has a primary image (grade 1–3) and up to 4 more images of
 * lower or equal grade, so several texts share images and images are relevant to several texts.
 */
export function randomRelation(
  numTexts: number,
  numImages: number,
  seed: number,
): { relation: GradedRelation; textToImage: Int32Array } {
  const u = rng(seed);
  const pairs: RelevancePair[] = [];
  for (let t = 0; t < numTexts; t++) {
    const top = 1 + Math.floor(u() * 3);
    const chosen = new Set<number>([Math.floor(u() * numImages)]);
    pairs.push({ text: t, image: [...chosen][0], grade: top });
    const extra = Math.floor(u() * 5);
    for (let k = 0; k < extra; k++) {
      const image = Math.floor(u() * numImages);
      if (chosen.has(image)) continue;
      chosen.add(image);
      pairs.push({ text: t, image, grade: 1 + Math.floor(u() * top) });
    }
  }
  return buildRelation(numTexts, numImages, pairs, "random");
}
