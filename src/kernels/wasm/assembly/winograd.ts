// Winograd F(2×2, 2×2) over the image's phases, for layers of kernel 4, stride 2, padding 1: the
// transforms around the 9 GEMMs (the host runs those as one batched gemm). The algorithm and its
// matrices are those of native/src/winograd.c, which explains them; the layouts are the same:
//   U, P [9][k][4c]   M, Z [9][k][T]   and, unlike native's, V, W [9][T][4c] (tile-major)
// (the planes PLANE_PAD floats apart, as native's: phases.ts)
// where phase channel c' = 4·ch + 2·p + q and tile t = img·th·tw + ti·tw + tj (th = outH / 2).
// Tile-major, a channel's four phases lie side by side: the image transforms take them as one
// vector (two pairs of neighbours in two rows of the padded image), whatever the tile count.
// Work is split by channel; each thread holds its channels of one padded image at a time.
import { at, share } from './common';
import { addPhases, padChannels, phases, planeStride, storeTaps, unpadChannels } from './phases';

/**
 * U = G g Gᵀ (G = [1 0; 1 1; 0 1]) for every output channel and phase channel. A kernel's four
 * phases lie side by side in U (c' = 4·ch + 2·p + q), so each point of the tile is one vector
 * store of all four, from the kernel's rows dealt out by shuffles.
 */
export function winogradKernels(tid: i32, nthreads: i32, w: usize, k: i32, c: i32, u: usize): void {
  const planeBytes = planeStride(k * 4 * c);
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
  const planeBytes = planeStride(k * 4 * c);
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
      storeTaps(at(w, (o * c + ch) * 16), y00, y01, y10, y11);
    }
  }
}

/**
 * V = Bᵀ d B (Bᵀ = [1 −1 0; 0 1 0; 0 −1 1]) for `count` images, tile-major: this thread's
 * channels of each image are copied into its padded buffer (at `scratch` + tid · `scratchBytes`,
 * c·(h + 2)·(w + 2) floats), then each tile gives one vector per point for each channel's four phases.
 */
export function winogradImages(
  tid: i32, nthreads: i32, x: usize, c: i32, h: i32, w: i32, outH: i32, outW: i32, count: i32, v: usize, scratch: usize, scratchBytes: i32,
): void {
  const th = outH >> 1, tw = outW >> 1, pw = w + 2, ph = h + 2;
  const tiles = count * th * tw, cp = 4 * c;
  const planeBytes = planeStride(tiles * cp);
  const pad = scratch + <usize>tid * scratchBytes;
  const c0 = share(c, tid, nthreads), c1 = share(c, tid + 1, nthreads);
  if (c0 >= c1) return;
  const rowBytes = <usize>pw << 2;
  for (let ch = c0; ch < c1; ch++) memory.fill(at(pad, ch * ph * pw), 0, <usize>(ph * pw) << 2);
  for (let img = 0; img < count; img++) {
    padChannels(x, img, c, c0, c1, h, w, pad);
    for (let ti = 0; ti < th; ti++) {
      for (let tj = 0; tj < tw; tj++) {
        const t = img * th * tw + ti * tw + tj;
        let o = at(v, t * cp + 4 * c0);
        // Padded rows 4ti + 2r (+ p), columns 4tj + 2s (+ q).
        let r0 = at(pad, c0 * ph * pw + 4 * ti * pw + 4 * tj);
        for (let ch = c0; ch < c1; ch++) {
          const r1 = r0 + 2 * rowBytes, r2 = r1 + 2 * rowBytes;
          const d00 = phases(r0, r0 + rowBytes), d01 = phases(r0 + 8, r0 + rowBytes + 8), d02 = phases(r0 + 16, r0 + rowBytes + 16);
          const d10 = phases(r1, r1 + rowBytes), d11 = phases(r1 + 8, r1 + rowBytes + 8), d12 = phases(r1 + 16, r1 + rowBytes + 16);
          const d20 = phases(r2, r2 + rowBytes), d21 = phases(r2 + 8, r2 + rowBytes + 8), d22 = phases(r2 + 16, r2 + rowBytes + 16);
          const e00 = f32x4.sub(d00, d10), e01 = f32x4.sub(d01, d11), e02 = f32x4.sub(d02, d12);
          const e20 = f32x4.sub(d20, d10), e21 = f32x4.sub(d21, d11), e22 = f32x4.sub(d22, d12);
          v128.store(o, f32x4.sub(e00, e01));
          v128.store(o + planeBytes, e01);
          v128.store(o + 2 * planeBytes, f32x4.sub(e02, e01));
          v128.store(o + 3 * planeBytes, f32x4.sub(d10, d11));
          v128.store(o + 4 * planeBytes, d11);
          v128.store(o + 5 * planeBytes, f32x4.sub(d12, d11));
          v128.store(o + 6 * planeBytes, f32x4.sub(e20, e21));
          v128.store(o + 7 * planeBytes, e21);
          v128.store(o + 8 * planeBytes, f32x4.sub(e22, e21));
          o += 16;
          r0 += <usize>(ph * pw) << 2;
        }
      }
    }
  }
}

