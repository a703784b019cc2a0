/**
 * The error for a setting too large for this machine (a model width whose weights would not fit
 * one GPU buffer, a batch whose score matrix would not), raised before anything is allocated so the
 * failure names the setting rather than `Array buffer allocation failed`.
 *
 * @example
 * ```ts
 * import { SizeLimitError } from "./limits.ts";
 * const e = new SizeLimitError("hidden", 1e8, "the text head's W1 would be 512 × 100000000 floats");
 * console.log(e.flag, e.message); // --hidden "hidden 100000000: the text head's W1 …"
 * ```
 *
 * @module
 */

/** A setting whose value makes some buffer too large; the CLIs report it as their flag. */
export class SizeLimitError extends RangeError {
  /** The setting, as named in the options objects (`hidden`, `embedDim`, `batch`, `dModel`, …). */
  readonly option: string;
  /** The value given. */
  readonly value: number;
  /** Why it is too large, and what would fit. */
  readonly reason: string;

  /**
   * @param option the setting's name in the options object
   * @param value the value given
   * @param reason why it is too large and what would fit
   */
  constructor(option: string, value: number, reason: string) {
    super(`${option} ${value}: ${reason}`);
    this.name = "SizeLimitError";
    this.option = option;
    this.value = value;
    this.reason = reason;
  }

  /** The command-line flag of the setting: `embedDim` → `--embed-dim`, `dFF` → `--d-ff`. */
  get flag(): string {
    return `--${this.option.replace(/[A-Z]+/g, (m) => `-${m.toLowerCase()}`)}`;
  }
}
