/**
 * Command-line parsing shared by the CLIs: `node:util` parseArgs (JSR's @std/cli is unreachable
 * here) plus typed number/choice helpers that fail with a usage message instead of a stack trace.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { getLoss, resolveOptions } from "../losses/registry.ts";
import { dccaOptions, isBatchLoss } from "../losses/dcca.ts";
import { DEFAULT_GENERATOR, GENERATORS, type GeneratorVersion } from "../data/synthetic.ts";
import { DEFAULT_SPLIT } from "../data/split.ts";
import { DEFAULT_MAX_IMAGE_PIXELS } from "../data/image_features.ts";
import { SizeLimitError } from "../util/limits.ts";
import { BindingLimitError } from "../gpu/device.ts";

/** Thrown for bad flags; the CLIs print it with the usage text and exit with code 2. */
export class UsageError extends Error {
  /** @param message what is wrong with the command line */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** One documented option. */
export interface OptionSpec {
  /** `string` takes a value; `boolean` is a switch. */
  type: "string" | "boolean";
  /** Default shown in `--help` (and applied by the caller). */
  default?: string | boolean;
  /** Value placeholder in `--help` (e.g. `N`). */
  value?: string;
  /** One-line description. */
  help: string;
  /** May be given several times. */
  multiple?: boolean;
}

/** Parses `args` against `specs`; unknown flags and positionals raise a {@link UsageError}. */
export function parseFlags(
  args: string[],
  specs: Record<string, OptionSpec>,
): Record<string, string | boolean | string[] | undefined> {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {};
  for (const [name, s] of Object.entries(specs)) {
    options[name] = s.multiple ? { type: s.type, multiple: true } : { type: s.type };
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options,
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    return values as Record<string, string | boolean | string[] | undefined>;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message.replace(/\. To specify a positional.*$/s, ""));
  }
}

/** Formats `--help` text from the specs. */
export function usage(command: string, summary: string, specs: Record<string, OptionSpec>): string {
  const lines = [`Usage: ${command}`, "", summary, "", "Options:"];
  const rows = Object.entries(specs).map(([name, s]) => {
    const flag = `--${name}${s.type === "string" ? ` ${s.value ?? "VALUE"}` : ""}`;
    const def = s.default !== undefined && s.default !== "" ? ` (default: ${s.default})` : "";
    return [flag, `${s.help}${def}`];
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  for (const [flag, text] of rows) lines.push(`  ${flag.padEnd(width)}${text}`);
  return lines.join("\n");
}

/** Parses a finite number flag, optionally an integer within bounds. */
export function numberFlag(
  name: string,
  raw: string | boolean | string[] | undefined,
  fallback: number,
  { integer = false, min = -Infinity, max = Infinity }: {
    integer?: boolean;
    min?: number;
    max?: number;
  } = {},
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(value)) {
    throw new UsageError(`--${name} expects a number, got '${raw}'`);
  }
  if (integer && !Number.isInteger(value)) {
    throw new UsageError(`--${name} expects an integer, got '${raw}'`);
  }
  if (value < min || value > max) {
    throw new UsageError(`--${name} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

/** Parses a flag that must be one of `choices`. */
export function choiceFlag<T extends string>(
  name: string,
  raw: string | boolean | string[] | undefined,
  choices: readonly T[],
  fallback: T,
): T {
  if (raw === undefined) return fallback;
  if (typeof raw !== "string" || !choices.includes(raw as T)) {
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got '${raw}'`);
  }
  return raw as T;
}

/** Parses repeated `key=value` flags; values become numbers or booleans where they parse as such. */
export function keyValueFlags(
  name: string,
  raw: string | boolean | string[] | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const items = raw === undefined ? [] : Array.isArray(raw) ? raw : [String(raw)];
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`--${name} expects key=value, got '${item}'`);
    const key = item.slice(0, eq);
    const text = item.slice(eq + 1);
    out[key] = text === "true"
      ? true
      : text === "false"
      ? false
      : text !== "" && Number.isFinite(Number(text))
      ? Number(text)
      : text;
  }
  return out;
}

/** The options that choose the split (train and compare), with the one default policy. */
export const SPLIT_OPTIONS: Record<string, OptionSpec> = {
  "data-seed": {
    type: "string",
    value: "S",
    help: "seed of the default dataset and of the train/val/test split",
    default: "0",
  },
  "val-fraction": {
    type: "string",
    value: "F",
    help: "validation part of the images: picks the kept checkpoint (0 = keep the final weights)",
    default: String(DEFAULT_SPLIT.valFraction),
  },
  "test-fraction": {
    type: "string",
    value: "F",
    help: "test part of the images: never trained on, scored at the end (0 = none)",
    default: String(DEFAULT_SPLIT.testFraction),
  },
};

