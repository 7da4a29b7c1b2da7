// Winograd F(4×4, 2×2) over the image's phases: 25 products for a 4×4 output tile per phase
// channel, where F(2×2, 2×2) (winograd.ts) takes 36 for the same outputs. The algorithm and its
// matrices are native/src/winograd.c's, which explains them:
//   Bᵀ = [4 0 −5 0 1; 0 −4 −4 1 1; 0 4 −4 −1 1; 0 −2 −1 2 1; 0 2 −1 −2 1]
//   G  = [1/4 0; −1/6 −1/6; −1/6 1/6; 1/24 1/12; 1/24 −1/12]
//   Aᵀ = [1 1 1 1 1; 0 1 −1 2 −2; 0 1 1 4 4; 0 1 −1 8 −8]
// The layouts are winograd.ts's with 25 points:
//   U, P [25][k][4c]   M, Z [25][k][T]   V, W [25][T][4c] (tile-major; planes PLANE_PAD floats apart, phases.ts)
// where phase channel c' = 4·ch + 2·p + q and tile t = img·th·tw + ti·tw + tj (th = outH / 4).
// A tile reads phase positions 4ti … 4ti + 4 (padded rows 8ti + 2l + p) and overlaps the next by one.
// Each thread has its own scratch (`scratch` + tid · `scratchBytes`): the image kernels' padded
// planes (c · (h + 2) · (w + 2) floats) and then a tile's intermediate rows (winograd4TileScratchBytes).
import { at, share } from './common';
import { addPhases, padChannels, phases, planeStride, storeTaps, unpadChannels } from './phases';

/** Rows of five vectors in a tile's intermediate values. */
const ROW: usize = 5 * 16;

/** Bytes of a thread's scratch beyond its padded planes: a tile's intermediate values (at most 61 vectors, in winograd4Outputs). */
export function winograd4TileScratchBytes(): i32 {
  return 64 * 16;
}

/** The five values of Bᵀ d along one axis, stored `stride` bytes apart. */
@inline function bt5(d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, dst: usize, stride: usize): void {
  const a = f32x4.sub(d4, f32x4.mul(d2, f32x4.splat(4))), b = f32x4.sub(d3, f32x4.mul(d1, f32x4.splat(4)));
  const c = f32x4.sub(d4, d2), e = f32x4.mul(f32x4.sub(d3, d1), f32x4.splat(2));
  v128.store(dst, f32x4.add(f32x4.sub(f32x4.mul(d0, f32x4.splat(4)), f32x4.mul(d2, f32x4.splat(5))), d4));
  v128.store(dst + stride, f32x4.add(b, a));
  v128.store(dst + 2 * stride, f32x4.sub(a, b));
  v128.store(dst + 3 * stride, f32x4.add(c, e));
  v128.store(dst + 4 * stride, f32x4.sub(c, e));
}

/** B w along one axis (the adjoint of bt5). */
@inline function b5(w0: v128, w1: v128, w2: v128, w3: v128, w4: v128, dst: usize, stride: usize): void {
  const s12 = f32x4.add(w1, w2), d12 = f32x4.sub(w1, w2), s34 = f32x4.add(w3, w4), d34 = f32x4.sub(w3, w4);
  v128.store(dst, f32x4.mul(w0, f32x4.splat(4)));
  v128.store(dst + stride, f32x4.sub(f32x4.mul(d12, f32x4.splat(-4)), f32x4.mul(d34, f32x4.splat(2))));
  v128.store(dst + 2 * stride, f32x4.sub(f32x4.sub(f32x4.mul(w0, f32x4.splat(-5)), f32x4.mul(s12, f32x4.splat(4))), s34));
  v128.store(dst + 3 * stride, f32x4.add(d12, f32x4.mul(d34, f32x4.splat(2))));
  v128.store(dst + 4 * stride, f32x4.add(f32x4.add(w0, s12), s34));
}

