// Packed, register-tiled SGEMM (row-major): C = alpha·op(A)·op(B) + beta·C.
// GotoBLAS structure: a KC×NC panel of op(B) and an MC×KC block of op(A) are packed into
// contiguous tiles (which also absorbs the transposes), then a 6×8 micro-kernel keeps
// twelve f32x4 accumulators in registers over the whole KC depth (enough independent
// chains to hide the FMA latency, few enough to stay in the 16 SIMD registers).
import { at, madd, share } from './common';
import { columnsRow, setColumnsGeometry } from './conv';

const MR: i32 = 6;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 120;
const NC: i32 = 2048;

/** Floats of scratch one thread needs: packed A block, packed B panel, an edge tile, and the rows convGemm makes. */
export function gemmScratchFloats(): i32 {
  return MC * KC + KC * NC + MR * NR + max(NC, NR * KC);
}

// convGemm's B: the im2col of an image batch, made while packing (never stored whole). Globals are
// per instance, so per thread: each thread's call sets them before its share.
let implicitB = false;
// convGemm with its output as images: C [m × n] lands as [n / imagePlane, m, imagePlane] (NCHW),
// so column j of row i is at ((j / plane)·m + i)·plane + j mod plane; 0: C is row-major.
// A tile's NR columns lie in one image (plane a multiple of NR), so its rows stay contiguous.
let imagePlane = 0;
// convGemm's weight gradient with A (dy) given as images: A [m × k] lies as [k / imageA, m, imageA]; 0: row-major.
let imageA = 0;
let rowScratch: usize = 0;

// packB's panels with op(B) = im2col(image) (transB: its transpose), one row of im2col at a time.
function packImplicitB(transB: bool, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  const panelBytes = <usize>(kc * NR) << 2;
  if (!transB) {
    // Depth p is im2col row p0 + p; its columns [j0, j0 + nc) are dealt out NR at a time.
    const full = nc - nc % NR;
    for (let p = 0; p < kc; p++) {
      columnsRow(p0 + p, j0, nc, rowScratch);
      let d = dst + (<usize>(p * NR) << 2);
      for (let jp = 0; jp < full; jp += NR) {
        v128.store(d, v128.load(rowScratch + (<usize>jp << 2)));
        v128.store(d, v128.load(rowScratch + (<usize>jp << 2), 16), 16);
        d += panelBytes;
      }
      if (full < nc) {
        for (let j = 0; j < NR; j++) store<f32>(d + (<usize>j << 2), full + j < nc ? load<f32>(rowScratch + (<usize>(full + j) << 2)) : 0);
      }
    }
    return;
  }
  // Column j of op(B) is im2col row j; its depth range [p0, p0 + kc), NR rows into scratch, then transposed.
  const col = <usize>kc << 2;
  for (let jp = 0; jp < nc; jp += NR) {
    const cols = min(NR, nc - jp);
    const panel = dst + (<usize>(jp * kc) << 2);
    for (let j = 0; j < NR; j++) {
      if (j < cols) columnsRow(j0 + jp + j, p0, kc, rowScratch + <usize>j * col);
      else memory.fill(rowScratch + <usize>j * col, 0, col);
    }
    const whole = kc & ~3;
    for (let p = 0; p < whole; p += 4) {
      const s0 = rowScratch + (<usize>p << 2);
      const d = panel + (<usize>(p * NR) << 2);
      transpose4(d, v128.load(s0), v128.load(s0 + col), v128.load(s0 + 2 * col), v128.load(s0 + 3 * col));
      transpose4(d + 16, v128.load(s0 + 4 * col), v128.load(s0 + 5 * col), v128.load(s0 + 6 * col), v128.load(s0 + 7 * col));
    }
    for (let p = whole; p < kc; p++) {
      for (let j = 0; j < NR; j++) store<f32>(panel + (<usize>(p * NR + j) << 2), load<f32>(rowScratch + <usize>j * col + (<usize>p << 2)));
    }
  }
}