/**
 * Where four consecutive tiles lie in two loads per row: four along a tile row (tw a multiple of
 * 4: the second load 16 bytes on), or two tile rows of two (tw = 2: the second load two rows
 * down). 0: neither (the scalar path).
 */
@inline function groupSecondLoad(outW: i32, th: i32, tw: i32): usize {
  return tw % 4 == 0 ? 16 : tw == 2 && th % 2 == 0 ? <usize>(2 * outW) << 2 : 0;
}

/** Group g holds tiles 4g … 4g + 3; its top-left output, for groupSecondLoad's two layouts. */
@inline function groupCorner(g: i32, tw: i32, outW: i32): i32 {
  if (tw == 2) return 4 * g * outW;
  const t = g * 4, ti = t / tw, tj = t - ti * tw;
  return 2 * ti * outW + 2 * tj;
}

/** Z = A ȳ Aᵀ (A = [1 0; 1 1; 0 1]) for every output channel and tile of `count` images, four tiles to a vector where they allow. */
export function winogradOutputs(tid: i32, nthreads: i32, y: usize, k: i32, outH: i32, outW: i32, count: i32, z: usize): void {
  const th = outH >> 1, tw = outW >> 1;
  const tiles = count * th * tw;
  const planeBytes = planeStride(k * tiles), rowBytes = <usize>outW << 2;
  const second = groupSecondLoad(outW, th, tw);
  const o0 = share(k, tid, nthreads), o1 = share(k, tid + 1, nthreads);
  for (let o = o0; o < o1; o++) {
    for (let img = 0; img < count; img++) {
      const src = at(y, (img * k + o) * outH * outW);
      const dst = at(z, o * tiles + img * th * tw);
      if (second != 0) {
        for (let g = 0; g < (th * tw) >> 2; g++) {
          const p = at(src, groupCorner(g, tw, outW));
          const top0 = v128.load(p), top1 = v128.load(p + second), bottom0 = v128.load(p + rowBytes), bottom1 = v128.load(p + rowBytes + second);
          const a0 = v128.shuffle<f32>(top0, top1, 0, 2, 4, 6), a1 = v128.shuffle<f32>(top0, top1, 1, 3, 5, 7);
          const b0 = v128.shuffle<f32>(bottom0, bottom1, 0, 2, 4, 6), b1 = v128.shuffle<f32>(bottom0, bottom1, 1, 3, 5, 7);
          const s0 = f32x4.add(a0, b0), s1 = f32x4.add(a1, b1);
          const t = at(dst, g * 4);
          v128.store(t, a0);
          v128.store(t + planeBytes, f32x4.add(a0, a1));
          v128.store(t + 2 * planeBytes, a1);
          v128.store(t + 3 * planeBytes, s0);
          v128.store(t + 4 * planeBytes, f32x4.add(s0, s1));
          v128.store(t + 5 * planeBytes, s1);
          v128.store(t + 6 * planeBytes, b0);
          v128.store(t + 7 * planeBytes, f32x4.add(b0, b1));
          v128.store(t + 8 * planeBytes, b1);
        }
        continue;
      }
      for (let ti = 0; ti < th; ti++) {
        for (let tj = 0; tj < tw; tj++) {
          const r0 = at(src, 2 * ti * outW + 2 * tj), r1 = r0 + rowBytes;
          const a0 = load<f32>(r0), a1 = load<f32>(r0, 4), b0 = load<f32>(r1), b1 = load<f32>(r1, 4);
          const s0 = a0 + b0, s1 = a1 + b1;
          const t = at(dst, ti * tw + tj);
          store<f32>(t, a0);
          store<f32>(t + planeBytes, a0 + a1);
          store<f32>(t + 2 * planeBytes, a1);
          store<f32>(t + 3 * planeBytes, s0);
          store<f32>(t + 4 * planeBytes, s0 + s1);
          store<f32>(t + 5 * planeBytes, s1);
          store<f32>(t + 6 * planeBytes, b0);
          store<f32>(t + 7 * planeBytes, b0 + b1);
          store<f32>(t + 8 * planeBytes, b1);
        }
      }
    }
  }
}