/** A ȳ along one axis: four values to the five points. */
@inline function a4(y0: v128, y1: v128, y2: v128, y3: v128, dst: usize, stride: usize): void {
  const s02 = f32x4.add(y0, y2), s13 = f32x4.add(y1, y3);
  const t = f32x4.add(y0, f32x4.mul(y2, f32x4.splat(4))), u = f32x4.add(f32x4.mul(y1, f32x4.splat(2)), f32x4.mul(y3, f32x4.splat(8)));
  v128.store(dst, y0);
  v128.store(dst + stride, f32x4.add(s02, s13));
  v128.store(dst + 2 * stride, f32x4.sub(s02, s13));
  v128.store(dst + 3 * stride, f32x4.add(t, u));
  v128.store(dst + 4 * stride, f32x4.sub(t, u));
}

/** Aᵀ m along one axis: five points to the four values. */
@inline function at5(m0: v128, m1: v128, m2: v128, m3: v128, m4: v128, dst: usize, stride: usize): void {
  const s12 = f32x4.add(m1, m2), d12 = f32x4.sub(m1, m2), s34 = f32x4.add(m3, m4), d34 = f32x4.sub(m3, m4);
  v128.store(dst, f32x4.add(f32x4.add(m0, s12), s34));
  v128.store(dst + stride, f32x4.add(d12, f32x4.mul(d34, f32x4.splat(2))));
  v128.store(dst + 2 * stride, f32x4.add(s12, f32x4.mul(s34, f32x4.splat(4))));
  v128.store(dst + 3 * stride, f32x4.add(d12, f32x4.mul(d34, f32x4.splat(8))));
}

/** Five vectors `stride` bytes apart, through bt5 / b5 / at5. */
@inline function bt5From(src: usize, stride: usize, dst: usize, dstStride: usize): void {
  bt5(v128.load(src), v128.load(src + stride), v128.load(src + 2 * stride), v128.load(src + 3 * stride), v128.load(src + 4 * stride), dst, dstStride);
}
@inline function b5From(src: usize, stride: usize, dst: usize, dstStride: usize): void {
  b5(v128.load(src), v128.load(src + stride), v128.load(src + 2 * stride), v128.load(src + 3 * stride), v128.load(src + 4 * stride), dst, dstStride);
}
@inline function at5From(src: usize, stride: usize, dst: usize, dstStride: usize): void {
  at5(v128.load(src), v128.load(src + stride), v128.load(src + 2 * stride), v128.load(src + 3 * stride), v128.load(src + 4 * stride), dst, dstStride);
}
@inline function a4From(src: usize, stride: usize, dst: usize, dstStride: usize): void {
  a4(v128.load(src), v128.load(src + stride), v128.load(src + 2 * stride), v128.load(src + 3 * stride), dst, dstStride);
}

// G = diag(s)·G' with G' = [1 0; 1 1; 1 −1; 1 2; 1 −2] (exact), s = (1/4, −1/6, −1/6, 1/24, 1/24):
// U's point (i, j) is s_i·s_j times G' g G'ᵀ, one rounding for the scale.
@inline function scale(i: i32): f64 {
  return i == 0 ? 0.25 : i < 3 ? -1.0 / 6 : 1.0 / 24;
}

/** x0, x0 + x1, x0 − x1, x0 + 2x1, x0 − 2x1 (G' applied to one pair), stored `stride` bytes apart. */
@inline function gPrime(x0: v128, x1: v128, dst: usize, stride: usize): void {
  const twice = f32x4.add(x1, x1);
  v128.store(dst, x0);
  v128.store(dst + stride, f32x4.add(x0, x1));
  v128.store(dst + 2 * stride, f32x4.sub(x0, x1));
  v128.store(dst + 3 * stride, f32x4.add(x0, twice));
  v128.store(dst + 4 * stride, f32x4.sub(x0, twice));
}

/**
 * U = G g Gᵀ (5 × 5 points) for every output channel and phase channel, a channel's four phases
 * to a vector as in winograd.ts.
 */
