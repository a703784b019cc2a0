// The shape README's Architecture section states, checked on the source tree (no GPU): the
// layers of src/ and mod.ts (the order is written once, in LAYERS below, and README shows it), no
// import cycle, CPU twins reached only from tests and benches.

import { assertEquals, assertOk } from "./util.ts";

/**
 * The layers of `src/`, lowest first: a module imports modules of its own directory and of lower
 * layers only (directories on one line are one layer and do not import each other). `mod.ts` is
 * the top. README's Architecture section shows this table.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["util"],
  ["gpu"],
  ["data"],
  ["autodiff"],
  ["ops"],
  ["optim", "losses"],
  ["model", "eval"],
  ["train"],
  ["report"],
  ["cli", "mod.ts"],
];

/** The float64 CPU twins: they import only these layers, and only tests and benches import them. */
export const TWINS = { dir: "reference", imports: ["util", "gpu", "data"] } as const;

const ROOT = new URL("../", import.meta.url);

/** Every `.ts` file under `dir` (relative to the repository root). */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(new URL(dir, ROOT))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...walk(path));
    else if (e.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/**
 * The relative imports (static, dynamic, type-only and re-exports) of a file, as root paths;
 * comments (and the examples in them) are not code.
 */
function importsOf(file: string): string[] {
  const text = Deno.readTextFileSync(new URL(file, ROOT))
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)].map((m) => m[1]);
  return specs.map((s) => new URL(s, new URL(file, ROOT)).pathname.slice(ROOT.pathname.length));
}

/** The layer of a root path: `mod.ts`, or the directory under `src/`. */
function layerOf(path: string): string {
  return path === "mod.ts" ? "mod.ts" : path.split("/")[1];
}

function rank(layer: string): number {
  const r = LAYERS.findIndex((names) => names.includes(layer));
  if (r < 0) throw new Error(`${layer} is in no layer of LAYERS`);
  return r;
}

const FILES = ["mod.ts", ...walk("src")];
const GRAPH = new Map(FILES.map((f) => [f, importsOf(f)]));

Deno.test("every import of src/ and mod.ts runs down the layers (or stays in its directory)", () => {
  const wrong: string[] = [];
  for (const [file, imports] of GRAPH) {
    const from = layerOf(file);
    for (const target of imports) {
      const to = layerOf(target);
      if (!target.startsWith("src/") && target !== "mod.ts") {
        wrong.push(`${file} imports ${target}, outside src/`);
      } else if (to === TWINS.dir || from === TWINS.dir) {
        const ok = from === TWINS.dir && (to === TWINS.dir || TWINS.imports.some((l) => l === to));
        if (!ok) wrong.push(`${file} imports ${target} (twins: tests and benches only)`);
      } else if (from !== to && rank(to) >= rank(from)) {
        wrong.push(`${file} (${from}) imports ${target} (${to}), not a lower layer`);
      }
    }
  }
  assertEquals(wrong, []);
});

Deno.test("the import graph of src/ and mod.ts has no cycle", () => {
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      cycles.push([...path.slice(path.indexOf(file)), file].join(" → "));
      return;
    }
    state.set(file, "open");
    for (const next of GRAPH.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, "done");
  };
  for (const file of FILES) visit(file, []);
  assertEquals(cycles, []);
});

Deno.test("README's Architecture section shows the layers of LAYERS", () => {
  const readme = Deno.readTextFileSync(new URL("README.md", ROOT));
  const section = readme.slice(readme.indexOf("## Architecture"));
  const rows = [...LAYERS].reverse().map((names) =>
    names.map((n) => (n === "mod.ts" ? n : `src/${n}/`)).join(" + ")
  );
  let at = 0;
  for (const row of rows) {
    const found = section.indexOf(row, at);
    assertOk(found >= 0, `README's Architecture lists "${row}" after the layers above it`);
    at = found + row.length;
  }
});
