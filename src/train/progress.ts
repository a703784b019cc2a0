/**
 * A progress line (step, loss, steps/s, ETA) that redraws in place on a terminal and becomes plain
 * periodic lines when stderr is not a terminal (CI logs, pipes).
 *
 * @module
 */

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** Writes progress to stderr. */
export class Progress {
  #tty: boolean;
  #lastPlain = 0;
  #plainEvery: number;
  #encoder = new TextEncoder();
  #dirty = false;

  /**
   * @param plainEvery seconds between plain lines when not on a terminal (default 5)
   * @param tty force terminal mode on or off (default: whether stderr is a terminal)
   */
  constructor(plainEvery = 5, tty: boolean = Deno.stderr.isTerminal()) {
    this.#tty = tty;
    this.#plainEvery = plainEvery;
  }

  /** Updates the line: `epoch e/E step s/S loss L lr X  N steps/s  ETA T`. */
  update(
    f: {
      epoch: number;
      epochs: number;
      step: number;
      steps: number;
      loss: number;
      lr: number;
      stepsPerSec: number;
    },
  ): void {
    const eta = (f.steps - f.step) / Math.max(f.stepsPerSec, 1e-9);
    const line = `epoch ${f.epoch}/${f.epochs}  step ${f.step}/${f.steps}  loss ${fmt(f.loss)}  ` +
      `lr ${f.lr.toExponential(2)}  ${f.stepsPerSec.toFixed(1)} steps/s  ETA ${
        formatDuration(eta)
      }`;
    if (this.#tty) {
      this.#write(`\r\x1b[2K${line}`);
      this.#dirty = true;
    } else {
      const now = performance.now() / 1000;
      if (now - this.#lastPlain >= this.#plainEvery || f.step === f.steps) {
        this.#lastPlain = now;
        this.#write(`${line}\n`);
      }
    }
  }

  /** Prints a full line (ending any in-place line first). */
  log(message: string): void {
    this.#write(`${this.#dirty ? "\r\x1b[2K" : ""}${message}\n`);
    this.#dirty = false;
  }

  #write(s: string): void {
    Deno.stderr.writeSync(this.#encoder.encode(s));
  }
}

function fmt(v: number): string {
  // NaN before the first loss readback (the loss is read every --log-every steps)
  return Number.isFinite(v) ? v.toFixed(4) : Number.isNaN(v) ? "…" : String(v);
}