/** The image-size limit of raw collections (train, eval, compare). */
export const MAX_MEGAPIXELS_OPTION: Record<string, OptionSpec> = {
  "max-megapixels": {
    type: "string",
    value: "MP",
    help: "largest image of a raw collection, checked before decoding",
    default: String(DEFAULT_MAX_IMAGE_PIXELS / 1e6),
  },
};

/** Parses {@link SPLIT_OPTIONS}; `minVal` is the least validation fraction allowed. */
export function splitFlags(
  flags: Record<string, string | boolean | string[] | undefined>,
  minVal = 0,
): { valFraction: number; testFraction: number; dataSeed: number } {
  return {
    valFraction: numberFlag("val-fraction", flags["val-fraction"], DEFAULT_SPLIT.valFraction, {
      min: minVal,
      max: 0.9,
    }),
    testFraction: numberFlag("test-fraction", flags["test-fraction"], DEFAULT_SPLIT.testFraction, {
      min: 0,
      max: 0.9,
    }),
    dataSeed: numberFlag("data-seed", flags["data-seed"], 0, { integer: true, min: 0 }),
  };
}

/** Parses {@link MAX_MEGAPIXELS_OPTION} into pixels. */
export function maxImagePixelsFlag(
  flags: Record<string, string | boolean | string[] | undefined>,
): number {
  const mp = numberFlag(
    "max-megapixels",
    flags["max-megapixels"],
    DEFAULT_MAX_IMAGE_PIXELS / 1e6,
    { min: 0 },
  );
  return mp * 1e6;
}

/**
 * Checks a loss name and its options (`--loss-opt` values), turning an unknown name or a bad option
 * into a {@link UsageError}. `flag` names the flag for messages; `allowBatch` accepts the batch
 * losses (`dcca`, retrieval training only).
 */
export function checkLoss(
  name: string,
  options: Record<string, unknown>,
  flag = "--loss",
  allowBatch = false,
): void {
  try {
    if (isBatchLoss(name)) {
      if (!allowBatch) {
        throw new RangeError(
          `'${name}' is a batch loss on embeddings, for retrieval training only, not on lists`,
        );
      }
      dccaOptions(options);
      return;
    }
    resolveOptions(getLoss(name), options);
  } catch (e) {
    throw new UsageError(`${flag} ${name}: ${(e as Error).message}`);
  }
}

/**
 * Runs a CLI main: a {@link UsageError} prints the message and the usage line and exits 2, as does
 * a setting too large for the machine ({@link SizeLimitError}, reported as its flag); a buffer over
 * the GPU's binding limit ({@link BindingLimitError}) prints `bindingLimitHint` (which flag helps,
 * or why the input is too large) and exits 1; any other error prints its message and exits 1
 * (`CROSSRANK_DEBUG=1` adds the stack).
 */
export async function runMain(
  main: () => Promise<number | void>,
  help: string,
  bindingLimitHint = "the input is too large for one GPU buffer on this device",
): Promise<never> {
  try {
    const code = await main();
    Deno.exit(code ?? 0);
  } catch (e) {
    if (e instanceof UsageError) {
      const usageLine = help.split("\n")[0];
      console.error(`error: ${e.message}\n${usageLine}  (--help lists every option)`);
      Deno.exit(2);
    }
    if (e instanceof SizeLimitError) {
      console.error(`error: ${e.flag} ${e.value}: ${e.reason}`);
      Deno.exit(2);
    }
    if (e instanceof BindingLimitError) {
      console.error(`error: ${e.message}: ${bindingLimitHint}`);
      if (Deno.env.get("CROSSRANK_DEBUG")) console.error(e.stack);
      Deno.exit(1);
    }
    console.error(`error: ${(e as Error).message}`);
    if (Deno.env.get("CROSSRANK_DEBUG")) console.error((e as Error).stack);
    Deno.exit(1);
  }
}

/** The `--data-generator` option of train, eval and compare. */
export const DATA_GENERATOR_OPTION: Record<string, OptionSpec> = {
  "data-generator": {
    type: "string",
    value: GENERATORS.join("|"),
    help: "generator of the embedded default dataset: v2 graded relevance (harder), v1 the " +
      "original (one relevant image per caption)",
    default: DEFAULT_GENERATOR,
  },
};

/**
 * The `--data-generator` flag (undefined when absent); it names the embedded default's generator,
 * so it is refused beside `--data`.
 */
export function dataGeneratorFlag(
  flags: Record<string, string | boolean | string[] | undefined>,
): GeneratorVersion | undefined {
  const raw = flags["data-generator"];
  if (raw === undefined) return undefined;
  if (typeof flags.data === "string") {
    throw new UsageError("--data-generator applies to the embedded default dataset, not to --data");
  }
  return choiceFlag("data-generator", raw, GENERATORS, DEFAULT_GENERATOR);
}
