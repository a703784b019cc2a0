/**
 * Strict JSON for file headers and metadata: `JSON.parse` plus a check that no object repeats a
 * key (`JSON.parse` silently keeps the last one, so a file could say two things at once).
 *
 * @example
 * ```ts
 * import { parseJsonStrict } from "./json.ts";
 * parseJsonStrict('{"a": 1}', "x.json"); // { a: 1 }
 * parseJsonStrict('{"a": 1, "a": 2}', "x.json"); // DataError: x.json: key "a" appears twice (at the top level)
 * ```
 *
 * @module
 */

import { DataError } from "./errors.ts";

/** Where a repeated key was found: the key and the path of its object (`""` is the top level). */
export interface DuplicateKey {
  /** The repeated key. */
  key: string;
  /** Path of the object holding it, as `.a.b[3]` (`""` for the top-level object). */
  path: string;
}

/**
 * The first key that appears twice in one object of `text`, or null. `text` must be valid JSON
 * (parse it first); the scan is linear in its length.
 */
export function findDuplicateKey(text: string): DuplicateKey | null {
  interface Frame {
    object: boolean;
    keys: Set<string>;
    path: string;
    expectKey: boolean;
    key: string;
    index: number;
  }
  const stack: Frame[] = [];
  const child = (top: Frame | undefined) =>
    top === undefined ? "" : top.object ? `${top.path}.${top.key}` : `${top.path}[${top.index}]`;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack.at(-1);
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (top?.object && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return { key, path: top.path };
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === "{" || c === "[") {
      stack.push({
        object: c === "{",
        keys: new Set(),
        path: child(top),
        expectKey: c === "{",
        key: "",
        index: 0,
      });
    } else if (c === "}" || c === "]") {
      stack.pop();
    } else if (c === "," && top) {
      if (top.object) top.expectKey = true;
      else top.index++;
    }
  }
  return null;
}

/**
 * Parses JSON text, refusing a repeated key in any object. Errors are {@link DataError}s prefixed
 * with `what` (the file, and the field when the text is one field of it).
 */
export function parseJsonStrict(text: string, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DataError(`${what}: not valid JSON (${(error as Error).message})`);
  }
  const dup = findDuplicateKey(text);
  if (dup) {
    throw new DataError(
      `${what}: key ${JSON.stringify(dup.key)} appears twice (in ${
        dup.path === "" ? "the top-level object" : dup.path.replace(/^\./, "")
      }); a file must say each thing once`,
    );
  }
  return value;
}
