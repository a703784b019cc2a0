// The shape README's Architecture section states, checked on the source tree (no GPU): the
// layers of src/ and mod.ts (the order is written once, in LAYERS below, and README shows it), no
// import cycle, CPU twins reached only from tests and benches; and one kernel, one name, four
// places (with the exceptions of FOUR_PLACES_EXCEPTIONS, which README shows too).

import { assertEquals, assertOk } from "./util.ts";
import { Kernel, type KernelDecl } from "../src/gpu/declare.ts";
import * as KERNELS from "../src/gpu/kernels.ts";

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

/**
 * What a kernel `kernels/X.wgsl` has instead of one of its four places, `src/reference/X.ts`,
 * `tests/X_test.ts`, `bench/X_bench.ts` and its module (`src/ops/X.ts`, or `src/losses/X.ts` for a
 * loss): the path that stands in, or `null` where there is none, with the reason.
 */
export const FOUR_PLACES_EXCEPTIONS: Record<
  string,
  {
    reference?: string | null;
    test?: string | null;
    bench?: string | null;
    module?: string | null;
    why: string;
  }
> = {
  prelude: {
    reference: "src/util/random.ts",
    test: null,
    bench: null,
    module: "src/gpu/prelude.ts",
    why: "no entry point: part of every module; its hash's twin is lowbias32 in src/util/random.ts",
  },
  matmul_naive: {
    reference: "src/reference/matmul.ts",
    test: "tests/matmul_test.ts",
    bench: "bench/matmul_bench.ts",
    module: "src/ops/matmul.ts",
    why: "the matmul baseline: twin, test, bench and module are matmul's",
  },
  matmul_tex: {
    reference: "src/reference/matmul.ts",
    test: "tests/matmul_test.ts",
    bench: "bench/matmul_bench.ts",
    module: "src/ops/matmul.ts",
    why: "matmul's texture path: twin, test, bench and module are matmul's",
  },
  adamw: { module: "src/optim/adamw.ts", why: "an optimiser, not an op" },
  image_features: { module: "src/data/image_features.ts", why: "a featuriser, not an op" },
  losses: { module: "src/losses/launch.ts", why: "the losses' shared entries" },
};

const exists = (path: string) => {
  try {
    return Deno.statSync(new URL(path, ROOT)).isFile;
  } catch {
    return false;
  }
};

const WGSL = [...Deno.readDirSync(new URL("kernels", ROOT))]
  .filter((e) => e.name.endsWith(".wgsl"))
  .map((e) => e.name.slice(0, -5))
  .sort();

Deno.test("one kernel, one name, four places (and the documented exceptions)", () => {
  const missing: string[] = [];
  for (const x of WGSL) {
    const ex = FOUR_PLACES_EXCEPTIONS[x] ?? { why: "" };
    const places: [string | null | undefined, string[]][] = [
      [ex.reference, [`src/reference/${x}.ts`]],
      [ex.test, [`tests/${x}_test.ts`]],
      [ex.bench, [`bench/${x}_bench.ts`]],
      [ex.module, [`src/ops/${x}.ts`, `src/losses/${x}.ts`]],
    ];
    for (const [stand, paths] of places) {
      if (stand === null) continue;
      const candidates = stand === undefined ? paths : [stand];
      if (!candidates.some(exists)) {
        missing.push(`kernels/${x}.wgsl: no ${candidates.join(" or ")}`);
      }
    }
  }
  for (const x of Object.keys(FOUR_PLACES_EXCEPTIONS)) {
    assertOk(WGSL.includes(x), `exception for kernels/${x}.wgsl, which does not exist`);
  }
  assertEquals(missing, []);
});

Deno.test("every kernel file is declared once, with exactly the entry points it defines", () => {
  const decls: KernelDecl[] = (Object.values(KERNELS) as unknown[])
    .flatMap((k) => k instanceof Kernel ? [(k as Kernel<KernelDecl>).decl] : []);
  const wrong: string[] = [];
  for (const x of WGSL.filter((x) => x !== "prelude")) {
    const matching = decls.filter((d) => d.file === x);
    if (matching.length !== 1) {
      wrong.push(`kernels/${x}.wgsl: ${matching.length} declarations`);
      continue;
    }
    const text = Deno.readTextFileSync(new URL(`kernels/${x}.wgsl`, ROOT));
    const defined = [...text.matchAll(/@compute[^\n]*\n\s*fn (\w+)/g)].map((m) => m[1]).sort();
    const declared = [...matching[0].entries].sort();
    if (JSON.stringify(defined) !== JSON.stringify(declared)) {
      wrong.push(`kernels/${x}.wgsl defines ${defined}, its declaration lists ${declared}`);
    }
  }
  assertEquals(wrong, []);
});

Deno.test("README's Architecture section shows the exceptions to the four places", () => {
  const readme = Deno.readTextFileSync(new URL("README.md", ROOT));
  const section = readme.slice(readme.indexOf("## Architecture"));
  for (const x of Object.keys(FOUR_PLACES_EXCEPTIONS)) {
    assertOk(section.includes(`| \`${x}\``), `README's exception table lists ${x}`);
  }
});
