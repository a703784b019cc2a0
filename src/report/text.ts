/**
 * Text rendering for PNG reports, with the bundled DejaVu Sans font (`data/fonts/`, Bitstream Vera
 * licence) drawn by imagescript.
 *
 * imagescript 1.3's font code calls `Deno.core.encode`, which Deno 2 no longer exposes; a minimal
 * shim supplying `encode`/`decode` over TextEncoder/TextDecoder is installed before first use.
 *
 * @module
 */

import { Image } from "imagescript";

const FONT_URL = new URL("../../data/fonts/DejaVuSans.ttf", import.meta.url);
let font: Uint8Array | null = null;
const cache = new Map<string, Image>();

function installShim(): void {
  const d = Deno as unknown as { core?: Record<string, unknown> };
  if (!d.core) {
    d.core = {
      encode: (s: string) => new TextEncoder().encode(s),
      decode: (b: Uint8Array) => new TextDecoder().decode(b),
    };
  }
}

/** Renders `text` at `size` px in `color` (0xRRGGBBAA) as a transparent image (cached). */
export async function renderText(text: string, size: number, color = 0x222222ff): Promise<Image> {
  const key = `${size}|${color}|${text}`;
  const hit = cache.get(key);
  if (hit) return hit;
  if (!font) {
    installShim();
    font = await Deno.readFile(FONT_URL);
  }
  const img = await Image.renderText(font, size, text.length > 0 ? text : " ", color);
  if (cache.size > 2000) cache.clear();
  cache.set(key, img);
  return img;
}

/** Draws `text` onto `img` with its top-left at (x, y); `align` positions x at left/center/right. */
export async function drawText(
  img: Image,
  text: string,
  x: number,
  y: number,
  size: number,
  color = 0x222222ff,
  align: "left" | "center" | "right" = "left",
): Promise<void> {
  const t = await renderText(text, size, color);
  const left = align === "left" ? x : align === "center" ? x - t.width / 2 : x - t.width;
  img.composite(t, Math.round(left), Math.round(y));
}
