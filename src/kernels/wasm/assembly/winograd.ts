// Winograd F(2×2, 2×2) over the image's phases, for layers of kernel 4, stride 2, padding 1: the
// transforms around the 9 GEMMs (the host runs those as one batched gemm). The algorithm and its
// matrices are those of native/src/winograd.c, which explains them; the layouts are the same:
//   U, P [9][k][4c]   V, W [9][4c][T]   M, Z [9][k][T]
// where phase channel c' = 4·ch + 2·p + q and tile t = img·th·tw + ti·tw + tj (th = outH / 2).
// Work is split by channel, and each thread's tiles run channel-major, so that consecutive
// stores go to consecutive tiles.
import { at, share } from './common';

/** U = G g Gᵀ (G = [1 0; 1 1; 0 1]) for every output channel and phase channel. */
export function winogradKernels(tid: i32, nthreads: i32, w: usize, k: i32, c: i32, u: usize): void {
  const plane = k * 4 * c;
  const o0 = share(k, tid, nthreads), o1 = share(k, tid + 1, nthreads);
  for (let o = o0; o < o1; o++) {
    for (let ch = 0; ch < c; ch++) {
      const src = at(w, (o * c + ch) * 16);
      for (let p = 0; p < 2; p++) {
        for (let q = 0; q < 2; q++) {
          const g00 = load<f32>(at(src, p * 4 + q)), g01 = load<f32>(at(src, p * 4 + 2 + q));
          const g10 = load<f32>(at(src, (2 + p) * 4 + q)), g11 = load<f32>(at(src, (2 + p) * 4 + 2 + q));
          const r10 = g00 + g10, r11 = g01 + g11;
          const dst = at(u, o * 4 * c + ch * 4 + p * 2 + q);
          store<f32>(dst + (<usize>(0 * plane) << 2), g00);
          store<f32>(dst + (<usize>(1 * plane) << 2), g00 + g01);
          store<f32>(dst + (<usize>(2 * plane) << 2), g01);
          store<f32>(dst + (<usize>(3 * plane) << 2), r10);
          store<f32>(dst + (<usize>(4 * plane) << 2), r10 + r11);
          store<f32>(dst + (<usize>(5 * plane) << 2), r11);
          store<f32>(dst + (<usize>(6 * plane) << 2), g10);
          store<f32>(dst + (<usize>(7 * plane) << 2), g10 + g11);
          store<f32>(dst + (<usize>(8 * plane) << 2), g11);
        }
      }
    }
  }
}

/** The weight gradient from P: w̄ = Gᵀ P G. */
export function winogradUnkernels(tid: i32, nthreads: i32, pm: usize, k: i32, c: i32, w: usize): void {
  const plane = k * 4 * c;
  const o0 = share(k, tid, nthreads), o1 = share(k, tid + 1, nthreads);
  for (let o = o0; o < o1; o++) {
    for (let ch = 0; ch < c; ch++) {
      const dst = at(w, (o * c + ch) * 16);
      for (let p = 0; p < 2; p++) {
        for (let q = 0; q < 2; q++) {
          const src = at(pm, o * 4 * c + ch * 4 + p * 2 + q);
          const m00 = load<f32>(src + (<usize>(0 * plane) << 2)), m01 = load<f32>(src + (<usize>(1 * plane) << 2)), m02 = load<f32>(src + (<usize>(2 * plane) << 2));
          const m10 = load<f32>(src + (<usize>(3 * plane) << 2)), m11 = load<f32>(src + (<usize>(4 * plane) << 2)), m12 = load<f32>(src + (<usize>(5 * plane) << 2));
          const m20 = load<f32>(src + (<usize>(6 * plane) << 2)), m21 = load<f32>(src + (<usize>(7 * plane) << 2)), m22 = load<f32>(src + (<usize>(8 * plane) << 2));
          const r00 = m00 + m10, r01 = m01 + m11, r02 = m02 + m12;
          const r10 = m10 + m20, r11 = m11 + m21, r12 = m12 + m22;
          store<f32>(at(dst, p * 4 + q), r00 + r01);
          store<f32>(at(dst, p * 4 + 2 + q), r01 + r02);
          store<f32>(at(dst, (2 + p) * 4 + q), r10 + r11);
          store<f32>(at(dst, (2 + p) * 4 + 2 + q), r11 + r12);
        }
      }
    }
  }
}

