/**
 * The loss registry and option validation. Loss modules call {@link registerLoss} when imported;
 * `src/losses/mod.ts` imports all of them.
 *
 * @module
 */

import type { LossDefinition, LossOptions, LossOptionValue } from "./types.ts";

const losses = new Map<string, LossDefinition>();

/** Adds a loss to the registry (each loss module calls this once). */
export function registerLoss(definition: LossDefinition): LossDefinition {
  if (losses.has(definition.name)) {
    throw new Error(`loss '${definition.name}' is registered twice`);
  }
  losses.set(definition.name, definition);
  return definition;
}

/** Names of every registered loss, in registration order. */
export function lossNames(): string[] {
  return [...losses.keys()];
}

/** The definition of `name`; throws listing the known names when it is unknown. */
export function getLoss(name: string): LossDefinition {
  const def = losses.get(name);
  if (!def) {
    throw new RangeError(`unknown loss '${name}'; known losses: ${lossNames().join(", ")}`);
  }
  return def;
}

/**
 * Merges user options over the loss's defaults, rejecting unknown keys, wrong types, values
 * outside a string option's choices, and non-finite numbers.
 */
export function resolveOptions(
  def: LossDefinition,
  options: Record<string, unknown> = {},
): LossOptions {
  const out: LossOptions = { ...def.defaults };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!(key in def.defaults)) {
      const known = Object.keys(def.defaults);
      throw new RangeError(
        `loss '${def.name}': unknown option '${key}'` +
          (known.length ? `; options: ${known.join(", ")}` : "; it takes no options"),
      );
    }
    const expected: string = typeof def.defaults[key];
    const actual: string = typeof value;
    if (actual !== expected) {
      throw new TypeError(
        `loss '${def.name}': option '${key}' must be a ${expected}, got ${JSON.stringify(value)}`,
      );
    }
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new RangeError(`loss '${def.name}': option '${key}' must be finite, got ${value}`);
    }
    const choices = def.choices?.[key];
    if (choices && !choices.includes(value as string)) {
      throw new RangeError(
        `loss '${def.name}': option '${key}' must be one of ${choices.join(", ")}, got '${value}'`,
      );
    }
    out[key] = value as LossOptionValue;
  }
  return out;
}
