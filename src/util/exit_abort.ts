/**
 * The exit abort: on llvmpipe behind libglvnd's EGL, a Deno process whose worker threads made EGL
 * calls (`deno test`, `deno bench`: their modules run on pooled threads) can abort *while exiting*,
 * after its work is done and reported: glibc finds heap corruption when a thread's exit runs
 * libglvnd's thread-state destructor while the main thread runs libglvnd's library destructor
 * (bench/README.md, "The exit abort"). `tests/run_suite.ts` and `deno task bench:record` recognise
 * it from the signal and glibc's message, and accept the run only when its own output proves the
 * work complete.
 *
 * @module
 */

/** glibc's messages for heap corruption found at `free` (malloc/malloc.c `malloc_printerr`). */
export const GLIBC_HEAP_MESSAGES: readonly string[] = [
  "double free or corruption",
  "corrupted size vs. prev_size",
  "corrupted double-linked list",
  "free(): invalid pointer",
  "free(): invalid next size",
  "malloc(): unaligned tcache chunk",
];

/**
 * glibc's heap message in `stderrTail` when the process ended by SIGABRT, else null: the sign of
 * the exit abort (whether the work was complete is for the caller to check).
 *
 * @example
 * ```ts
 * import { heapAbortMessage } from "./exit_abort.ts";
 * heapAbortMessage("SIGABRT", "ok\ndouble free or corruption (fasttop)\n"); // "double free or corruption"
 * heapAbortMessage(null, "double free or corruption"); // null
 * ```
 */
export function heapAbortMessage(signal: string | null, stderrTail: string): string | null {
  if (signal !== "SIGABRT") return null;
  return GLIBC_HEAP_MESSAGES.find((m) => stderrTail.includes(m)) ?? null;
}

/**
 * Copies `stream` to `sink` as it arrives and returns its last `limit` characters.
 */
export async function teeTail(
  stream: ReadableStream<Uint8Array>,
  sink: { write(p: Uint8Array): Promise<number> },
  limit = 8192,
): Promise<string> {
  const decoder = new TextDecoder();
  let tail = "";
  for await (const chunk of stream) {
    let written = 0;
    while (written < chunk.length) written += await sink.write(chunk.subarray(written));
    tail = (tail + decoder.decode(chunk, { stream: true })).slice(-limit);
  }
  return tail;
}
