/**
 * `deno task bench:diff OLD NEW`: prints what changed between two recorded results — bench records
 * (`deno task bench:record`, or raw `deno bench --json` output) or compare results
 * (`results.json` of `deno task compare`).
 *
 * For benches, absolute times drift with the machine's load, so besides NEW/OLD of each mean time
 * it prints each bench's ratio to its group's baseline in both runs: a change there is a change of
 * the code, not of the machine.
 *
 * @module
 */

import { runMain, UsageError } from "./args.ts";

const HELP = `Usage: deno task bench:diff OLD.json NEW.json

OLD and NEW are files written by \`deno task bench:record\` (or \`deno bench --json\`), or two
\`results.json\` of \`deno task compare\`. Prints each benchmark's mean time in both, NEW/OLD, and
its ratio to the group baseline in both (robust to machine speed); for compare results, each loss's
mean metrics in both and the difference.`;

interface BenchEntry {
  origin: string;
  group: string | null;
  name: string;
  baseline: boolean;
  results: { ok?: { avg: number; n: number } }[];
}

interface Record {
  kind?: string;
  environment?: { commit?: string; deno?: string; adapter?: string; date?: string };
  bench?: { benches: BenchEntry[] };
  benches?: BenchEntry[];
  runs?: {
    loss: string;
    metrics: { rsum: number; t2i: { [k: string]: number }; i2t: { [k: string]: number } };
  }[];
  rows?: { loss: string; ndcg: { [k: string]: number } }[];
}

async function load(path: string): Promise<Record> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

function formatTime(ns: number): string {
  if (!Number.isFinite(ns)) return "—";
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns.toFixed(0)} ns`;
}

function benchMap(r: Record): Map<string, { avg: number; vsBaseline: number }> {
  const benches = r.bench?.benches ?? r.benches ?? [];
  const out = new Map<string, { avg: number; vsBaseline: number }>();
  const baselines = new Map<string, number>();
  for (const b of benches) {
    const avg = b.results[0]?.ok?.avg;
    if (avg !== undefined && b.baseline) baselines.set(`${b.origin}|${b.group}`, avg);
  }
  for (const b of benches) {
    const avg = b.results[0]?.ok?.avg;
    if (avg === undefined) continue;
    const file = b.origin.split("/").pop();
    const base = baselines.get(`${b.origin}|${b.group}`);
    out.set(`${file} › ${b.group ?? "-"} › ${b.name}`, {
      avg,
      vsBaseline: base ? avg / base : NaN,
    });
  }
  return out;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ")
  )
    .join("\n");
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
}

function diffCompare(a: Record, b: Record): string {
  const keys = ["rsum", "t2i R@1", "i2t R@1"];
  const summarise = (r: Record) => {
    const by = new Map<string, number[][]>();
    if (r.runs) {
      for (const run of r.runs) {
        const row = [run.metrics.rsum, run.metrics.t2i["R@1"], run.metrics.i2t["R@1"]];
        by.set(run.loss, [...(by.get(run.loss) ?? []), row]);
      }
    } else {
      for (const row of r.rows ?? []) {
        by.set(row.loss, [...(by.get(row.loss) ?? []), Object.values(row.ndcg)]);
      }
    }
    return new Map(
      [...by].map(([loss, rows]) => [loss, rows[0].map((_, i) => mean(rows.map((x) => x[i])))]),
    );
  };
  const [sa, sb] = [summarise(a), summarise(b)];
  const names = a.runs ? keys : Object.keys(a.rows?.[0]?.ndcg ?? {});
  const rows = [["loss", ...names.flatMap((k) => [`${k} old`, `${k} new`, "Δ"])]];
  for (const loss of new Set([...sa.keys(), ...sb.keys()])) {
    const [x, y] = [sa.get(loss), sb.get(loss)];
    rows.push([
      loss,
      ...names.flatMap((_, i) => {
        const o = x?.[i] ?? NaN;
        const n = y?.[i] ?? NaN;
        const digits = a.runs ? 1 : 4;
        return [
          o.toFixed(digits),
          n.toFixed(digits),
          `${n - o >= 0 ? "+" : ""}${(n - o).toFixed(digits)}`,
        ];
      }),
    ]);
  }
  return table(rows);
}

async function main(): Promise<number> {
  if (Deno.args.includes("--help")) {
    console.log(HELP);
    return 0;
  }
  if (Deno.args.length !== 2) throw new UsageError("expected two files: OLD NEW");
  const [a, b] = await Promise.all(Deno.args.map(load));
  const env = (r: Record) =>
    `commit ${r.environment?.commit?.slice(0, 10) ?? "?"}, Deno ${r.environment?.deno ?? "?"}, ` +
    `${r.environment?.adapter ?? "?"}, ${r.environment?.date ?? "?"}`;
  console.log(`OLD: ${Deno.args[0]} (${env(a)})\nNEW: ${Deno.args[1]} (${env(b)})\n`);
  if (a.runs || a.rows) {
    console.log(diffCompare(a, b));
    return 0;
  }
  const [ma, mb] = [benchMap(a), benchMap(b)];
  const rows = [["bench", "old", "new", "new/old", "vs baseline old", "vs baseline new"]];
  for (const key of new Set([...ma.keys(), ...mb.keys()])) {
    const [x, y] = [ma.get(key), mb.get(key)];
    rows.push([
      key,
      formatTime(x?.avg ?? NaN),
      formatTime(y?.avg ?? NaN),
      x && y ? `${(y.avg / x.avg).toFixed(2)}×` : "—",
      x && Number.isFinite(x.vsBaseline) ? `${x.vsBaseline.toFixed(2)}×` : "—",
      y && Number.isFinite(y.vsBaseline) ? `${y.vsBaseline.toFixed(2)}×` : "—",
    ]);
  }
  console.log(table(rows));
  return 0;
}

if (import.meta.main) await runMain(main, HELP);