/** V = Bᵀ d B (Bᵀ = [1 −1 0; 0 1 0; 0 −1 1]) for `count` images; `pads` holds one padded plane per thread. */
export function winogradImages(
  tid: i32, nthreads: i32, x: usize, c: i32, h: i32, w: i32, outH: i32, outW: i32, count: i32, v: usize, pads: usize,
): void {
  const th = outH >> 1, tw = outW >> 1, pw = w + 2;
  const tiles = count * th * tw, plane = 4 * c * tiles;
  const pad = at(pads, tid * (h + 2) * pw);
  memory.fill(pad, 0, <usize>((h + 2) * pw) << 2);
  const c0 = share(c, tid, nthreads), c1 = share(c, tid + 1, nthreads);
  for (let ch = c0; ch < c1; ch++) {
    for (let img = 0; img < count; img++) {
      const src = at(x, (img * c + ch) * h * w);
      for (let y = 0; y < h; y++) memory.copy(at(pad, (y + 1) * pw + 1), at(src, y * w), <usize>w << 2);
      for (let p = 0; p < 2; p++) {
        for (let q = 0; q < 2; q++) {
          const dst = at(v, (ch * 4 + p * 2 + q) * tiles + img * th * tw);
          for (let ti = 0; ti < th; ti++) {
            const r0 = at(pad, (4 * ti + p) * pw + q), r1 = r0 + (<usize>(2 * pw) << 2), r2 = r1 + (<usize>(2 * pw) << 2);
            const o = at(dst, ti * tw);
            for (let tj = 0; tj < tw; tj++) {
              const x0 = <usize>(4 * tj) << 2;
              const a1 = load<f32>(r1 + x0), b1 = load<f32>(r1 + x0 + 8), c1v = load<f32>(r1 + x0 + 16);
              const e00 = load<f32>(r0 + x0) - a1, e01 = load<f32>(r0 + x0 + 8) - b1, e02 = load<f32>(r0 + x0 + 16) - c1v;
              const e20 = load<f32>(r2 + x0) - a1, e21 = load<f32>(r2 + x0 + 8) - b1, e22 = load<f32>(r2 + x0 + 16) - c1v;
              const t = o + (<usize>tj << 2);
              store<f32>(t + (<usize>(0 * plane) << 2), e00 - e01);
              store<f32>(t + (<usize>(1 * plane) << 2), e01);
              store<f32>(t + (<usize>(2 * plane) << 2), e02 - e01);
              store<f32>(t + (<usize>(3 * plane) << 2), a1 - b1);
              store<f32>(t + (<usize>(4 * plane) << 2), b1);
              store<f32>(t + (<usize>(5 * plane) << 2), c1v - b1);
              store<f32>(t + (<usize>(6 * plane) << 2), e20 - e21);
              store<f32>(t + (<usize>(7 * plane) << 2), e21);
              store<f32>(t + (<usize>(8 * plane) << 2), e22 - e21);
            }
          }
        }
      }
    }
  }
}

/** Z = A ȳ Aᵀ (A = [1 0; 1 1; 0 1]) for every output channel and tile of `count` images. */
export function winogradOutputs(tid: i32, nthreads: i32, y: usize, k: i32, outH: i32, outW: i32, count: i32, z: usize): void {
  const th = outH >> 1, tw = outW >> 1;
  const tiles = count * th * tw, plane = k * tiles;
  const o0 = share(k, tid, nthreads), o1 = share(k, tid + 1, nthreads);
  for (let o = o0; o < o1; o++) {
    for (let img = 0; img < count; img++) {
      const src = at(y, (img * k + o) * outH * outW);
      const dst = at(z, o * tiles + img * th * tw);
      for (let ti = 0; ti < th; ti++) {
        for (let tj = 0; tj < tw; tj++) {
          const r0 = at(src, 2 * ti * outW + 2 * tj), r1 = r0 + (<usize>outW << 2);
          const a0 = load<f32>(r0), a1 = load<f32>(r0, 4), b0 = load<f32>(r1), b1 = load<f32>(r1, 4);
          const s0 = a0 + b0, s1 = a1 + b1;
          const t = at(dst, ti * tw + tj);
          store<f32>(t + (<usize>(0 * plane) << 2), a0);
          store<f32>(t + (<usize>(1 * plane) << 2), a0 + a1);
          store<f32>(t + (<usize>(2 * plane) << 2), a1);
          store<f32>(t + (<usize>(3 * plane) << 2), s0);
          store<f32>(t + (<usize>(4 * plane) << 2), s0 + s1);
          store<f32>(t + (<usize>(5 * plane) << 2), s1);
          store<f32>(t + (<usize>(6 * plane) << 2), b0);
          store<f32>(t + (<usize>(7 * plane) << 2), b0 + b1);
          store<f32>(t + (<usize>(8 * plane) << 2), b1);
        }
      }
    }
  }
}

