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

/** Rows (channel, ky, kx) are split between threads; each row is written by one thread. */
export function im2col(
  tid: i32, nthreads: i32, x: usize, n: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, outH: i32, outW: i32, cols: usize,
): void {
  const plane = outH * outW;
  const width = n * plane;
  const rows = c * kh * kw;
  const r0 = share(rows, tid, nthreads);
  const r1 = share(rows, tid + 1, nthreads);
  for (let row = r0; row < r1; row++) {
    const kx = row % kw;
    const ky = (row / kw) % kh;
    const ch = row / (kw * kh);
    const oxLo = firstInside(outW, sw, pw, kx, w);
    const oxHi = endInside(oxLo, outW, sw, pw, kx, w);
    for (let img = 0; img < n; img++) {
      const xCh = at(x, (img * c + ch) * h * w);
      const base = at(cols, row * width + img * plane);
      for (let oy = 0; oy < outH; oy++) {
        const iy = oy * sh - ph + ky;
        const dst = base + (<usize>(oy * outW) << 2);
        if (iy < 0 || iy >= h) {
          memory.fill(dst, 0, <usize>outW << 2);
          continue;
        }
        if (oxLo > 0) memory.fill(dst, 0, <usize>oxLo << 2);
        if (oxHi < outW) memory.fill(dst + (<usize>oxHi << 2), 0, <usize>(outW - oxHi) << 2);
        const src = xCh + (<usize>(iy * w - pw + kx) << 2);
        if (sw == 1) {
          memory.copy(dst + (<usize>oxLo << 2), src + (<usize>oxLo << 2), <usize>(oxHi - oxLo) << 2);
        } else if (sw == 2) {
          // Every other input: two loads and one shuffle give four outputs. The second load may
          // read one value past the row; it lands in a lane the shuffle drops.
          let ox = oxLo;
          for (; ox + 4 <= oxHi; ox += 4) {
            const s0 = src + (<usize>(ox * 2) << 2);
            store<v128>(dst + (<usize>ox << 2), v128.shuffle<f32>(v128.load(s0), v128.load(s0, 16), 0, 2, 4, 6));
          }
          for (; ox < oxHi; ox++) store<f32>(dst + (<usize>ox << 2), load<f32>(src + (<usize>(ox * 2) << 2)));
        } else {
          for (let ox = oxLo; ox < oxHi; ox++) store<f32>(dst + (<usize>ox << 2), load<f32>(src + (<usize>(ox * sw) << 2)));
        }
      }
    }
  }
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