export function winograd4Kernels(tid: i32, nthreads: i32, w: usize, k: i32, c: i32, u: usize, scratch: usize, scratchBytes: i32): void {
  const planeBytes = planeStride(k * 4 * c);
  const rows = scratch + <usize>tid * scratchBytes;
  const o0 = share(k, tid, nthreads), o1 = share(k, tid + 1, nthreads);
  for (let o = o0; o < o1; o++) {
    for (let ch = 0; ch < c; ch++) {
      const src = at(w, (o * c + ch) * 16);
      const row0 = v128.load(src), row1 = v128.load(src, 16), row2 = v128.load(src, 32), row3 = v128.load(src, 48);
      // g_αβ for the phases (p, q) = (0, 0), (0, 1), (1, 0), (1, 1): kernel element (2α + p, 2β + q).
      const g00 = v128.shuffle<f32>(row0, row1, 0, 1, 4, 5), g01 = v128.shuffle<f32>(row0, row1, 2, 3, 6, 7);
      const g10 = v128.shuffle<f32>(row2, row3, 0, 1, 4, 5), g11 = v128.shuffle<f32>(row2, row3, 2, 3, 6, 7);
      // G' along α: rows[i] = (r_i0, r_i1), 32 bytes apart.
      gPrime(g00, g10, rows, 32);
      gPrime(g01, g11, rows + 16, 32);
      const dst = at(u, o * 4 * c + ch * 4);
      for (let i = 0; i < 5; i++) {
        const r = rows + <usize>i * 32;
        const r0 = v128.load(r), r1 = v128.load(r, 16);
        const twice = f32x4.add(r1, r1);
        const p = dst + <usize>(i * 5) * planeBytes, si = scale(i);
        v128.store(p, f32x4.mul(r0, f32x4.splat(<f32>(si * scale(0)))));
        v128.store(p + planeBytes, f32x4.mul(f32x4.add(r0, r1), f32x4.splat(<f32>(si * scale(1)))));
        v128.store(p + 2 * planeBytes, f32x4.mul(f32x4.sub(r0, r1), f32x4.splat(<f32>(si * scale(2)))));
        v128.store(p + 3 * planeBytes, f32x4.mul(f32x4.add(r0, twice), f32x4.splat(<f32>(si * scale(3)))));
        v128.store(p + 4 * planeBytes, f32x4.mul(f32x4.sub(r0, twice), f32x4.splat(<f32>(si * scale(4)))));
      }
    }
  }
}

/** The weight gradient from P: w̄ = Gᵀ P G = G'ᵀ (s_i·s_j·P_ij) G', four phases to a vector, shuffled back into the kernel's rows. */
export function winograd4Unkernels(tid: i32, nthreads: i32, pm: usize, k: i32, c: i32, w: usize): void {
  const planeBytes = planeStride(k * 4 * c);
  const o0 = share(k, tid, nthreads), o1 = share(k, tid + 1, nthreads);
  for (let o = o0; o < o1; o++) {
    for (let ch = 0; ch < c; ch++) {
      const src = at(pm, o * 4 * c + ch * 4);
      // Along j: t_i0 = Σ_j q_ij, t_i1 = q_i1 − q_i2 + 2(q_i3 − q_i4); then along i the same.
      let w00 = f32x4.splat(0), w01 = f32x4.splat(0), w10 = f32x4.splat(0), w11 = f32x4.splat(0);
      for (let i = 0; i < 5; i++) {
        const p = src + <usize>(i * 5) * planeBytes, si = scale(i);
        const q0 = f32x4.mul(v128.load(p), f32x4.splat(<f32>(si * scale(0))));
        const q1 = f32x4.mul(v128.load(p + planeBytes), f32x4.splat(<f32>(si * scale(1))));
        const q2 = f32x4.mul(v128.load(p + 2 * planeBytes), f32x4.splat(<f32>(si * scale(2))));
        const q3 = f32x4.mul(v128.load(p + 3 * planeBytes), f32x4.splat(<f32>(si * scale(3))));
        const q4 = f32x4.mul(v128.load(p + 4 * planeBytes), f32x4.splat(<f32>(si * scale(4))));
        const t0 = f32x4.add(f32x4.add(f32x4.add(q0, q1), f32x4.add(q2, q3)), q4);
        const d34 = f32x4.sub(q3, q4);
        const t1 = f32x4.add(f32x4.sub(q1, q2), f32x4.add(d34, d34));
        // G'[i] = (1, 0), (1, 1), (1, −1), (1, 2), (1, −2).
        w00 = f32x4.add(w00, t0);
        w01 = f32x4.add(w01, t1);
        if (i > 0) {
          const f = <f32>(i == 1 ? 1 : i == 2 ? -1 : i == 3 ? 2 : -2);
          w10 = f32x4.add(w10, f32x4.mul(t0, f32x4.splat(f)));
          w11 = f32x4.add(w11, f32x4.mul(t1, f32x4.splat(f)));
        }
      }
      // w_αβ over the four phases; kernel row 2α + p holds (β, q) = (0, 0), (0, 1), (1, 0), (1, 1).
      storeTaps(at(w, (o * c + ch) * 16), w00, w01, w10, w11);
    }
  }
}