/** y = Aᵀ M A per tile, into the column side's images. */
export function winogradUnoutputs(tid: i32, nthreads: i32, m: usize, k: i32, outH: i32, outW: i32, count: i32, y: usize): void {
  const th = outH >> 1, tw = outW >> 1;
  const tiles = count * th * tw, plane = k * tiles;
  const o0 = share(k, tid, nthreads), o1 = share(k, tid + 1, nthreads);
  for (let o = o0; o < o1; o++) {
    for (let img = 0; img < count; img++) {
      const src = at(m, o * tiles + img * th * tw);
      const dst = at(y, (img * k + o) * outH * outW);
      for (let ti = 0; ti < th; ti++) {
        for (let tj = 0; tj < tw; tj++) {
          const t = at(src, ti * tw + tj);
          const m00 = load<f32>(t + (<usize>(0 * plane) << 2)), m01 = load<f32>(t + (<usize>(1 * plane) << 2)), m02 = load<f32>(t + (<usize>(2 * plane) << 2));
          const m10 = load<f32>(t + (<usize>(3 * plane) << 2)), m11 = load<f32>(t + (<usize>(4 * plane) << 2)), m12 = load<f32>(t + (<usize>(5 * plane) << 2));
          const m20 = load<f32>(t + (<usize>(6 * plane) << 2)), m21 = load<f32>(t + (<usize>(7 * plane) << 2)), m22 = load<f32>(t + (<usize>(8 * plane) << 2));
          const r00 = m00 + m10, r01 = m01 + m11, r02 = m02 + m12;
          const r10 = m10 + m20, r11 = m11 + m21, r12 = m12 + m22;
          const o0p = at(dst, 2 * ti * outW + 2 * tj), o1p = o0p + (<usize>outW << 2);
          store<f32>(o0p, r00 + r01);
          store<f32>(o0p, r01 + r02, 4);
          store<f32>(o1p, r10 + r11);
          store<f32>(o1p, r11 + r12, 4);
        }
      }
    }
  }
}

/**
 * x̄ = Σ_tiles B W Bᵀ (B = [1 0 0; −1 1 −1; 0 0 1]) onto the image's phases: tiles share a row and
 * a column, so each plane is summed in this thread's padded buffer, then its interior copied out.
 */
export function winogradUnimages(
  tid: i32, nthreads: i32, wm: usize, c: i32, h: i32, w: i32, outH: i32, outW: i32, count: i32, x: usize, pads: usize,
): void {
  const th = outH >> 1, tw = outW >> 1, pw = w + 2;
  const tiles = count * th * tw, plane = 4 * c * tiles;
  const pad = at(pads, tid * (h + 2) * pw);
  const c0 = share(c, tid, nthreads), c1 = share(c, tid + 1, nthreads);
  for (let ch = c0; ch < c1; ch++) {
    for (let img = 0; img < count; img++) {
      memory.fill(pad, 0, <usize>((h + 2) * pw) << 2);
      for (let p = 0; p < 2; p++) {
        for (let q = 0; q < 2; q++) {
          const src = at(wm, (ch * 4 + p * 2 + q) * tiles + img * th * tw);
          for (let ti = 0; ti < th; ti++) {
            const r0 = at(pad, (4 * ti + p) * pw + q), r1 = r0 + (<usize>(2 * pw) << 2), r2 = r1 + (<usize>(2 * pw) << 2);
            const row = at(src, ti * tw);
            for (let tj = 0; tj < tw; tj++) {
              const t = row + (<usize>tj << 2);
              const w00 = load<f32>(t + (<usize>(0 * plane) << 2)), w01 = load<f32>(t + (<usize>(1 * plane) << 2)), w02 = load<f32>(t + (<usize>(2 * plane) << 2));
              const w10 = load<f32>(t + (<usize>(3 * plane) << 2)), w11 = load<f32>(t + (<usize>(4 * plane) << 2)), w12 = load<f32>(t + (<usize>(5 * plane) << 2));
              const w20 = load<f32>(t + (<usize>(6 * plane) << 2)), w21 = load<f32>(t + (<usize>(7 * plane) << 2)), w22 = load<f32>(t + (<usize>(8 * plane) << 2));
              const e01 = w01 - w00 - w02, e11 = w11 - w10 - w12, e21 = w21 - w20 - w22;
              const x0 = <usize>(4 * tj) << 2;
              store<f32>(r0 + x0, load<f32>(r0 + x0) + w00);
              store<f32>(r0 + x0 + 8, load<f32>(r0 + x0 + 8) + e01);
              store<f32>(r0 + x0 + 16, load<f32>(r0 + x0 + 16) + w02);
              store<f32>(r1 + x0, load<f32>(r1 + x0) + (w10 - w00 - w20));
              store<f32>(r1 + x0 + 8, load<f32>(r1 + x0 + 8) + (e11 - e01 - e21));
              store<f32>(r1 + x0 + 16, load<f32>(r1 + x0 + 16) + (w12 - w02 - w22));
              store<f32>(r2 + x0, load<f32>(r2 + x0) + w20);
              store<f32>(r2 + x0 + 8, load<f32>(r2 + x0 + 8) + e21);
              store<f32>(r2 + x0 + 16, load<f32>(r2 + x0 + 16) + w22);
            }
          }
        }
      }
      const dst = at(x, (img * c + ch) * h * w);
      for (let y = 0; y < h; y++) memory.copy(at(dst, y * w), at(pad, (y + 1) * pw + 1), <usize>w << 2);
    }
  }
}
