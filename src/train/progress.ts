/**
 * A tqdm-style progress line on stderr, shared by every long-running command (train, rerank,
 * compare, eval over large galleries, bench:record):
 *
 * ```text
 * epoch 3/10  43% |████▎     | 56/130 [0:04<0:05, 12.3 steps/s]  loss 0.5234  lr 1.00e-3
 * ```
 *
 * It redraws in place on a terminal and becomes plain periodic lines when stderr is not a terminal
 * or under CI (`CI` set), so logs stay readable. Results never go through it: they go to stdout.
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

/** `m:ss` or `h:mm:ss`, as tqdm prints elapsed and remaining time. */
export function formatClock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** One state of a progress line. */
export interface ProgressState {
  /** What is counted, e.g. `epoch 3/10`, `rerank epoch 1/10`, `eval t2i`. */
  label: string;
  /** Units done so far. */
  done: number;
  /** Units in all. */
  total: number;
  /** The unit, plural (`steps`, `queries`, `runs`). */
  unit: string;
  /** Seconds since the counted work started. */
  elapsed: number;
  /** Units per second (default `done / elapsed`). */
  rate?: number;
  /** Trailing fields, e.g. `loss 0.5234  lr 1.00e-3`; empty for none. */
  extra?: string;
}

const BAR = 10;
const PARTS = " ▏▎▍▌▋▊▉";

/** The bar `|████▎     |` for a fraction in [0, 1]. */
function bar(fraction: number): string {
  const f = Math.min(Math.max(fraction, 0), 1) * BAR;
  const full = Math.floor(f);
  const part = full < BAR ? PARTS[Math.floor((f - full) * PARTS.length)] : "";
  return `|${"█".repeat(full)}${part}${" ".repeat(BAR - full - part.length)}|`;
}

/** The text of a progress line (see the module notes). */
export function formatProgress(p: ProgressState): string {
  const rate = p.rate ?? (p.elapsed > 0 ? p.done / p.elapsed : 0);
  const eta = rate > 0 ? (p.total - p.done) / rate : NaN;
  const pct = p.total > 0 ? Math.floor((100 * p.done) / p.total) : 0;
  const rateText = rate >= 10 || rate === 0 ? rate.toFixed(1) : rate.toPrecision(2);
  return `${p.label}  ${String(pct).padStart(3)}% ${bar(p.total > 0 ? p.done / p.total : 0)} ` +
    `${p.done}/${p.total} [${formatClock(p.elapsed)}<${
      formatClock(eta)
    }, ${rateText} ${p.unit}/s]` +
    (p.extra ? `  ${p.extra}` : "");
}

/** Writes progress to stderr. */
export class Progress {
  #tty: boolean;
  #lastPlain = -Infinity;
  #plainEvery: number;
  #encoder = new TextEncoder();
  #dirty = false;

  /**
   * @param plainEvery seconds between plain lines when not on a terminal (default 5)
   * @param tty force terminal mode on or off (default: stderr is a terminal and `CI` is unset)
   */
  constructor(
    plainEvery = 5,
    tty: boolean = Deno.stderr.isTerminal() && !Deno.env.get("CI"),
  ) {
    this.#tty = tty;
    this.#plainEvery = plainEvery;
  }

  /** Updates the line; off a terminal, prints it at most every `plainEvery` s and at the end. */
  update(p: ProgressState): void {
    const line = formatProgress(p);
    if (this.#tty) {
      this.#write(`\r\x1b[2K${line}`);
      this.#dirty = true;
    } else {
      const now = performance.now() / 1000;
      if (now - this.#lastPlain >= this.#plainEvery || p.done === p.total) {
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
