// The seal's picture (SES_ESPictrueInfo, type "png"): a generated red round seal, or a holder's
// upload checked before it goes into a seal. Rendering is pure JS (fontkit glyph outlines, a
// scanline filler, pngjs) so the service point and the portal need no native canvas, and the text is
// set in the CJK font the invoices already bundle (@embedpdf/fonts-sc).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as fontkit from 'fontkit';
import { PNG } from 'pngjs';
import { RaError } from '../ra/errors.js';

export interface SealPicture {
  png: Buffer;
  /** display size in whole millimetres, as SES_ESPictrueInfo carries it */
  widthMm: number;
  heightMm: number;
}

/** Uploaded pictures: at most 512 KB (issue 10). */
export const MAX_SEAL_PNG_BYTES = 512 * 1024;
/**
 * Pixel bounds for an uploaded picture: below 128 px a 40 mm seal prints at < 80 dpi (the name
 * becomes unreadable); above 2048 px it is only bytes (2048 px over 42 mm ≈ 1240 dpi).
 */
export const SEAL_PNG_MIN_PX = 128;
export const SEAL_PNG_MAX_PX = 2048;
/**
 * A seal stamped over a document must show the text beneath it: at least this share of the pixels
 * must be fully transparent (a round seal leaves ≈ 21 % outside its ring in the corners alone).
 */
export const SEAL_PNG_MIN_TRANSPARENT = 0.1;

const PX_PER_MM = 12; // ≈ 305 dpi
const SUPERSAMPLE = 4; // 4×4 samples a pixel for anti-aliased edges
const RED: [number, number, number] = [0xe6, 0x00, 0x12];

let fontCache: fontkit.Font | undefined;
function sealFont(): fontkit.Font {
  if (fontCache) return fontCache;
  let file: string | undefined;
  try {
    const main = createRequire(import.meta.url).resolve('@embedpdf/fonts-sc');
    file = path.join(path.dirname(main), '..', 'fonts', 'NotoSansHans-Bold.otf');
  } catch {
    file = undefined;
  }
  if (!file || !existsSync(file))
    throw new Error('no CJK font for seal pictures: reinstall the npm dependencies (@embedpdf/fonts-sc)');
  const font = fontkit.openSync(file);
  if (!('layout' in font)) throw new Error(`${file} is a font collection, expected one face`);
  fontCache = font;
  return font;
}

type Pt = [number, number];
type Transform = (x: number, y: number) => Pt;

/** Polygons in supersampled pixel space, filled together with the non-zero winding rule. */
class Raster {
  private readonly edges: { x0: number; y0: number; x1: number; y1: number; w: number }[] = [];
  constructor(
    readonly width: number,
    readonly height: number,
  ) {}

  polygon(points: Pt[]): void {
    for (let i = 0; i < points.length; i++) {
      const [x0, y0] = points[i]!;
      const [x1, y1] = points[(i + 1) % points.length]!;
      if (y0 === y1) continue;
      if (y0 < y1) this.edges.push({ x0, y0, x1, y1, w: 1 });
      else this.edges.push({ x0: x1, y0: y1, x1: x0, y1: y0, w: -1 });
    }
  }

  /** Coverage 0..255 per output pixel (the sample grid is SUPERSAMPLE× finer than the output). */
  coverage(): Uint8Array {
    const ss = SUPERSAMPLE;
    const sw = this.width * ss;
    const counts = new Uint16Array(this.width * this.height);
    const edges = [...this.edges].sort((a, b) => a.y0 - b.y0);
    let next = 0;
    let active: typeof edges = [];
    const xs: { x: number; w: number }[] = [];
    for (let sy = 0; sy < this.height * ss; sy++) {
      const y = sy + 0.5;
      while (next < edges.length && edges[next]!.y0 <= y) active.push(edges[next++]!);
      active = active.filter((e) => e.y1 > y);
      xs.length = 0;
      for (const e of active) {
        if (e.y0 > y) continue;
        xs.push({ x: e.x0 + ((y - e.y0) / (e.y1 - e.y0)) * (e.x1 - e.x0), w: e.w });
      }
      xs.sort((a, b) => a.x - b.x);
      let winding = 0;
      const row = Math.floor(sy / ss) * this.width;
      for (let i = 0; i < xs.length - 1; i++) {
        winding += xs[i]!.w;
        if (winding === 0) continue;
        const from = Math.max(0, Math.ceil(xs[i]!.x - 0.5));
        const to = Math.min(sw - 1, Math.ceil(xs[i + 1]!.x - 0.5) - 1);
        for (let sx = from; sx <= to; sx++) counts[row + Math.floor(sx / ss)]!++;
      }
    }
    const out = new Uint8Array(counts.length);
    const full = ss * ss;
    for (let i = 0; i < counts.length; i++) out[i] = Math.round((Math.min(counts[i]!, full) * 255) / full);
    return out;
  }
}

function circle(cx: number, cy: number, r: number, clockwise: boolean): Pt[] {
  const n = 360;
  const pts: Pt[] = [];
  for (let i = 0; i < n; i++) {
    const a = ((clockwise ? i : -i) / n) * 2 * Math.PI;
    pts.push([cx + r * Math.cos(a), cy + r * Math.sin(a)]);
  }
  return pts;
}

