/**
 * Where a result was measured: commit, Deno version, adapter, date — stored with every bench and
 * compare result so results can be compared over time (`deno task bench:diff`).
 *
 * @module
 */

import { initGpu } from "../gpu/runtime.ts";

/** The environment of a measurement. */
export interface Environment {
  /** `git rev-parse HEAD` of the project, or `unknown` outside a checkout. */
  commit: string;
  /** Whether the working tree had uncommitted changes. */
  dirty: boolean;
  /** Deno version. */
  deno: string;
  /** The WebGPU adapter's description. */
  adapter: string;
  /** The wgpu backend (`gl`, `vulkan`, …). */
  backend: string;
  /** ISO date and time. */
  date: string;
  /** Logical CPU count. */
  cpus: number;
}

async function git(args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args,
      cwd: new URL("../..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** Describes this machine and checkout. */
export async function environment(): Promise<Environment> {
  const gpu = (await initGpu()).gpu;
  return {
    commit: (await git(["rev-parse", "HEAD"])) ?? "unknown",
    dirty: ((await git(["status", "--porcelain", "--untracked-files=no"])) ?? "") !== "",
    deno: Deno.version.deno,
    adapter: gpu.adapterName,
    backend: gpu.backend,
    date: new Date().toISOString(),
    cpus: navigator.hardwareConcurrency ?? 0,
  };
}
