// The suite runner's verdict (tests/run_suite.ts): a SIGABRT at exit counts as a pass only with a
// complete all-passed JUnit report, a matching summary line and glibc's heap message; nothing else
// is forgiven.

import { assertEquals, assertOk } from "./util.ts";
import { junitCounts, type SuiteOutcome, suiteVerdict } from "./run_suite.ts";
import { heapAbortMessage } from "../src/util/exit_abort.ts";
import { exitAbortAfterResults, runFailure } from "../src/cli/bench_record.ts";

/** A JUnit report as `deno test --junit-path` writes it (shape copied from a real run). */
function junit(tests: number, failures: number, errors = 0): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="${tests}" failures="${failures}" errors="${errors}" time="0.375">
    <testsuite name="./tests/a_test.ts" tests="${tests}" disabled="0" errors="${errors}" failures="${failures}">
        <testcase name="gpu smoke" classname="./tests/a_test.ts" time="0.362" line="2" col="6">
        </testcase>
    </testsuite>
</testsuites>
`;
}

const SUMMARY =
  "\n\x1b[0m\x1b[32mok\x1b[0m | 478 passed | 0 failed \x1b[0m\x1b[38;5;245m(3m16s)\x1b[0m\n";
const HEAP = "\ncorrupted size vs. prev_size in fastbins\n";

const aborted: SuiteOutcome = {
  code: 134,
  signal: "SIGABRT",
  junit: junit(478, 0),
  stdoutTail: SUMMARY,
  stderrTail: HEAP,
};

Deno.test("suite runner: a clean exit passes, any other exit code fails", () => {
  assertEquals(suiteVerdict({ ...aborted, code: 0, signal: null }), { code: 0, note: null });
  assertEquals(suiteVerdict({ ...aborted, code: 1, signal: null }).code, 1);
});

Deno.test("suite runner: the exit abort after a complete, all-passed run passes with a note", () => {
  const verdict = suiteVerdict(aborted);
  assertEquals(verdict.code, 0);
  assertOk(verdict.note?.includes("all 478 tests passed"), String(verdict.note));
  assertOk(verdict.note?.includes("corrupted size vs. prev_size"), String(verdict.note));
  const stepped = "ok | 478 passed (12 steps) | 0 failed | 3 ignored (1m)";
  assertEquals(suiteVerdict({ ...aborted, stdoutTail: stepped }).code, 0);
  const other = "double free or corruption (fasttop)\n";
  assertEquals(suiteVerdict({ ...aborted, stderrTail: other }).code, 0);
});

Deno.test("suite runner: an abort is a failure unless report, summary and message all agree", () => {
  const failing: [string, Partial<SuiteOutcome>][] = [
    ["no report", { junit: null }],
    ["a truncated report", { junit: junit(478, 0).slice(0, 200) }],
    ["a failure in the report", { junit: junit(478, 1) }],
    ["an error in the report", { junit: junit(478, 0, 1) }],
    ["an empty report", { junit: junit(0, 0), stdoutTail: "ok | 0 passed | 0 failed" }],
    ["no summary line", { stdoutTail: "running 12 tests from ./tests/a_test.ts\n" }],
    ["a summary with another count", { junit: junit(477, 0) }],
    ["a failed summary", { stdoutTail: "FAILED | 477 passed | 1 failed" }],
    ["no heap message", { stderrTail: "Aborted\n" }],
    ["another signal", { signal: "SIGSEGV", code: 139 }],
  ];
  for (const [what, change] of failing) {
    const verdict = suiteVerdict({ ...aborted, ...change });
    assertOk(verdict.code !== 0, `${what}: passed`);
    assertEquals(verdict.note, null, what);
  }
});

Deno.test("suite runner: junitCounts reads the root element of a complete report only", () => {
  assertEquals(junitCounts(junit(3, 1, 2)), { tests: 3, failures: 1, errors: 2 });
  assertEquals(junitCounts(junit(3, 0).replace("</testsuites>", "")), null);
  assertEquals(junitCounts("<testsuites></testsuites>"), null);
  assertEquals(junitCounts(""), null);
});

Deno.test("exit abort: SIGABRT with glibc's heap message only", () => {
  assertEquals(heapAbortMessage("SIGABRT", HEAP), "corrupted size vs. prev_size");
  assertEquals(heapAbortMessage("SIGABRT", "Aborted\n"), null);
  assertEquals(heapAbortMessage("SIGSEGV", HEAP), null);
  assertEquals(heapAbortMessage(null, HEAP), null);
});

Deno.test("bench:record keeps a file's results through the exit abort only when all are there", () => {
  const abort = { success: false, code: 134, signal: "SIGABRT" } as Deno.CommandStatus;
  const ok = { results: [{ ok: { n: 4, avg: 1 } }] };
  const failed = { results: [{ failed: "boom" }] };
  assertEquals(exitAbortAfterResults(["b.ts"], { benches: [ok, ok] }, abort, HEAP), true);
  assertEquals(exitAbortAfterResults(["b.ts"], { benches: [ok, failed] }, abort, HEAP), false);
  assertEquals(exitAbortAfterResults(["b.ts"], { benches: [] }, abort, HEAP), false);
  assertEquals(exitAbortAfterResults(["b.ts"], { benches: [ok] }, abort, "Aborted"), false);
  const segv = { success: false, code: 139, signal: "SIGSEGV" } as Deno.CommandStatus;
  assertEquals(exitAbortAfterResults(["b.ts"], { benches: [ok] }, segv, HEAP), false);
  // A run it does not keep is named in the record with how it ended.
  assertEquals(runFailure(["b.ts"], segv), "b.ts (exit code 139, signal SIGSEGV)");
  const exit1 = { success: false, code: 1, signal: null } as Deno.CommandStatus;
  assertEquals(runFailure(["a.ts", "b.ts"], exit1), "a.ts b.ts (exit code 1)");
});
