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
  const files = args.length > 0 ? args : ["bench/"];
  const env = await environment();
  console.error(`running deno bench on ${files.join(" ")} (this takes several minutes)…`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["bench", "-A", "--json", ...files],
    stdout: "piped",
    stderr: "inherit",
    env: { CROSSRANK_BENCH_TABLES: "stderr" },
  }).spawn();
  const result = await child.output();
  const text = new TextDecoder().decode(result.stdout);
  let bench: unknown;
  try {
    bench = JSON.parse(text);
  } catch {
    throw new Error(`deno bench did not print JSON (exit code ${result.code})`);
  }
  const stamp = env.date.replace(/[:.]/g, "-").slice(0, 19);
  const path = out ?? `bench/results/${stamp}-${env.commit.slice(0, 8)}.json`;
  await Deno.mkdir(path.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  await writeFileAtomic(
    path,
    new TextEncoder().encode(
      JSON.stringify({ kind: "bench", environment: env, bench }, null, 2) + "\n",
    ),
  );
  console.error(`wrote ${path}${result.success ? "" : ` (deno bench exited with ${result.code})`}`);
  return result.success ? 0 : 1;
}

if (import.meta.main) await runMain(main, HELP);