/**
 * V = Bᵀ d B for `count` images, tile-major: this thread's channels of each image are copied into
 * its padded planes, then each tile gives one vector per point for each channel's four phases.
 */
export function winograd4Images(
  tid: i32, nthreads: i32, x: usize, c: i32, h: i32, w: i32, outH: i32, outW: i32, count: i32, v: usize, scratch: usize, scratchBytes: i32,
): void {
  const th = outH >> 2, tw = outW >> 2, pw = w + 2, ph = h + 2;
  const tiles = count * th * tw, cp = 4 * c;
  const planeBytes = planeStride(tiles * cp);
  const pad = scratch + <usize>tid * scratchBytes, rows = at(pad, c * ph * pw);
  const c0 = share(c, tid, nthreads), c1 = share(c, tid + 1, nthreads);
  if (c0 >= c1) return;
  const rowBytes = <usize>pw << 2, channelBytes = <usize>(ph * pw) << 2;
  for (let ch = c0; ch < c1; ch++) memory.fill(at(pad, ch * ph * pw), 0, channelBytes);
  for (let img = 0; img < count; img++) {
    padChannels(x, img, c, c0, c1, h, w, pad);
    for (let ti = 0; ti < th; ti++) {
      for (let tj = 0; tj < tw; tj++) {
        const t = img * th * tw + ti * tw + tj;
        let o = at(v, t * cp + 4 * c0);
        // Padded rows 8ti + 2l (+ p), columns 8tj + 2m (+ q).
        let r0 = at(pad, c0 * ph * pw + 8 * ti * pw + 8 * tj);
        for (let ch = c0; ch < c1; ch++) {
          // Along l, column by column: rows[i][m].
          for (let m = 0; m < 5; m++) {
            const col = r0 + (<usize>m << 3);
            bt5(
              phases(col, col + rowBytes), phases(col + 2 * rowBytes, col + 3 * rowBytes), phases(col + 4 * rowBytes, col + 5 * rowBytes),
              phases(col + 6 * rowBytes, col + 7 * rowBytes), phases(col + 8 * rowBytes, col + 9 * rowBytes), rows + (<usize>m << 4), ROW,
            );
          }
          // Along m: point (i, j).
          for (let i = 0; i < 5; i++) bt5From(rows + <usize>i * ROW, 16, o + <usize>(i * 5) * planeBytes, planeBytes);
          o += 16;
          r0 += channelBytes;
        }
      }
    }
  }
}

/**
 * x̄ = Σ_tiles B W Bᵀ onto the image's phases, W tile-major: tiles overlap, so this thread's
 * channels of each image are summed in its padded planes (in an order that does not depend on
 * the thread count), then copied out.
 */
