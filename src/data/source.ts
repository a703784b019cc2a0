/**
 * Where a dataset came from and what it held, so that a run can find its data again and recognise
 * it: the path as given and resolved, and a content fingerprint (SHA-256 of the dims, the relation
 * and every feature value). A moved folder is found by its fingerprint; a changed one is refused.
 *
 * @example
 * ```ts
 * import { fingerprintDataset } from "./source.ts";
 * const id = await fingerprintDataset(ds); // "sha256:3f1c…"
 * ```
 *
 * @module
 */

import type { RetrievalDataset } from "./types.ts";

/** A dataset's origin and identity, as a run records it in `config.json`. */
export interface DataSource {
  /** The path as the user gave it, or null for the embedded default dataset. */
  path: string | null;
  /** The absolute path (symlinks resolved) at load time, or null for the embedded default. */
  absolutePath: string | null;
  /** Dataset name (e.g. `flickr8k-clip-b32-val`, `default`). */
  name: string;
  /** The embedded default's generator settings (null for user data). */
  generator: Record<string, unknown> | null;
  /** `sha256:<hex>` of the whole dataset's content, see {@link fingerprintDataset}. */
  fingerprint: string;
  /** Images in the whole dataset (all parts). */
  images: number;
  /** Texts in the whole dataset (all parts). */
  texts: number;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function bytesOf(a: Float32Array | Int32Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength);
}

/**
 * The content fingerprint of a dataset: SHA-256 over its shape line and the digests of its
 * text → image relation, image features and text features (each hashed separately, so no copy of
 * the data is made), and of its graded relevance when it has one (so graded and ungraded data
 * differ; ungraded data keeps the fingerprint it always had). Names, captions and file paths do not
 * count: the same features in another folder are the same data.
 */
export async function fingerprintDataset(ds: RetrievalDataset): Promise<string> {
  const shape = new TextEncoder().encode(
    `crossrank-dataset/1 ${ds.numImages}x${ds.imageDim} ${ds.numTexts}x${ds.textDim}\n`,
  );
  const parts = [
    shape,
    await sha256(bytesOf(ds.textToImage)),
    await sha256(bytesOf(ds.images)),
    await sha256(bytesOf(ds.texts)),
  ];
  if (ds.relevance) {
    const { offsets, images, grades } = ds.relevance;
    parts.push(new TextEncoder().encode(`relevance ${images.length}\n`));
    for (const a of [offsets, images, grades]) parts.push(await sha256(bytesOf(a)));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = await sha256(all);
  return `sha256:${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Builds the {@link DataSource} of a loaded dataset. */
export async function describeSource(
  ds: RetrievalDataset,
  path: string | null,
  generator: Record<string, unknown> | null,
): Promise<DataSource> {
  let absolutePath: string | null = null;
  if (path !== null) {
    try {
      absolutePath = await Deno.realPath(path);
    } catch {
      absolutePath = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
    }
  }
  return {
    path,
    absolutePath,
    name: ds.name,
    generator,
    fingerprint: await fingerprintDataset(ds),
    images: ds.numImages,
    texts: ds.numTexts,
  };
}
