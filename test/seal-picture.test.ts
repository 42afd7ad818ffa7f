// Seal pictures: the generated round seal, and each way an uploaded PNG is refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { RaError } from '../src/ra/errors.js';
import { checkSealPng, renderSealPicture } from '../src/seal/seal-picture.js';

function png(width: number, height: number, pixel: (x: number, y: number) => number[], colorType: 2 | 6 = 6): Buffer {
  const img = new PNG({ width, height });
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [r, g, b, a] = pixel(x, y);
      img.data.set([r!, g!, b!, a ?? 255], (y * width + x) * 4);
    }
  return PNG.sync.write(img, { colorType, inputHasAlpha: true });
}

const refused = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RaError, `expected RaError, got ${String(err)}`);
    assert.equal(err.field, 'picture');
    assert.match(err.message, pattern);
    return true;
  });

describe('renderSealPicture', () => {
  test('a 42 mm red round seal on a transparent background, accepted by checkSealPng', () => {
    const pic = renderSealPicture({ name: '北京示例科技有限公司', typeLabel: '合同专用章' });
    assert.equal(pic.widthMm, 42);
    assert.equal(pic.heightMm, 42);
    const { widthPx, heightPx } = checkSealPng(pic.png);
    assert.equal(widthPx, heightPx);
    const img = PNG.sync.read(pic.png);
    const at = (x: number, y: number) => [...img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4)];
    assert.equal(at(2, 2)[3], 0, 'corner is transparent');
    const mid = Math.floor(img.width / 2);
    assert.deepEqual(at(mid, mid), [0xe6, 0x00, 0x12, 255], 'the star in the centre is solid red');
    // a clear margin (0.3 mm ≈ 4 px) on every side, so the ring is never clipped at the edge
    for (const [x, y] of [
      [mid, 1],
      [1, mid],
      [img.width - 2, mid],
      [mid, img.height - 2],
    ] as const)
      assert.equal(at(x, y)[3], 0, `the margin at ${x},${y} is transparent`);
    assert.ok(at(mid, Math.round(img.height * 0.025))[3]! > 200, 'the ring is drawn');
    // the ring is 40–42 mm across (12 px a millimetre)
    let left = 0;
    while (left < mid && at(left, mid)[3]! < 128) left++;
    const ringMm = (img.width - 2 * left) / 12;
    assert.ok(ringMm >= 40 && ringMm <= 42, `ring diameter ${ringMm} mm`);
    // the upper arc holds ink (the name) between the ring and the star, the plain field does not
    let ink = 0;
    for (let x = 0; x < img.width; x++) if (at(x, Math.round(img.height * 0.12))[3]! > 128) ink++;
    assert.ok(ink > 20, `name ink on the upper arc: ${ink}`);
  });

  test('40 mm seals are smaller; other diameters, empty names and glyphs the font lacks are refused', () => {
    const small = renderSealPicture({ name: '示例', typeLabel: '财务专用章', diameterMm: 40 });
    assert.equal(small.widthMm, 40);
    assert.ok(
      checkSealPng(small.png).widthPx < checkSealPng(renderSealPicture({ name: '示例', typeLabel: '财务专用章' }).png).widthPx,
    );
    assert.throws(() => renderSealPicture({ name: '示例', typeLabel: '公章', diameterMm: 50 }), /diameterMm/);
    assert.throws(() => renderSealPicture({ name: '  ', typeLabel: '公章' }), /name: must not be empty/);
    assert.throws(() => renderSealPicture({ name: '示例\u{1F600}', typeLabel: '公章' }), /name: the seal font has no glyph/);
  });
});

describe('checkSealPng refuses', () => {
  const clearCorners = (x: number, y: number) => ((x - 100) ** 2 + (y - 100) ** 2 < 90 ** 2 ? [230, 0, 18, 255] : [0, 0, 0, 0]);

  test('a file that is not a PNG by content', () => {
    refused(() => checkSealPng(Buffer.from([0xff, 0xd8, 0xff, 0xe0, ...Buffer.alloc(100)])), /not a PNG image/);
    refused(() => checkSealPng(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), /not a PNG image/);
    refused(() => checkSealPng(Buffer.alloc(0)), /empty/);
  });

  test('a PNG over 512 KB', () => {
    const big = Buffer.concat([png(200, 200, clearCorners), Buffer.alloc(520 * 1024)]);
    refused(() => checkSealPng(big), /at most 512 KB/);
  });

  test('pixel sizes out of range', () => {
    refused(() => checkSealPng(png(64, 64, () => [0, 0, 0, 0])), /width is 64 px; a seal picture is 128–2048 px/);
    refused(() => checkSealPng(png(200, 100, () => [0, 0, 0, 0])), /height is 100 px/);
  });

  test('no alpha channel, or fully opaque', () => {
    refused(() => checkSealPng(png(200, 200, clearCorners, 2)), /no transparency \(no alpha channel\)/);
    refused(() => checkSealPng(png(200, 200, () => [255, 255, 255, 255])), /0\.0 % of the picture is transparent/);
  });

  test('a damaged PNG', () => {
    const good = png(200, 200, clearCorners);
    const bad = Buffer.from(good);
    bad.fill(0x55, 60, 120);
    refused(() => checkSealPng(bad), /damaged/);
    assert.deepEqual(checkSealPng(good), { widthPx: 200, heightPx: 200 });
  });
});