function star(cx: number, cy: number, outer: number): Pt[] {
  const inner = outer * 0.382; // the regular pentagram's ratio
  const pts: Pt[] = [];
  for (let i = 0; i < 10; i++) {
    const r = i % 2 === 0 ? outer : inner;
    const a = -Math.PI / 2 + (i * Math.PI) / 5; // first point straight up
    pts.push([cx + r * Math.cos(a), cy + r * Math.sin(a)]);
  }
  return pts;
}

/** A glyph's outline as closed polygons, curves flattened, mapped through `t` (font units in). */
function glyphPolygons(glyph: fontkit.Glyph, t: Transform): Pt[][] {
  const polys: Pt[][] = [];
  let cur: Pt[] = [];
  let last: Pt = [0, 0];
  const steps = 8;
  const close = () => {
    if (cur.length > 2) polys.push(cur);
    cur = [];
  };
  for (const c of glyph.path.commands) {
    const a = c.args;
    switch (c.command) {
      case 'moveTo':
        close();
        last = [a[0]!, a[1]!];
        cur.push(t(...last));
        break;
      case 'lineTo':
        last = [a[0]!, a[1]!];
        cur.push(t(...last));
        break;
      case 'quadraticCurveTo': {
        const [x0, y0] = last;
        for (let i = 1; i <= steps; i++) {
          const s = i / steps;
          const u = 1 - s;
          cur.push(t(u * u * x0 + 2 * u * s * a[0]! + s * s * a[2]!, u * u * y0 + 2 * u * s * a[1]! + s * s * a[3]!));
        }
        last = [a[2]!, a[3]!];
        break;
      }
      case 'bezierCurveTo': {
        const [x0, y0] = last;
        for (let i = 1; i <= steps; i++) {
          const s = i / steps;
          const u = 1 - s;
          const b0 = u * u * u;
          const b1 = 3 * u * u * s;
          const b2 = 3 * u * s * s;
          const b3 = s * s * s;
          cur.push(t(b0 * x0 + b1 * a[0]! + b2 * a[2]! + b3 * a[4]!, b0 * y0 + b1 * a[1]! + b2 * a[3]! + b3 * a[5]!));
        }
        last = [a[4]!, a[5]!];
        break;
      }
      case 'closePath':
        close();
        break;
    }
  }
  close();
  return polys;
}

function glyphsOf(font: fontkit.Font, text: string, field: string): fontkit.Glyph[] {
  const glyphs = font.layout(text).glyphs;
  const missing = [...text].filter((_ch, i) => glyphs[i]?.id === 0);
  if (missing.length)
    throw new RaError('invalid', `${field}: the seal font has no glyph for ${missing.map((c) => `“${c}”`).join(' ')}`, field);
  return glyphs;
}

function checkText(value: string, field: string, max: number): string {
  const text = value.trim();
  if (!text) throw new RaError('invalid', `${field}: must not be empty`, field);
  if ([...text].length > max) throw new RaError('invalid', `${field}: at most ${max} characters fit on a seal`, field);
  if (/[\u0000-\u001f\s]/.test(text))
    throw new RaError('invalid', `${field}: must not contain spaces or control characters`, field);
  return text;
}

/**
 * Renders a red round seal: ring, five-pointed star, `name` along the upper arc (read left to
 * right, tops outward) and `typeLabel` straight along the bottom, on a transparent background.
 */
