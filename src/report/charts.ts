/**
 * Small PNG charts drawn with imagescript: line charts (training curves) and grouped bar charts
 * (loss comparisons). Axes get ticks and labels; series get a legend.
 *
 * @module
 */

import { Image } from "imagescript";
import { drawText } from "./text.ts";

/** A colour palette (0xRRGGBBAA) that stays distinguishable in print. */
export const PALETTE = [
  0x1f77b4ff,
  0xd62728ff,
  0x2ca02cff,
  0xff7f0eff,
  0x9467bdff,
  0x8c564bff,
  0xe377c2ff,
  0x7f7f7fff,
  0xbcbd22ff,
  0x17becfff,
  0x393b79ff,
  0xad494aff,
];

/** One line of a {@link lineChart}. */
export interface Series {
  /** Legend label. */
  name: string;
  /** y values; x is `xs` (or 1, 2, 3 …). Non-finite values break the line. */
  values: number[];
  /** Colour, 0xRRGGBBAA (default from {@link PALETTE}). */
  color?: number;
}

/** A panel of a chart. */
export interface LineChartOptions {
  /** Title above the plot. */
  title: string;
  /** x axis label. */
  xLabel: string;
  /** y axis label. */
  yLabel?: string;
  /** The x values shared by every series (default 1..n). */
  xs?: number[];
  /** Panel size in pixels. Default 520 × 360. */
  width?: number;
  /** Panel height. */
  height?: number;
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return out;
}

function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.01) return v.toExponential(1);
  return Number(v.toFixed(a >= 10 ? 1 : 3)).toString();
}

function drawLine(
  img: Image,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  color: number,
  w = 2,
) {
  const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
  for (let s = 0; s <= steps; s++) {
    const x = Math.round(x0 + ((x1 - x0) * s) / steps);
    const y = Math.round(y0 + ((y1 - y0) * s) / steps);
    for (let dx = 0; dx < w; dx++) {
      for (let dy = 0; dy < w; dy++) {
        const px = x + dx;
        const py = y + dy;
        if (px >= 1 && py >= 1 && px <= img.width && py <= img.height) {
          img.setPixelAt(px, py, color);
        }
      }
    }
  }
}

function fillRect(img: Image, x: number, y: number, w: number, h: number, color: number) {
  const x0 = Math.max(1, Math.round(x));
  const y0 = Math.max(1, Math.round(y));
  const x1 = Math.min(img.width, Math.round(x + w));
  const y1 = Math.min(img.height, Math.round(y + h));
  for (let py = y0; py <= y1; py++) for (let px = x0; px <= x1; px++) img.setPixelAt(px, py, color);
}

interface Frame {
  left: number;
  top: number;
  right: number;
  bottom: number;
  y: (v: number) => number;
}

async function drawFrame(
  img: Image,
  title: string,
  yLabel: string | undefined,
  yLo: number,
  yHi: number,
  extra = 0,
): Promise<Frame> {
  const left = 62;
  const top = 34;
  const right = img.width - 14;
  const bottom = img.height - 58 - extra;
  const y = (v: number) => bottom - ((v - yLo) / (yHi - yLo || 1)) * (bottom - top);
  await drawText(img, title, img.width / 2, 8, 15, 0x111111ff, "center");
  for (const t of niceTicks(yLo, yHi)) {
    const py = y(t);
    drawLine(img, left, py, right, py, 0xe6e6e6ff, 1);
    await drawText(img, formatTick(t), left - 6, py - 7, 11, 0x444444ff, "right");
  }
  drawLine(img, left, top, left, bottom, 0x333333ff, 1);
  drawLine(img, left, bottom, right, bottom, 0x333333ff, 1);
  if (yLabel) await drawText(img, yLabel, 4, top - 22, 11, 0x444444ff);
  return { left, top, right, bottom, y };
}

const LEGEND_ROW = 14;

