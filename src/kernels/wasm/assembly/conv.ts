// im2col / col2im with the batch merged into the columns: cols [c·kh·kw, n·outH·outW].
import { at, share } from './common';

// Output columns whose input column ox·s − p + kx lies inside the image form one range [lo, hi).
@inline function firstInside(outW: i32, sw: i32, pw: i32, kx: i32, w: i32): i32 {
  let lo = 0;
  while (lo < outW && lo * sw - pw + kx < 0) lo++;
  return lo;
}

@inline function endInside(lo: i32, outW: i32, sw: i32, pw: i32, kx: i32, w: i32): i32 {
  let hi = outW;
  while (hi > lo && (hi - 1) * sw - pw + kx >= w) hi--;
  return hi;
}

// The geometry columnsRow makes rows for. Globals are per instance, so per thread: each caller
// (im2col, gemm.ts's convGemm) sets them for its share.
let imageX: usize = 0;
let gC = 0, gH = 0, gW = 0, gKh = 0, gKw = 0, gSh = 0, gSw = 0, gPh = 0, gPw = 0, gOutH = 0, gOutW = 0;

export function setColumnsGeometry(x: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, outH: i32, outW: i32): void {
  imageX = x;
  gC = c; gH = h; gW = w; gKh = kh; gKw = kw; gSh = sh; gSw = sw; gPh = ph; gPw = pw; gOutH = outH; gOutW = outW;
}

/**
 * Columns [j0, j0 + len) of row `row` (channel, ky, kx) of im2col(image), for the geometry set by
 * setColumnsGeometry (columns img·outH·outW + oy·outW + ox), into dst, contiguous: a whole row
 * for im2col, a piece of one while convGemm packs.
 */
export function columnsRow(row: i32, j0: i32, len: i32, dst: usize): void {
  const kx = row % gKw;
  const ky = (row / gKw) % gKh;
  const ch = row / (gKw * gKh);
  const plane = gOutH * gOutW;
  let img = j0 / plane;
  const rest = j0 - img * plane;
  let oy = rest / gOutW;
  let ox0 = rest - oy * gOutW;
  const lo = firstInside(gOutW, gSw, gPw, kx, gW);
  const hi = endInside(lo, gOutW, gSw, gPw, kx, gW);
  let done = 0;
  while (done < len) {
    const run = min(gOutW - ox0, len - done);
    const out = dst + (<usize>done << 2);
    const iy = oy * gSh - gPh + ky;
    if (iy < 0 || iy >= gH) {
      memory.fill(out, 0, <usize>run << 2);
    } else {
      const src = imageX + (<usize>(((img * gC + ch) * gH + iy) * gW - gPw + kx) << 2);
      const end = ox0 + run;
      let ox = ox0;
      for (; ox < min(lo, end); ox++) store<f32>(out + (<usize>(ox - ox0) << 2), 0);
      const insideEnd = min(hi, end);
      if (gSw == 1) {
        if (ox < insideEnd) memory.copy(out + (<usize>(ox - ox0) << 2), src + (<usize>ox << 2), <usize>(insideEnd - ox) << 2);
        ox = max(ox, insideEnd);
      } else if (gSw == 2) {
        // Every other input: two loads and one shuffle give four outputs. The second load may
        // read one value past the row; it lands in a lane the shuffle drops.
        for (; ox + 4 <= insideEnd; ox += 4) {
          const s0 = src + (<usize>(ox * 2) << 2);
          v128.store(out + (<usize>(ox - ox0) << 2), v128.shuffle<f32>(v128.load(s0), v128.load(s0, 16), 0, 2, 4, 6));
        }
      }
      for (; ox < insideEnd; ox++) store<f32>(out + (<usize>(ox - ox0) << 2), load<f32>(src + (<usize>(ox * gSw) << 2)));
      for (; ox < end; ox++) store<f32>(out + (<usize>(ox - ox0) << 2), 0);
    }
    done += run;
    ox0 = 0;
    if (++oy == gOutH) {
      oy = 0;
      img++;
    }
  }
}

/** Rows (channel, ky, kx) are split between threads; each row is written by one thread. */
export function im2col(
  tid: i32, nthreads: i32, x: usize, n: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, outH: i32, outW: i32, cols: usize,
): void {
  setColumnsGeometry(x, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW);
  const width = n * outH * outW;
  const rows = c * kh * kw;
  const r0 = share(rows, tid, nthreads);
  const r1 = share(rows, tid + 1, nthreads);
  for (let row = r0; row < r1; row++) columnsRow(row, 0, width, at(cols, row * width));
}

/** Channels are split between threads: each thread zeroes and accumulates only its own channels of x. */
export function col2im(
  tid: i32, nthreads: i32, cols: usize, n: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, outH: i32, outW: i32, x: usize,
): void {
  const plane = outH * outW;
  const width = n * plane;
  const c0 = share(c, tid, nthreads);
  const c1 = share(c, tid + 1, nthreads);
  for (let img = 0; img < n; img++) {
    for (let ch = c0; ch < c1; ch++) memory.fill(at(x, (img * c + ch) * h * w), 0, <usize>(h * w) << 2);
  }
  for (let ch = c0; ch < c1; ch++) {
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const row = (ch * kh + ky) * kw + kx;
        const oxLo = firstInside(outW, sw, pw, kx, w);
        const oxHi = endInside(oxLo, outW, sw, pw, kx, w);
        for (let img = 0; img < n; img++) {
          const xCh = at(x, (img * c + ch) * h * w);
          const base = at(cols, row * width + img * plane);
          for (let oy = 0; oy < outH; oy++) {
            const iy = oy * sh - ph + ky;
            if (iy < 0 || iy >= h) continue;
            const src = base + (<usize>(oy * outW) << 2);
            const dst = xCh + (<usize>(iy * w - pw + kx) << 2);
            if (sw == 1) {
              let ox = oxLo;
              for (; ox + 4 <= oxHi; ox += 4) {
                const d = dst + (<usize>ox << 2);
                v128.store(d, f32x4.add(v128.load(d), v128.load(src + (<usize>ox << 2))));
              }
              for (; ox < oxHi; ox++) {
                const d = dst + (<usize>ox << 2);
                store<f32>(d, load<f32>(d) + load<f32>(src + (<usize>ox << 2)));
              }
            } else {
              let ox = oxLo;
              if (sw == 2) {
                // Four outputs into every other value of eight: the odd lanes add 0, which leaves them
                // as they are (no -0 arises: x starts at +0). The eight must stay inside the row, which
                // this thread owns (a value past it may be another channel's).
                const zero = f32x4.splat(0);
                for (; ox + 4 <= oxHi && kx - pw + ox * 2 + 8 <= w; ox += 4) {
                  const d = dst + (<usize>(ox * 2) << 2);
                  const v = v128.load(src + (<usize>ox << 2));
                  v128.store(d, f32x4.add(v128.load(d), v128.shuffle<f32>(v, zero, 0, 4, 1, 4)));
                  v128.store(d, f32x4.add(v128.load(d, 16), v128.shuffle<f32>(v, zero, 2, 4, 3, 4)), 16);
                }
              }
              for (; ox < oxHi; ox++) {
                const d = dst + (<usize>(ox * sw) << 2);
                store<f32>(d, load<f32>(d) + load<f32>(src + (<usize>ox << 2)));
              }
            }
          }
        }
      }
    }
  }
}
