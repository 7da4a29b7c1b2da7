// Winograd F(2×2, 2×2) over the image's phases, for layers of kernel 4, stride 2, padding 1: the
// transforms around the 9 GEMMs (the host runs those as one batched gemm). The algorithm and its
// matrices are those of native/src/winograd.c, which explains them; the layouts are the same:
//   U, P [9][k][4c]   V, W [9][4c][T]   M, Z [9][k][T]
// where phase channel c' = 4·ch + 2·p + q and tile t = img·th·tw + ti·tw + tj (th = outH / 2).
// Work is split by channel, and each thread's tiles run channel-major, so that consecutive
// stores go to consecutive tiles.
import { at, share } from './common';

/**
 * U = G g Gᵀ (G = [1 0; 1 1; 0 1]) for every output channel and phase channel. A kernel's four
 * phases lie side by side in U (c' = 4·ch + 2·p + q), so each point of the tile is one vector
 * store of all four, from the kernel's rows dealt out by shuffles.
 */
export function winogradKernels(tid: i32, nthreads: i32, w: usize, k: i32, c: i32, u: usize): void {
  const planeBytes = <usize>(k * 4 * c) << 2;
  const o0 = share(k, tid, nthreads), o1 = share(k, tid + 1, nthreads);
  for (let o = o0; o < o1; o++) {
    for (let ch = 0; ch < c; ch++) {
      const src = at(w, (o * c + ch) * 16);
      const row0 = v128.load(src), row1 = v128.load(src, 16), row2 = v128.load(src, 32), row3 = v128.load(src, 48);
      // g_αβ for the phases (p, q) = (0, 0), (0, 1), (1, 0), (1, 1): kernel element (2α + p, 2β + q).
      const g00 = v128.shuffle<f32>(row0, row1, 0, 1, 4, 5), g01 = v128.shuffle<f32>(row0, row1, 2, 3, 6, 7);
      const g10 = v128.shuffle<f32>(row2, row3, 0, 1, 4, 5), g11 = v128.shuffle<f32>(row2, row3, 2, 3, 6, 7);
      const r10 = f32x4.add(g00, g10), r11 = f32x4.add(g01, g11);
      const dst = at(u, o * 4 * c + ch * 4);
      v128.store(dst, g00);
      v128.store(dst + planeBytes, f32x4.add(g00, g01));
      v128.store(dst + 2 * planeBytes, g01);
      v128.store(dst + 3 * planeBytes, r10);
      v128.store(dst + 4 * planeBytes, f32x4.add(r10, r11));
      v128.store(dst + 5 * planeBytes, r11);
      v128.store(dst + 6 * planeBytes, g10);
      v128.store(dst + 7 * planeBytes, f32x4.add(g10, g11));
      v128.store(dst + 8 * planeBytes, g11);
    }
  }
}

/** The weight gradient from P: w̄ = Gᵀ P G, four phases to a vector and shuffled back into the kernel's rows. */
export function winogradUnkernels(tid: i32, nthreads: i32, pm: usize, k: i32, c: i32, w: usize): void {
  const planeBytes = <usize>(k * 4 * c) << 2;
  const o0 = share(k, tid, nthreads), o1 = share(k, tid + 1, nthreads);
  for (let o = o0; o < o1; o++) {
    for (let ch = 0; ch < c; ch++) {
      const src = at(pm, o * 4 * c + ch * 4);
      const m00 = v128.load(src), m01 = v128.load(src + planeBytes), m02 = v128.load(src + 2 * planeBytes);
      const m10 = v128.load(src + 3 * planeBytes), m11 = v128.load(src + 4 * planeBytes), m12 = v128.load(src + 5 * planeBytes);
      const m20 = v128.load(src + 6 * planeBytes), m21 = v128.load(src + 7 * planeBytes), m22 = v128.load(src + 8 * planeBytes);
      const r00 = f32x4.add(m00, m10), r01 = f32x4.add(m01, m11), r02 = f32x4.add(m02, m12);
      const r10 = f32x4.add(m10, m20), r11 = f32x4.add(m11, m21), r12 = f32x4.add(m12, m22);
      // y_αβ over the four phases; kernel row 2α + p holds (β, q) = (0, 0), (0, 1), (1, 0), (1, 1).
      const y00 = f32x4.add(r00, r01), y01 = f32x4.add(r01, r02), y10 = f32x4.add(r10, r11), y11 = f32x4.add(r11, r12);
      const dst = at(w, (o * c + ch) * 16);
      v128.store(dst, v128.shuffle<f32>(y00, y01, 0, 1, 4, 5));
      v128.store(dst, v128.shuffle<f32>(y00, y01, 2, 3, 6, 7), 16);
      v128.store(dst, v128.shuffle<f32>(y10, y11, 0, 1, 4, 5), 32);
      v128.store(dst, v128.shuffle<f32>(y10, y11, 2, 3, 6, 7), 48);
    }
  }
}