/** The legend's layout: each entry's position, in rows under the x-axis label. */
function legendLayout(names: string[], width: number): { x: number; row: number }[] {
  let x = 62;
  let row = 0;
  return names.map((name) => {
    const w = 30 + name.length * 7;
    if (x + w > width - 10 && x > 62) {
      x = 62;
      row++;
    }
    const at = { x, row };
    x += w;
    return at;
  });
}

/** Extra image height a legend needs beyond its first row. */
function legendExtra(names: string[], width: number): number {
  const layout = legendLayout(names, width);
  return (layout.length ? layout[layout.length - 1].row : 0) * LEGEND_ROW;
}

async function drawLegend(img: Image, names: string[], colors: number[]): Promise<void> {
  // Under the x-axis label, as many rows as needed (the image was made tall enough).
  const layout = legendLayout(names, img.width);
  const first = img.height - 22 - legendExtra(names, img.width);
  for (let i = 0; i < names.length; i++) {
    const { x, row } = layout[i];
    fillRect(img, x, first + row * LEGEND_ROW + 4, 12, 8, colors[i]);
    await drawText(img, names[i], x + 16, first + row * LEGEND_ROW, 11, 0x333333ff);
  }
}

/**
 * Draws series against a shared x axis.
 *
 * @example
 * ```ts
 * import { lineChart } from "./charts.ts";
 * const img = await lineChart([{ name: "loss", values: [3, 2, 1.5] }], {
 *   title: "training loss",
 *   xLabel: "epoch",
 * });
 * await Deno.writeFile("curve.png", await img.encode());
 * ```
 */
export async function lineChart(series: Series[], o: LineChartOptions): Promise<Image> {
  const width = o.width ?? 520;
  const extra = legendExtra(series.map((s) => s.name), width);
  const img = new Image(width, (o.height ?? 360) + extra);
  img.fill(0xffffffff);
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const xs = o.xs ?? Array.from({ length: n }, (_, i) => i + 1);
  const finite = series.flatMap((s) => s.values.filter(Number.isFinite));
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (hi - lo < 1e-9) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.06;
  const f = await drawFrame(img, o.title, o.yLabel, lo - pad, hi + pad, extra);
  const xLo = Math.min(...xs);
  const xHi = Math.max(...xs);
  const x = (v: number) => f.left + ((v - xLo) / (xHi - xLo || 1)) * (f.right - f.left);
  for (const t of niceTicks(xLo, xHi, Math.min(8, xs.length))) {
    await drawText(img, formatTick(t), x(t), f.bottom + 4, 11, 0x444444ff, "center");
  }
  await drawText(img, o.xLabel, (f.left + f.right) / 2, f.bottom + 19, 11, 0x444444ff, "center");
  const colors = series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]);
  series.forEach((s, k) => {
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      if (!Number.isFinite(v)) continue;
      const prev = s.values[i - 1];
      if (i > 0 && Number.isFinite(prev)) {
        drawLine(img, x(xs[i - 1]), f.y(prev), x(xs[i]), f.y(v), colors[k]);
      }
      fillRect(img, x(xs[i]) - 2, f.y(v) - 2, 5, 5, colors[k]);
    }
  });
  await drawLegend(img, series.map((s) => s.name), colors);
  return img;
}

/** One group of a {@link barChart}: a label and one value per series (with an optional ± error). */
export interface BarGroup {
  /** Group label under the bars. */
  label: string;
  /** One value per series. */
  values: number[];
  /** Optional error half-widths (e.g. std over seeds), drawn as whiskers. */
  errors?: number[];
}

