import type { ConvGeometry } from '../backend.js';

/**
 * im2col lays out, for every output position, the input patch it sees: row (ch, ky, kx),
 * column (img, oy, ox) holds x[img, ch, oy·s − p + ky, ox·s − p + kx] (0 in the padding).
 * With the batch merged into the columns a convolution is one GEMM, W · cols; col2im is the
 * exact adjoint (scatter-add), which makes the transposed convolution and the input gradient.
 */
export function im2col(x: Float32Array, g: ConvGeometry, cols: Float32Array): void {
  const { n, c, h, w, kh, kw, strideH, strideW, padH, padW, outH, outW } = g;
  const plane = outH * outW;
  const width = n * plane;
  let row = 0;
  for (let ch = 0; ch < c; ch++) {
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++, row++) {
        for (let img = 0; img < n; img++) {
          const xCh = (img * c + ch) * h * w;
          const base = row * width + img * plane;
          for (let oy = 0; oy < outH; oy++) {
            const iy = oy * strideH - padH + ky;
            const dst = base + oy * outW;
            if (iy < 0 || iy >= h) {
              cols.fill(0, dst, dst + outW);
              continue;
            }
            const src = xCh + iy * w;
            for (let ox = 0; ox < outW; ox++) {
              const ix = ox * strideW - padW + kx;
              cols[dst + ox] = ix >= 0 && ix < w ? x[src + ix]! : 0;
            }
          }
        }
      }
    }
  }
}

export function col2im(cols: Float32Array, g: ConvGeometry, x: Float32Array): void {
  const { n, c, h, w, kh, kw, strideH, strideW, padH, padW, outH, outW } = g;
  const plane = outH * outW;
  const width = n * plane;
  x.fill(0, 0, n * c * h * w);
  let row = 0;
  for (let ch = 0; ch < c; ch++) {
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++, row++) {
        for (let img = 0; img < n; img++) {
          const xCh = (img * c + ch) * h * w;
          const base = row * width + img * plane;
          for (let oy = 0; oy < outH; oy++) {
            const iy = oy * strideH - padH + ky;
            if (iy < 0 || iy >= h) continue;
            const src = base + oy * outW;
            const dst = xCh + iy * w;
            for (let ox = 0; ox < outW; ox++) {
              const ix = ox * strideW - padW + kx;
              if (ix >= 0 && ix < w) x[dst + ix]! += cols[src + ox]!;
            }
          }
        }
      }
    }
  }
}