// The s = 0, 1, 2 columns of four consecutive tiles in a padded row from `p` (columns 0, 4, 8, 12 /
// 2, 6, 10, 14 / 4, 8, 12, 16), dealt out of five vectors. Reads 20 floats; the last three may lie
// past the row (unused lanes; the heap keeps a spare block past its top).
@inline function evenPairs(p: usize): v128 {
  return v128.shuffle<f32>(v128.load(p), v128.load(p, 16), 0, 2, 4, 6);
}
@inline function tileColumn0(ab: v128, cd: v128): v128 {
  return v128.shuffle<f32>(ab, cd, 0, 2, 4, 6);
}
@inline function tileColumn1(ab: v128, cd: v128): v128 {
  return v128.shuffle<f32>(ab, cd, 1, 3, 5, 7);
}
@inline function tileColumn2(column0: v128, p: usize): v128 {
  return v128.shuffle<f32>(column0, v128.load(p, 64), 1, 2, 3, 4);
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
            let tj = 0;
            // Four tiles at a time: their columns 4tj + 2s (s = 0, 1, 2) dealt out of five vectors per row.
            for (; tj + 4 <= tw; tj += 4) {
              const x0 = <usize>(4 * tj) << 2;
              const ab0 = evenPairs(r0 + x0), cd0 = evenPairs(r0 + x0 + 32);
              const ab1 = evenPairs(r1 + x0), cd1 = evenPairs(r1 + x0 + 32);
              const ab2 = evenPairs(r2 + x0), cd2 = evenPairs(r2 + x0 + 32);
              const d00 = tileColumn0(ab0, cd0), d01 = tileColumn1(ab0, cd0), d02 = tileColumn2(d00, r0 + x0);
              const d10 = tileColumn0(ab1, cd1), d11 = tileColumn1(ab1, cd1), d12 = tileColumn2(d10, r1 + x0);
              const d20 = tileColumn0(ab2, cd2), d21 = tileColumn1(ab2, cd2), d22 = tileColumn2(d20, r2 + x0);
              const e00 = f32x4.sub(d00, d10), e01 = f32x4.sub(d01, d11), e02 = f32x4.sub(d02, d12);
              const e20 = f32x4.sub(d20, d10), e21 = f32x4.sub(d21, d11), e22 = f32x4.sub(d22, d12);
              const t = o + (<usize>tj << 2);
              v128.store(t + (<usize>(0 * plane) << 2), f32x4.sub(e00, e01));
              v128.store(t + (<usize>(1 * plane) << 2), e01);
              v128.store(t + (<usize>(2 * plane) << 2), f32x4.sub(e02, e01));
              v128.store(t + (<usize>(3 * plane) << 2), f32x4.sub(d10, d11));
              v128.store(t + (<usize>(4 * plane) << 2), d11);
              v128.store(t + (<usize>(5 * plane) << 2), f32x4.sub(d12, d11));
              v128.store(t + (<usize>(6 * plane) << 2), f32x4.sub(e20, e21));
              v128.store(t + (<usize>(7 * plane) << 2), e21);
              v128.store(t + (<usize>(8 * plane) << 2), f32x4.sub(e22, e21));
            }
            for (; tj < tw; tj++) {
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