/** Draws grouped bars (e.g. losses × metrics) with optional whiskers. */
export async function barChart(
  groups: BarGroup[],
  seriesNames: string[],
  o: { title: string; yLabel?: string; width?: number; height?: number },
): Promise<Image> {
  const width = o.width ?? Math.max(520, 90 + groups.length * 22 * seriesNames.length);
  const extra = legendExtra(seriesNames, width);
  const img = new Image(width, (o.height ?? 380) + extra);
  img.fill(0xffffffff);
  const tops = groups.flatMap((g) => g.values.map((v, i) => v + (g.errors?.[i] ?? 0)));
  const finite = tops.filter(Number.isFinite);
  const hi = finite.length ? Math.max(...finite) * 1.08 || 1 : 1;
  const f = await drawFrame(img, o.title, o.yLabel, 0, hi, extra);
  const groupWidth = (f.right - f.left) / Math.max(groups.length, 1);
  const barWidth = (groupWidth * 0.8) / Math.max(seriesNames.length, 1);
  const colors = seriesNames.map((_, i) => PALETTE[i % PALETTE.length]);
  for (let gi = 0; gi < groups.length; gi++) {
    const g = groups[gi];
    const gx = f.left + gi * groupWidth + groupWidth * 0.1;
    g.values.forEach((v, si) => {
      if (!Number.isFinite(v)) return;
      const bx = gx + si * barWidth;
      fillRect(img, bx, f.y(v), barWidth - 2, f.bottom - f.y(v), colors[si]);
      const e = g.errors?.[si];
      if (e && Number.isFinite(e)) {
        const cx = bx + barWidth / 2 - 1;
        drawLine(img, cx, f.y(v + e), cx, f.y(Math.max(0, v - e)), 0x111111ff, 1);
        drawLine(img, cx - 3, f.y(v + e), cx + 3, f.y(v + e), 0x111111ff, 1);
      }
    });
    await drawText(img, g.label, gx + groupWidth * 0.4, f.bottom + 4, 11, 0x333333ff, "center");
  }
  await drawLegend(img, seriesNames, colors);
  return img;
}

/** Places images in a grid (row-major), each column as wide as its widest image, on a white ground. */
export function grid(images: Image[][], gap = 6, background = 0xffffffff): Image {
  const cols = Math.max(1, ...images.map((r) => r.length));
  const widths = Array.from(
    { length: cols },
    (_, c) => Math.max(1, ...images.map((r) => r[c]?.width ?? 0)),
  );
  const heights = images.map((r) => Math.max(1, ...r.map((i) => i.height)));
  const out = new Image(
    widths.reduce((a, b) => a + b, 0) + (cols + 1) * gap,
    heights.reduce((a, b) => a + b, 0) + (images.length + 1) * gap,
  );
  out.fill(background);
  let y = gap;
  images.forEach((row, r) => {
    let x = gap;
    row.forEach((img, c) => {
      out.composite(img, x, y);
      x += widths[c] + gap;
    });
    y += heights[r] + gap;
  });
  return out;
}

/** Fills a rectangle with a colour (exported for grid annotations). */
export function rect(img: Image, x: number, y: number, w: number, h: number, color: number): void {
  fillRect(img, x, y, w, h, color);
}

/** Draws a rectangle outline `thickness` pixels wide. */
export function outline(img: Image, color: number, thickness = 3): void {
  fillRect(img, 1, 1, img.width, thickness, color);
  fillRect(img, 1, img.height - thickness + 1, img.width, thickness, color);
  fillRect(img, 1, 1, thickness, img.height, color);
  fillRect(img, img.width - thickness + 1, 1, thickness, img.height, color);
}

/** One row of an {@link intervalChart}: a point with a whisker from `lo` to `hi`. */
export interface IntervalRow {
  /** Row label, left of the plot. */
  label: string;
  /** The point. */
  value: number;
  /** Lower end of the whisker. */
  lo: number;
  /** Upper end of the whisker. */
  hi: number;
  /** Colour, 0xRRGGBBAA (default from {@link PALETTE} by row). */
  color?: number;
}

