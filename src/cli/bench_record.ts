/**
 * `deno task bench:record [FILES…] [-- deno bench flags]`: runs `deno bench --json` and saves the
 * result with where it was measured (commit, Deno version, adapter) as
 * `bench/results/<date>-<commit>.json`, for `deno task bench:diff OLD NEW`.
 *
 * @module
 */

import { writeFileAtomic } from "../data/errors.ts";
import { environment } from "../report/environment.ts";
import { runMain } from "./args.ts";
import { formatDuration } from "../train/progress.ts";
import { heapAbortMessage, teeTail } from "../util/exit_abort.ts";

/**
 * Whether a `deno bench` run that did not succeed is the exit abort after complete results
 * (`src/util/exit_abort.ts`): SIGABRT with glibc's heap message, and its JSON holds at least one
 * bench, every one with a result and none failed. Says so on stderr when it is.
 */
export function exitAbortAfterResults(
  files: string[],
  part: { benches: unknown[] },
  status: Deno.CommandStatus,
  stderrTail: string,
): boolean {
  const heap = heapAbortMessage(status.signal, stderrTail);
  const benches = part.benches as { results?: { ok?: unknown }[] }[];
  const complete = benches.length > 0 &&
    benches.every((b) => (b.results?.length ?? 0) > 0 && b.results!.every((r) => r.ok));
  if (!heap || !complete) return false;
  console.error(
    `bench:record: note: ${files.join(" ")} printed all ${benches.length} results, then its ` +
      `process aborted while exiting with glibc's "${heap}" (the exit abort, bench/README.md); ` +
      "its results are kept.",
  );
  return true;
}

/**
 * How a `deno bench` run that did not succeed ended, for the record's message and its `failed`
 * field, e.g. `bench/x_bench.ts (exit code 134, signal SIGABRT)`.
 */
export function runFailure(files: string[], status: Deno.CommandStatus): string {
  const signal = status.signal ? `, signal ${status.signal}` : "";
  return `${files.join(" ")} (exit code ${status.code}${signal})`;
}

/** The `*_bench.ts` files directly in `dir`, sorted. */
async function benchFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith("_bench.ts")) out.push(`${dir}${e.name}`);
  }
  return out.sort();
}

/** The peer benches and their own Deno config (separate lockfile: tfjs is fetched for them only). */
const PEERS = "bench/peers/";
const PEERS_CONFIG = "bench/peers/deno.json";

const HELP = `Usage: deno task bench:record [BENCH_FILES…] [--out FILE]

Runs \`deno bench -A --json\` on the given files (default: bench/) and writes the results plus the
commit, Deno version and adapter to bench/results/<date>-<commit>.json (or --out FILE). Compare two
records with \`deno task bench:diff OLD NEW\`.`;

async function main(): Promise<number> {
  const args = [...Deno.args];
  if (args.includes("--help")) {
    console.log(HELP);
    return 0;
  }
  let out: string | null = null;
  const o = args.indexOf("--out");
  if (o >= 0) {
    out = args[o + 1] ?? null;
    args.splice(o, 2);
  }
  // One `deno bench` per file, for a progress line per file. The peer benches (tfjs) have their own
  // config and lockfile, so that no other command downloads them; their results are merged in.
  const runs = args.length > 0 ? args.map((file) => ({ config: [] as string[], files: [file] })) : [
    ...(await benchFiles("bench/")).map((file) => ({ config: [] as string[], files: [file] })),
    ...(await benchFiles(PEERS)).map((file) => ({
      config: ["--config", PEERS_CONFIG],
      files: [file],
    })),
  ];
  const env = await environment();
  let bench: { benches: unknown[] } | null = null;
  const failed: string[] = [];
  const started = performance.now();
  for (const [i, run] of runs.entries()) {
    console.error(
      `bench:record: ${i + 1}/${runs.length} ${run.files.join(" ")} ` +
        `(${
          formatDuration((performance.now() - started) / 1000)
        } elapsed; the whole record takes ` +
        "about 6 min here)",
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["bench", "-A", "--json", ...run.config, ...run.files],
      stdout: "piped",
      stderr: "piped",
      env: { CROSSRANK_BENCH_TABLES: "stderr" },
    }).spawn();
    const [stdout, stderrTail, status] = await Promise.all([
      new Response(child.stdout).text(),
      teeTail(child.stderr, Deno.stderr),
      child.status,
    ]);
    let part: { benches: unknown[] };
    try {
      part = JSON.parse(stdout);
    } catch {
      throw new Error(
        `deno bench ${run.files.join(" ")} did not print JSON (exit code ${status.code})`,
      );
    }
    if (!status.success && !exitAbortAfterResults(run.files, part, status, stderrTail)) {
      failed.push(runFailure(run.files, status));
    }
    if (bench === null) bench = part;
    else bench.benches.push(...part.benches);
  }
  const stamp = env.date.replace(/[:.]/g, "-").slice(0, 19);
  const path = out ?? `bench/results/${stamp}-${env.commit.slice(0, 8)}.json`;
  await Deno.mkdir(path.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  await writeFileAtomic(
    path,
    new TextEncoder().encode(
      JSON.stringify(
        { kind: "bench", environment: env, bench, ...(failed.length > 0 ? { failed } : {}) },
        null,
        2,
      ) + "\n",
    ),
  );
  console.error(`wrote ${path}${failed.length === 0 ? "" : ` (failed: ${failed.join("; ")})`}`);
  return failed.length === 0 ? 0 : 1;
}

if (import.meta.main) await runMain(main, HELP);