/** y = Aᵀ M A per tile, into the column side's images, four tiles to a vector where they allow. */
export function winogradUnoutputs(tid: i32, nthreads: i32, m: usize, k: i32, outH: i32, outW: i32, count: i32, y: usize): void {
  const th = outH >> 1, tw = outW >> 1;
  const tiles = count * th * tw;
  const planeBytes = planeStride(k * tiles), rowBytes = <usize>outW << 2;
  const second = groupSecondLoad(outW, th, tw);
  const o0 = share(k, tid, nthreads), o1 = share(k, tid + 1, nthreads);
  for (let o = o0; o < o1; o++) {
    for (let img = 0; img < count; img++) {
      const src = at(m, o * tiles + img * th * tw);
      const dst = at(y, (img * k + o) * outH * outW);
      if (second != 0) {
        for (let g = 0; g < (th * tw) >> 2; g++) {
          const t = at(src, g * 4);
          const m00 = v128.load(t), m01 = v128.load(t + planeBytes), m02 = v128.load(t + 2 * planeBytes);
          const m10 = v128.load(t + 3 * planeBytes), m11 = v128.load(t + 4 * planeBytes), m12 = v128.load(t + 5 * planeBytes);
          const m20 = v128.load(t + 6 * planeBytes), m21 = v128.load(t + 7 * planeBytes), m22 = v128.load(t + 8 * planeBytes);
          const r00 = f32x4.add(m00, m10), r01 = f32x4.add(m01, m11), r02 = f32x4.add(m02, m12);
          const r10 = f32x4.add(m10, m20), r11 = f32x4.add(m11, m21), r12 = f32x4.add(m12, m22);
          const y00 = f32x4.add(r00, r01), y01 = f32x4.add(r01, r02), y10 = f32x4.add(r10, r11), y11 = f32x4.add(r11, r12);
          const p = at(dst, groupCorner(g, tw, outW));
          v128.store(p, v128.shuffle<f32>(y00, y01, 0, 4, 1, 5));
          v128.store(p + second, v128.shuffle<f32>(y00, y01, 2, 6, 3, 7));
          v128.store(p + rowBytes, v128.shuffle<f32>(y10, y11, 0, 4, 1, 5));
          v128.store(p + rowBytes + second, v128.shuffle<f32>(y10, y11, 2, 6, 3, 7));
        }
        continue;
      }
      for (let ti = 0; ti < th; ti++) {
        for (let tj = 0; tj < tw; tj++) {
          const t = at(src, ti * tw + tj);
          const m00 = load<f32>(t), m01 = load<f32>(t + planeBytes), m02 = load<f32>(t + 2 * planeBytes);
          const m10 = load<f32>(t + 3 * planeBytes), m11 = load<f32>(t + 4 * planeBytes), m12 = load<f32>(t + 5 * planeBytes);
          const m20 = load<f32>(t + 6 * planeBytes), m21 = load<f32>(t + 7 * planeBytes), m22 = load<f32>(t + 8 * planeBytes);
          const r00 = m00 + m10, r01 = m01 + m11, r02 = m02 + m12;
          const r10 = m10 + m20, r11 = m11 + m21, r12 = m12 + m22;
          const o0p = at(dst, 2 * ti * outW + 2 * tj), o1p = o0p + rowBytes;
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
 * x̄ = Σ_tiles B W Bᵀ (B = [1 0 0; −1 1 −1; 0 0 1]) onto the image's phases, W tile-major: tiles
 * share a row and a column, so this thread's channels of each image are summed in its padded
 * buffer (the order of the sums does not depend on the thread count), then copied out.
 */
export function winogradUnimages(
  tid: i32, nthreads: i32, wm: usize, c: i32, h: i32, w: i32, outH: i32, outW: i32, count: i32, x: usize, scratch: usize, scratchBytes: i32,
): void {
  const th = outH >> 1, tw = outW >> 1, pw = w + 2, ph = h + 2;
  const tiles = count * th * tw, cp = 4 * c;
  const planeBytes = planeStride(tiles * cp);
  const pad = scratch + <usize>tid * scratchBytes;
  const c0 = share(c, tid, nthreads), c1 = share(c, tid + 1, nthreads);
  if (c0 >= c1) return;
  const rowBytes = <usize>pw << 2;
  for (let img = 0; img < count; img++) {
    memory.fill(at(pad, c0 * ph * pw), 0, <usize>((c1 - c0) * ph * pw) << 2);
    for (let ti = 0; ti < th; ti++) {
      for (let tj = 0; tj < tw; tj++) {
        const t = img * th * tw + ti * tw + tj;
        let i = at(wm, t * cp + 4 * c0);
        let r0 = at(pad, c0 * ph * pw + 4 * ti * pw + 4 * tj);
        for (let ch = c0; ch < c1; ch++) {
          const w00 = v128.load(i), w01 = v128.load(i + planeBytes), w02 = v128.load(i + 2 * planeBytes);
          const w10 = v128.load(i + 3 * planeBytes), w11 = v128.load(i + 4 * planeBytes), w12 = v128.load(i + 5 * planeBytes);
          const w20 = v128.load(i + 6 * planeBytes), w21 = v128.load(i + 7 * planeBytes), w22 = v128.load(i + 8 * planeBytes);
          const e01 = f32x4.sub(f32x4.sub(w01, w00), w02), e11 = f32x4.sub(f32x4.sub(w11, w10), w12), e21 = f32x4.sub(f32x4.sub(w21, w20), w22);
          const r1 = r0 + 2 * rowBytes, r2 = r1 + 2 * rowBytes;
          addPhases(r0, r0 + rowBytes, w00);
          addPhases(r0 + 8, r0 + rowBytes + 8, e01);
          addPhases(r0 + 16, r0 + rowBytes + 16, w02);
          addPhases(r1, r1 + rowBytes, f32x4.sub(f32x4.sub(w10, w00), w20));
          addPhases(r1 + 8, r1 + rowBytes + 8, f32x4.sub(f32x4.sub(e11, e01), e21));
          addPhases(r1 + 16, r1 + rowBytes + 16, f32x4.sub(f32x4.sub(w12, w02), w22));
          addPhases(r2, r2 + rowBytes, w20);
          addPhases(r2 + 8, r2 + rowBytes + 8, e21);
          addPhases(r2 + 16, r2 + rowBytes + 16, w22);
          i += 16;
          r0 += <usize>(ph * pw) << 2;
        }
      }
    }
    unpadChannels(pad, img, c, c0, c1, h, w, x);
  }
}