/**
 * Draws one row per item: a point and a horizontal whisker (an interval, or ± std), on an x axis
 * zoomed to the data, with an optional vertical reference line (e.g. 0 for differences). `note`
 * is printed under the axis label, to say what the whiskers are and that the axis is zoomed.
 *
 * @example
 * ```ts
 * import { intervalChart } from "./charts.ts";
 * const img = await intervalChart(
 *   [{ label: "listnet", value: -1.2, lo: -3.0, hi: 0.4 }],
 *   { title: "Δ rsum vs softmax", xLabel: "rsum points", reference: 0, note: "95 % CI" },
 * );
 * ```
 */
export async function intervalChart(
  rows: IntervalRow[],
  o: {
    title: string;
    xLabel: string;
    reference?: number;
    note?: string;
    width?: number;
    /** Axis range to show; a row outside it is drawn at the edge with its value written. */
    range?: [number, number];
  },
): Promise<Image> {
  const width = o.width ?? 560;
  const labelWidth = 14 + 7 * Math.max(4, ...rows.map((r) => r.label.length));
  const rowHeight = 24;
  const top = 36;
  const plotBottom = top + rowHeight * Math.max(rows.length, 1);
  const img = new Image(width, plotBottom + (o.note ? 58 : 42));
  img.fill(0xffffffff);
  await drawText(img, o.title, width / 2, 8, 15, 0x111111ff, "center");
  const inRange = (v: number) => !o.range || (v >= o.range[0] && v <= o.range[1]);
  const values = rows.flatMap((r) => [r.lo, r.hi, r.value]).filter(Number.isFinite).filter(inRange);
  if (o.reference !== undefined) values.push(o.reference);
  let lo = o.range ? o.range[0] : values.length ? Math.min(...values) : 0;
  let hi = o.range ? o.range[1] : values.length ? Math.max(...values) : 1;
  if (hi - lo < 1e-9) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  const left = labelWidth;
  const right = width - 16;
  const x = (v: number) => left + ((v - lo) / (hi - lo)) * (right - left);
  for (const t of niceTicks(lo, hi, 6)) {
    drawLine(img, x(t), top - 4, x(t), plotBottom, 0xe6e6e6ff, 1);
    await drawText(img, formatTick(t), x(t), plotBottom + 4, 11, 0x444444ff, "center");
  }
  if (o.reference !== undefined) {
    drawLine(img, x(o.reference), top - 4, x(o.reference), plotBottom, 0x888888ff, 1);
  }
  drawLine(img, left, plotBottom, right, plotBottom, 0x333333ff, 1);
  await drawText(img, o.xLabel, (left + right) / 2, plotBottom + 19, 11, 0x444444ff, "center");
  if (o.note) {
    await drawText(img, o.note, (left + right) / 2, plotBottom + 35, 11, 0x666666ff, "center");
  }
  for (const [i, r] of rows.entries()) {
    const cy = top + rowHeight * i + rowHeight / 2;
    await drawText(img, r.label, left - 8, cy - 7, 12, 0x222222ff, "right");
    if (!Number.isFinite(r.value)) continue;
    const color = r.color ?? PALETTE[i % PALETTE.length];
    const clamp = (v: number) => Math.min(Math.max(v, lo), hi);
    if (Number.isFinite(r.lo) && Number.isFinite(r.hi)) {
      drawLine(img, x(clamp(r.lo)), cy, x(clamp(r.hi)), cy, color, 2);
      if (inRange(r.lo)) drawLine(img, x(r.lo), cy - 4, x(r.lo), cy + 4, color, 1);
      if (inRange(r.hi)) drawLine(img, x(r.hi), cy - 4, x(r.hi), cy + 4, color, 1);
    }
    if (inRange(r.value)) {
      fillRect(img, x(r.value) - 3, cy - 3, 7, 7, color);
    } else {
      // Off the axis: the value, at the edge it lies beyond.
      const below = r.value < lo;
      const ex = below ? left + 2 : right - 2;
      await drawText(
        img,
        `${below ? "◀ " : ""}${formatTick(r.value)}${below ? "" : " ▶"}`,
        ex,
        cy - 7,
        11,
        color,
        below ? "left" : "right",
      );
    }
  }
  return img;
}