export function winograd4Unimages(
  tid: i32, nthreads: i32, wm: usize, c: i32, h: i32, w: i32, outH: i32, outW: i32, count: i32, x: usize, scratch: usize, scratchBytes: i32,
): void {
  const th = outH >> 2, tw = outW >> 2, pw = w + 2, ph = h + 2;
  const tiles = count * th * tw, cp = 4 * c;
  const planeBytes = planeStride(tiles * cp);
  const pad = scratch + <usize>tid * scratchBytes, rows = at(pad, c * ph * pw), cols = rows + 5 * ROW;
  const c0 = share(c, tid, nthreads), c1 = share(c, tid + 1, nthreads);
  if (c0 >= c1) return;
  const rowBytes = <usize>pw << 2, channelBytes = <usize>(ph * pw) << 2;
  for (let img = 0; img < count; img++) {
    memory.fill(at(pad, c0 * ph * pw), 0, <usize>(c1 - c0) * channelBytes);
    for (let ti = 0; ti < th; ti++) {
      for (let tj = 0; tj < tw; tj++) {
        const t = img * th * tw + ti * tw + tj;
        let i0 = at(wm, t * cp + 4 * c0);
        let r0 = at(pad, c0 * ph * pw + 8 * ti * pw + 8 * tj);
        for (let ch = c0; ch < c1; ch++) {
          // Along j, point row by point row: rows[i][m].
          for (let i = 0; i < 5; i++) b5From(i0 + <usize>(i * 5) * planeBytes, planeBytes, rows + <usize>i * ROW, 16);
          // Along i, column by column: cols[m][l], added onto the padded phases.
          for (let m = 0; m < 5; m++) {
            b5From(rows + (<usize>m << 4), ROW, cols, 16);
            const col = r0 + (<usize>m << 3);
            addPhases(col, col + rowBytes, v128.load(cols));
            addPhases(col + 2 * rowBytes, col + 3 * rowBytes, v128.load(cols, 16));
            addPhases(col + 4 * rowBytes, col + 5 * rowBytes, v128.load(cols, 32));
            addPhases(col + 6 * rowBytes, col + 7 * rowBytes, v128.load(cols, 48));
            addPhases(col + 8 * rowBytes, col + 9 * rowBytes, v128.load(cols, 64));
          }
          i0 += 16;
          r0 += channelBytes;
        }
      }
    }
    unpadChannels(pad, img, c, c0, c1, h, w, x);
  }
}

// A cursor over the tiles of a chunk in order (t = img·th·tw + ti·tw + tj), giving each one's
// top-left output without divisions: these kernels visit every tile of every output channel.
let cursorImage = 0, cursorRow = 0, cursorColumn = 0;

@inline function startTiles(): void {
  cursorImage = 0;
  cursorRow = 0;
  cursorColumn = 0;
}

@inline function nextTile(th: i32, tw: i32): void {
  if (++cursorColumn == tw) {
    cursorColumn = 0;
    if (++cursorRow == th) {
      cursorRow = 0;
      cursorImage++;
    }
  }
}

/** Bytes from the column side's start to the cursor's tile's top-left output (4 × 4 outputs) in output channel o. */
@inline function cursorCorner(o: i32, k: i32, outH: i32, outW: i32): usize {
  return <usize>(((cursorImage * k + o) * outH + 4 * cursorRow) * outW + 4 * cursorColumn) << 2;
}