export function renderSealPicture(input: { name: string; typeLabel: string; diameterMm?: number }): SealPicture {
  const diameterMm = input.diameterMm ?? 42;
  if (!Number.isInteger(diameterMm) || diameterMm < 40 || diameterMm > 42)
    throw new RaError('invalid', 'diameterMm: a round seal is 40, 41 or 42 mm', 'diameterMm');
  const name = [...checkText(input.name, 'name', 24)];
  const typeLabel = checkText(input.typeLabel, 'typeLabel', 10);
  const font = sealFont();
  const nameGlyphs = glyphsOf(font, name.join(''), 'name');
  const typeGlyphs = glyphsOf(font, typeLabel, 'typeLabel');

  const size = diameterMm * PX_PER_MM;
  const S = size * SUPERSAMPLE; // all geometry below is in sample units
  const c = S / 2;
  const mm = S / diameterMm;
  const raster = new Raster(size, size);
  const ring = 1.2 * mm;
  // a clear margin of 0.3 mm (≈ 4 px): anti-aliased or scaled by a viewer, the ring is not clipped,
  // and it stays 41.4 mm across on a 42 mm picture (40–42 mm asked)
  const outerR = c - 0.3 * mm;
  raster.polygon(circle(c, c, outerR, true));
  raster.polygon(circle(c, c, outerR - ring, false));
  raster.polygon(star(c, c, 0.17 * S));

  const em = font.unitsPerEm;
  const emMid = (font.ascent + font.descent) / 2; // vertical centre of the em box, font units
  // The name: glyph tops 0.8 mm inside the ring, the arc spanning at most 250° (longer names are
  // set narrower rather than overlapping).
  const nameH = 0.15 * S;
  const nameScale = nameH / em;
  const rMid = outerR - ring - 0.8 * mm - nameH / 2;
  const perChar = (nameH * 1.1) / rMid;
  const maxSpan = (250 / 180) * Math.PI;
  const span = Math.min(maxSpan, perChar * name.length);
  const squeeze = Math.min(1, span / (perChar * name.length));
  nameGlyphs.forEach((g, i) => {
    const phi = -span / 2 + ((i + 0.5) * span) / name.length; // 0 = top, clockwise
    const px = c + rMid * Math.sin(phi);
    const py = c - rMid * Math.cos(phi);
    const cos = Math.cos(phi);
    const sin = Math.sin(phi);
    const half = g.advanceWidth / 2;
    const t: Transform = (x, y) => {
      const u = (x - half) * nameScale * squeeze;
      const v = -(y - emMid) * nameScale; // font y is up, image y is down
      return [px + u * cos - v * sin, py + u * sin + v * cos];
    };
    for (const p of glyphPolygons(g, t)) raster.polygon(p);
  });

  // The type label: one straight line below the star, narrowed to fit inside the ring.
  const typeH = 0.1 * S;
  const typeScale = typeH / em;
  const total = typeGlyphs.reduce((w, g) => w + g.advanceWidth, 0) * typeScale;
  const baseY = c + 0.3 * S;
  const maxW = 2 * Math.sqrt(Math.max(0, (outerR - ring - 1.5 * mm) ** 2 - (baseY - c + typeH / 2) ** 2));
  const typeSqueeze = Math.min(1, maxW / total);
  let penX = c - (total * typeSqueeze) / 2;
  for (const g of typeGlyphs) {
    const x0 = penX;
    const t: Transform = (x, y) => [x0 + x * typeScale * typeSqueeze, baseY - (y - emMid) * typeScale];
    for (const p of glyphPolygons(g, t)) raster.polygon(p);
    penX += g.advanceWidth * typeScale * typeSqueeze;
  }

  const alpha = raster.coverage();
  const png = new PNG({ width: size, height: size, colorType: 6 });
  for (let i = 0; i < alpha.length; i++) {
    png.data[i * 4] = RED[0];
    png.data[i * 4 + 1] = RED[1];
    png.data[i * 4 + 2] = RED[2];
    png.data[i * 4 + 3] = alpha[i]!;
  }
  return { png: PNG.sync.write(png, { colorType: 6 }), widthMm: diameterMm, heightMm: diameterMm };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Checks an uploaded seal picture, throwing an error naming `field` for: not a PNG (by content),
 * over 512 KB, pixel size outside SEAL_PNG_MIN_PX..SEAL_PNG_MAX_PX, no alpha (neither an alpha
 * channel nor a tRNS chunk), or too little of it transparent.
 */
export function checkSealPng(buf: Buffer, field = 'picture'): { widthPx: number; heightPx: number } {
  if (!buf.length) throw new RaError('invalid', `${field}: the file is empty`, field);
  if (buf.length < 33 || !buf.subarray(0, 8).equals(PNG_SIGNATURE) || buf.toString('latin1', 12, 16) !== 'IHDR')
    throw new RaError('invalid', `${field}: not a PNG image (checked by its content)`, field);
  if (buf.length > MAX_SEAL_PNG_BYTES)
    throw new RaError('invalid', `${field}: ${Math.ceil(buf.length / 1024)} KB; a seal picture is at most 512 KB`, field);
  const widthPx = buf.readUInt32BE(16);
  const heightPx = buf.readUInt32BE(20);
  for (const [label, px] of [
    ['width', widthPx],
    ['height', heightPx],
  ] as const)
    if (px < SEAL_PNG_MIN_PX || px > SEAL_PNG_MAX_PX)
      throw new RaError(
        'invalid',
        `${field}: ${label} is ${px} px; a seal picture is ${SEAL_PNG_MIN_PX}–${SEAL_PNG_MAX_PX} px on each side`,
        field,
      );
  const colorType = buf[25]!;
  const hasAlphaChannel = colorType === 4 || colorType === 6;
  if (!hasAlphaChannel && !buf.includes(Buffer.from('tRNS', 'latin1')))
    throw new RaError(
      'invalid',
      `${field}: the PNG has no transparency (no alpha channel); the background must be transparent`,
      field,
    );
  let decoded: PNG;
  try {
    decoded = PNG.sync.read(buf);
  } catch (err) {
    throw new RaError('invalid', `${field}: the PNG is damaged (${(err as Error).message})`, field);
  }
  let clear = 0;
  for (let i = 3; i < decoded.data.length; i += 4) if (decoded.data[i] === 0) clear++;
  const share = clear / (widthPx * heightPx);
  if (share < SEAL_PNG_MIN_TRANSPARENT)
    throw new RaError(
      'invalid',
      `${field}: only ${(share * 100).toFixed(1)} % of the picture is transparent; the background around the seal must be transparent (at least ${SEAL_PNG_MIN_TRANSPARENT * 100} %)`,
      field,
    );
  return { widthPx, heightPx };
}