// op(A) block rows [i0, i0+mc) × depth [p0, p0+kc) → panels of MR rows: dst[(panel·kc + p)·MR + i].
function packA(a: usize, transA: bool, m: i32, k: i32, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  for (let ip = 0; ip < mc; ip += MR) {
    const rows = min(MR, mc - ip);
    const panel = dst + (<usize>(ip * kc) << 2);
    if (rows < MR) memory.fill(panel, 0, <usize>(kc * MR) << 2);
    if (transA) {
      // A stored [k × m]: the MR values of one depth are contiguous.
      for (let p = 0; p < kc; p++) {
        const src = at(a, (p0 + p) * m + i0 + ip);
        const d = panel + (<usize>(p * MR) << 2);
        if (rows == MR) {
          v128.store(d, v128.load(src));
          store<u64>(d, load<u64>(src, 16), 16);
        } else {
          for (let i = 0; i < rows; i++) store<f32>(d + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
        }
      }
    } else if (imageA != 0) {
      // A given as images [k / plane, m, plane]: row i's depths run through one image's plane, then the next's.
      for (let i = 0; i < rows; i++) {
        let img = p0 / imageA, pos = p0 - img * imageA;
        for (let p = 0; p < kc;) {
          const run = min(imageA - pos, kc - p);
          const src = at(a, (img * m + i0 + ip + i) * imageA + pos);
          for (let q = 0; q < run; q++) store<f32>(panel + (<usize>((p + q) * MR + i) << 2), load<f32>(src + (<usize>q << 2)));
          p += run;
          pos = 0;
          img++;
        }
      }
    } else {
      // A stored [m × k]: each row's depths are contiguous. Whole panels four depths at a time:
      // rows 0–3 turned by transpose4 into one vector per depth, rows 4–5 paired by shuffles.
      let start = 0;
      if (rows == MR) {
        const src = at(a, (i0 + ip) * k + p0), row = <usize>k << 2;
        const whole = kc & ~3;
        for (let p = 0; p < whole; p += 4) {
          const s0 = src + (<usize>p << 2);
          const d = panel + (<usize>(p * MR) << 2);
          const r4 = v128.load(s0 + 4 * row), r5 = v128.load(s0 + 5 * row);
          const low = v128.shuffle<f32>(r4, r5, 0, 4, 1, 5), high = v128.shuffle<f32>(r4, r5, 2, 6, 3, 7);
          transpose4(d, v128.load(s0), v128.load(s0 + row), v128.load(s0 + 2 * row), v128.load(s0 + 3 * row), MR * 4);
          v128.store64_lane(d + 16, low, 0);
          v128.store64_lane(d + 16 + MR * 4, low, 1);
          v128.store64_lane(d + 16 + 2 * MR * 4, high, 0);
          v128.store64_lane(d + 16 + 3 * MR * 4, high, 1);
        }
        start = whole;
      }
      for (let i = 0; i < rows; i++) {
        const src = at(a, (i0 + ip + i) * k + p0);
        for (let p = start; p < kc; p++) store<f32>(panel + (<usize>(p * MR + i) << 2), load<f32>(src + (<usize>p << 2)));
      }
    }
  }
}

// Columns c0..c3 (four depths each) → four rows of four at d, d + rowBytes, d + 2·rowBytes, d + 3·rowBytes (a B panel's rows by default).
@inline function transpose4(d: usize, c0: v128, c1: v128, c2: v128, c3: v128, rowBytes: usize = NR * 4): void {
  const t0 = v128.shuffle<f32>(c0, c1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(c0, c1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(c2, c3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(c2, c3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(d + rowBytes, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(d + 2 * rowBytes, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(d + 3 * rowBytes, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

// op(B) panel depth [p0, p0+kc) × columns [j0, j0+nc) → panels of NR columns: dst[(panel·kc + p)·NR + j].
function packB(b: usize, transB: bool, n: i32, k: i32, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  if (!transB) {
    // B stored [k × n]: read each row of the panel once, in order, dealing its NR-wide pieces out to the panels.
    const full = nc - nc % NR;
    for (let p = 0; p < kc; p++) {
      const src = at(b, (p0 + p) * n + j0);
      let d = dst + (<usize>(p * NR) << 2);
      const panelBytes = <usize>(kc * NR) << 2;
      for (let jp = 0; jp < full; jp += NR) {
        v128.store(d, v128.load(src + (<usize>jp << 2)));
        v128.store(d, v128.load(src + (<usize>jp << 2), 16), 16);
        d += panelBytes;
      }
      if (full < nc) {
        for (let j = 0; j < NR; j++) store<f32>(d + (<usize>j << 2), full + j < nc ? load<f32>(src + (<usize>(full + j) << 2)) : 0);
      }
    }
    return;
  }
  for (let jp = 0; jp < nc; jp += NR) {
    const cols = min(NR, nc - jp);
    const panel = dst + (<usize>(jp * kc) << 2);
    if (cols < NR) memory.fill(panel, 0, <usize>(kc * NR) << 2);
    if (transB && cols == NR) {
      // B stored [n × k]: each column of op(B) is contiguous in depth. Four depths of the NR
      // columns at a time: eight 4-float loads, transposed in registers into four panel rows.
      const src = at(b, (j0 + jp) * k + p0);
      const col = <usize>k << 2;
      const whole = kc & ~3;
      for (let p = 0; p < whole; p += 4) {
        const s0 = src + (<usize>p << 2);
        const d = panel + (<usize>(p * NR) << 2);
        transpose4(d, v128.load(s0), v128.load(s0 + col), v128.load(s0 + 2 * col), v128.load(s0 + 3 * col));
        transpose4(d + 16, v128.load(s0 + 4 * col), v128.load(s0 + 5 * col), v128.load(s0 + 6 * col), v128.load(s0 + 7 * col));
      }
      for (let p = whole; p < kc; p++) {
        for (let j = 0; j < NR; j++) store<f32>(panel + (<usize>(p * NR + j) << 2), load<f32>(src + <usize>j * col + (<usize>p << 2)));
      }
    } else if (transB) {
      for (let j = 0; j < cols; j++) {
        const src = at(b, (j0 + jp + j) * k + p0);
        for (let p = 0; p < kc; p++) store<f32>(panel + (<usize>(p * NR + j) << 2), load<f32>(src + (<usize>p << 2)));
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const src = at(b, (p0 + p) * n + j0 + jp);
        const d = panel + (<usize>(p * NR) << 2);
        if (cols == NR) {
          v128.store(d, v128.load(src));
          v128.store(d, v128.load(src, 16), 16);
        } else {
          for (let j = 0; j < cols; j++) store<f32>(d + (<usize>j << 2), load<f32>(src + (<usize>j << 2)));
        }
      }
    }
  }
}

// One MR×NR tile over depth kc. `first`: this is the first depth block, so C gets beta·C
// (and is not read at all when beta is 0: it may hold garbage); later blocks accumulate.
@inline function writeRow(dst: usize, lo: v128, hi: v128, alpha: v128, beta: f32, first: bool): void {
  if (first) {
    if (beta == 0) {
      v128.store(dst, f32x4.mul(lo, alpha));
      v128.store(dst, f32x4.mul(hi, alpha), 16);
    } else {
      const b = f32x4.splat(beta);
      v128.store(dst, madd(lo, alpha, f32x4.mul(v128.load(dst), b)));
      v128.store(dst, madd(hi, alpha, f32x4.mul(v128.load(dst, 16), b)), 16);
    }
  } else {
    v128.store(dst, madd(lo, alpha, v128.load(dst)));
    v128.store(dst, madd(hi, alpha, v128.load(dst, 16)), 16);
  }
}

// One tile of up to `height` (6, 4 or 2: a constant at each call, so the unused rows' code folds
// away) rows × NR columns over depth kc, reading the 6-row packed panel; `rows` ≤ height are kept.
// Fewer rows for the last tiles of C (m not a multiple of MR) skip the multiply-adds of zero rows.
@inline function tile(
  height: i32, ap: usize, bp: usize, kc: i32, c: usize, ldc: i32, rows: i32, cols: i32,
  alpha: f32, beta: f32, first: bool, edge: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    if (height > 2) {
      a = v128.load32_splat(ap, 8);
      c20 = madd(a, b0, c20);
      c21 = madd(a, b1, c21);
      a = v128.load32_splat(ap, 12);
      c30 = madd(a, b0, c30);
      c31 = madd(a, b1, c31);
    }
    if (height > 4) {
      a = v128.load32_splat(ap, 16);
      c40 = madd(a, b0, c40);
      c41 = madd(a, b1, c41);
      a = v128.load32_splat(ap, 20);
      c50 = madd(a, b0, c50);
      c51 = madd(a, b1, c51);
    }
    ap += 24;
    bp += 32;
  }
  const va = f32x4.splat(alpha);
  const stride = <usize>ldc << 2;
  if (rows == height && cols == NR) {
    writeRow(c, c00, c01, va, beta, first);
    writeRow(c + stride, c10, c11, va, beta, first);
    if (height > 2) {
      writeRow(c + 2 * stride, c20, c21, va, beta, first);
      writeRow(c + 3 * stride, c30, c31, va, beta, first);
    }
    if (height > 4) {
      writeRow(c + 4 * stride, c40, c41, va, beta, first);
      writeRow(c + 5 * stride, c50, c51, va, beta, first);
    }
    return;
  }
  // Partial tile at the matrix edge: spill the accumulators, then write element by element.
  v128.store(edge, c00); v128.store(edge, c01, 16);
  v128.store(edge, c10, 32); v128.store(edge, c11, 48);
  if (height > 2) {
    v128.store(edge, c20, 64); v128.store(edge, c21, 80);
    v128.store(edge, c30, 96); v128.store(edge, c31, 112);
  }
  if (height > 4) {
    v128.store(edge, c40, 128); v128.store(edge, c41, 144);
    v128.store(edge, c50, 160); v128.store(edge, c51, 176);
  }
  writeEdge(edge, c, stride, rows, cols, alpha, beta, first);
}

function microKernel(ap: usize, bp: usize, kc: i32, c: usize, ldc: i32, rows: i32, cols: i32, alpha: f32, beta: f32, first: bool, edge: usize): void {
  tile(MR, ap, bp, kc, c, ldc, rows, cols, alpha, beta, first, edge);
}
function microKernel4(ap: usize, bp: usize, kc: i32, c: usize, ldc: i32, rows: i32, cols: i32, alpha: f32, beta: f32, first: bool, edge: usize): void {
  tile(4, ap, bp, kc, c, ldc, rows, cols, alpha, beta, first, edge);
}
function microKernel2(ap: usize, bp: usize, kc: i32, c: usize, ldc: i32, rows: i32, cols: i32, alpha: f32, beta: f32, first: bool, edge: usize): void {
  tile(2, ap, bp, kc, c, ldc, rows, cols, alpha, beta, first, edge);
}

// A partial tile from its spilled accumulators (`edge`, NR floats per row), element by element.
function writeEdge(edge: usize, c: usize, stride: usize, rows: i32, cols: i32, alpha: f32, beta: f32, first: bool): void {
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const dst = c + <usize>i * stride + (<usize>j << 2);
      const v = alpha * load<f32>(edge + (<usize>(i * NR + j) << 2));
      if (!first) store<f32>(dst, load<f32>(dst) + v);
      else if (beta == 0) store<f32>(dst, v);
      else store<f32>(dst, v + beta * load<f32>(dst));
    }
  }
}

function gemmBlock(
  transA: bool, transB: bool, m: i32, n: i32, k: i32, alpha: f32, beta: f32,
  a: usize, b: usize, c: usize, i0: i32, i1: i32, j0: i32, j1: i32, scratch: usize,
): void {
  const packedA = scratch;
  const packedB = scratch + (<usize>(MC * KC) << 2);
  const edge = packedB + (<usize>(KC * NC) << 2);
  rowScratch = edge + (<usize>(MR * NR) << 2);
  if (k == 0) {
    // No depth: C = beta·C.
    for (let i = i0; i < i1; i++) {
      for (let j = j0; j < j1; j++) {
        const dst = at(c, i * n + j);
        store<f32>(dst, beta == 0 ? <f32>0 : beta * load<f32>(dst));
      }
    }
    return;
  }
  for (let jc = j0; jc < j1; jc += NC) {
    const nc = min(NC, j1 - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      if (implicitB) packImplicitB(transB, pc, kc, jc, nc, packedB);
      else packB(b, transB, n, k, pc, kc, jc, nc, packedB);
      for (let ic = i0; ic < i1; ic += MC) {
        const mc = min(MC, i1 - ic);
        packA(a, transA, m, k, ic, mc, pc, kc, packedA);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = min(NR, nc - jr);
          const bp = packedB + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = min(MR, mc - ir);
            const ap = packedA + (<usize>(ir * kc) << 2);
            const j = jc + jr;
            const cp = imagePlane == 0 ? at(c, (ic + ir) * n + j) : at(c, ((j / imagePlane) * m + ic + ir) * imagePlane + j % imagePlane);
            const ldc = imagePlane == 0 ? n : imagePlane;
            if (rows > 4) microKernel(ap, bp, kc, cp, ldc, rows, cols, alpha, beta, pc == 0, edge);
            else if (rows > 2) microKernel4(ap, bp, kc, cp, ldc, rows, cols, alpha, beta, pc == 0, edge);
            else microKernel2(ap, bp, kc, cp, ldc, rows, cols, alpha, beta, pc == 0, edge);
          }
        }
      }
    }
  }
}

/**
 * Strided batched GEMM, this thread's share. Work is split along N when it is wide enough
 * (each thread packs its own columns of B), otherwise along M; either way every element of
 * C is summed in the same order whatever the thread count, so results do not depend on it.
 */
export function gemm(
  tid: i32, nthreads: i32, transA: i32, transB: i32, m: i32, n: i32, k: i32, alpha: f32, beta: f32,
  batch: i32, a: usize, strideA: i32, b: usize, strideB: i32, c: usize, strideC: i32, scratchBase: usize, scratchStride: i32,
): void {
  const scratch = scratchBase + <usize>tid * <usize>scratchStride;
  const splitN = (n >= m && n >= nthreads * NR * 8) || m < nthreads * MR * 4;
  let i0 = 0, i1 = m, j0 = 0, j1 = n;
  if (splitN) {
    const tiles = (n + NR - 1) / NR;
    j0 = min(n, share(tiles, tid, nthreads) * NR);
    j1 = min(n, share(tiles, tid + 1, nthreads) * NR);
  } else {
    const tiles = (m + MR - 1) / MR;
    i0 = min(m, share(tiles, tid, nthreads) * MR);
    i1 = min(m, share(tiles, tid + 1, nthreads) * MR);
  }
  if (i0 >= i1 || j0 >= j1) return;
  for (let bi = 0; bi < batch; bi++) {
    gemmBlock(transA != 0, transB != 0, m, n, k, alpha, beta, at(a, bi * strideA), at(b, bi * strideB), at(c, bi * strideC), i0, i1, j0, j1, scratch);
  }
}

/**
 * GEMM whose B is im2col(x) for geometry (n, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW), made
 * while packing instead of stored: C = alpha·A·B + beta·C with A [m × k] and B = cols [k × n]
 * (k = c·kh·kw rows, n = batch·outH·outW columns), or with transB, B = colsᵀ (cols [n × k]:
 * n = c·kh·kw, k = batch·outH·outW): a convolution's forward and its weight gradient. With
 * `imagesOut` (forward only, outH·outW a multiple of NR) C is written as images [batch, m, outH·outW];
 * with `imagesIn` (weight gradient only) A is read as images [batch, m, outH·outW] (dy as it lies).
 */
export function convGemm(
  tid: i32, nthreads: i32, transB: i32, m: i32, n: i32, k: i32, alpha: f32, beta: f32, a: usize, x: usize,
  gn: i32, gc: i32, gh: i32, gw: i32, gkh: i32, gkw: i32, gsh: i32, gsw: i32, gph: i32, gpw: i32, gOh: i32, gOw: i32,
  c: usize, imagesOut: i32, imagesIn: i32, scratchBase: usize, scratchStride: i32,
): void {
  implicitB = true;
  imagePlane = imagesOut != 0 && transB == 0 && (gOh * gOw) % NR == 0 ? gOh * gOw : 0;
  imageA = imagesIn != 0 && transB != 0 ? gOh * gOw : 0;
  setColumnsGeometry(x, gc, gh, gw, gkh, gkw, gsh, gsw, gph, gpw, gOh, gOw);
  gemm(tid, nthreads, 0, transB, m, n, k, alpha, beta, 1, a, 0, 0, 0, c, 0, scratchBase, scratchStride);
  implicitB = false;
  imagePlane = 0;
  imageA = 0;
}