/** v[j][i] ↔ v[i][j] for four vectors at `src` (16 bytes apart), to `dst`. */
@inline function transpose4(src: usize, dst: usize): void {
  const c0 = v128.load(src), c1 = v128.load(src, 16), c2 = v128.load(src, 32), c3 = v128.load(src, 48);
  const t0 = v128.shuffle<f32>(c0, c1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(c0, c1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(c2, c3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(c2, c3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 16);
  v128.store(dst, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 32);
  v128.store(dst, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 48);
}

/**
 * Z = A ȳ Aᵀ for every output channel and tile of `count` images, four tiles to a vector (lane L
 * is tile t + L): each tile's rows are loaded and turned into lanes, so every point is one store.
 */
export function winograd4Outputs(
  tid: i32, nthreads: i32, y: usize, k: i32, outH: i32, outW: i32, count: i32, z: usize, scratch: usize, scratchBytes: i32,
): void {
  const th = outH >> 2, tw = outW >> 2;
  const tiles = count * th * tw;
  const planeBytes = planeStride(k * tiles), rowBytes = <usize>outW << 2;
  // grid[r][x] (lanes: tiles), then points[i][x] after A along r, then the last group's 25 points.
  const grid = scratch + <usize>tid * scratchBytes, points = grid + 4 * 64, last = points + 5 * 64;
  const o0 = share(k, tid, nthreads), o1 = share(k, tid + 1, nthreads);
  for (let o = o0; o < o1; o++) {
    startTiles();
    for (let t = 0; t < tiles; t += 4) {
      const n = min(4, tiles - t);
      for (let lane = 0; lane < 4; lane++) {
        // Lanes past the last tile repeat it.
        const corner = y + cursorCorner(o, k, outH, outW);
        if (lane < n - 1 || (lane == n - 1 && n == 4)) nextTile(th, tw);
        // Lane-major for now: grid[r][lane]; turned below.
        for (let r = 0; r < 4; r++) v128.store(grid + <usize>(r * 64 + lane * 16), v128.load(corner + <usize>r * rowBytes));
      }
      for (let r = 0; r < 4; r++) transpose4(grid + <usize>r * 64, grid + <usize>r * 64);
      // Along r for each column x: points[i][x].
      for (let x = 0; x < 4; x++) a4From(grid + (<usize>x << 4), 64, points + (<usize>x << 4), 64);
      // Along x for each point row i: point (i, j), one vector of four tiles.
      const dst = n == 4 ? at(z, o * tiles + t) : last;
      const stride = n == 4 ? planeBytes : 16;
      for (let i = 0; i < 5; i++) a4From(points + <usize>i * 64, 16, dst + <usize>(i * 5) * stride, stride);
      if (n < 4) {
        for (let p = 0; p < 25; p++) {
          const from = last + <usize>p * 16, to = z + <usize>p * planeBytes + (<usize>(o * tiles + t) << 2);
          for (let lane = 0; lane < n; lane++) store<f32>(to + (<usize>lane << 2), load<f32>(from + (<usize>lane << 2)));
        }
      }
    }
  }
}

/**
 * y = Aᵀ M A per tile into the column side's images, four tiles to a vector: the 25 points of
 * four tiles are loaded as vectors, untransformed, and each output row turned back into its tile.
 * M is read a vector past its last tile (the host leaves room there).
 */
export function winograd4Unoutputs(
  tid: i32, nthreads: i32, m: usize, k: i32, outH: i32, outW: i32, count: i32, y: usize, scratch: usize, scratchBytes: i32,
): void {
  const th = outH >> 2, tw = outW >> 2;
  const tiles = count * th * tw;
  const planeBytes = planeStride(k * tiles), rowBytes = <usize>outW << 2;
  // rows[i][x] after Aᵀ along j, then grid[r][x] after Aᵀ along i (lanes: tiles), then turned.
  const rows = scratch + <usize>tid * scratchBytes, grid = rows + 5 * 64, out = grid + 4 * 64;
  const o0 = share(k, tid, nthreads), o1 = share(k, tid + 1, nthreads);
  for (let o = o0; o < o1; o++) {
    startTiles();
    for (let t = 0; t < tiles; t += 4) {
      const n = min(4, tiles - t);
      const src = at(m, o * tiles + t);
      const corner0 = y + cursorCorner(o, k, outH, outW);
      nextTile(th, tw);
      const corner1 = y + cursorCorner(o, k, outH, outW);
      nextTile(th, tw);
      const corner2 = y + cursorCorner(o, k, outH, outW);
      nextTile(th, tw);
      const corner3 = y + cursorCorner(o, k, outH, outW);
      nextTile(th, tw);
      for (let i = 0; i < 5; i++) at5From(src + <usize>(i * 5) * planeBytes, planeBytes, rows + <usize>i * 64, 16);
      for (let x = 0; x < 4; x++) at5From(rows + (<usize>x << 4), 64, grid + (<usize>x << 4), 64);
      for (let r = 0; r < 4; r++) {
        transpose4(grid + <usize>r * 64, out);
        const row = <usize>r * rowBytes;
        v128.store(corner0 + row, v128.load(out));
        if (n > 1) v128.store(corner1 + row, v128.load(out, 16));
        if (n > 2) v128.store(corner2 + row, v128.load(out, 32));
        if (n > 3) v128.store(corner3 + row, v128.load(out, 48));
      }
    }
  }
}
