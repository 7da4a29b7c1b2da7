// The four phases of a kernel-4, stride-2 layer, shared by Winograd's two forms (winograd.ts,
// winograd4.ts): a channel's four phases (p, q) lie side by side in one vector, lane 2p + q, and
// a thread works on its channels [c0, c1) of an image in its padded planes ((h + 2) × (w + 2) each).
import { at } from './common';

/** Floats between one transformed plane's end and the next one's start: planes a multiple of 4 KiB apart put the transforms' 9 or 25 streams of stores in the same cache sets. */
export const PLANE_PAD: i32 = 16;

/** Bytes from one plane of `floats` floats to the next. */
@inline export function planeStride(floats: i32): usize {
  return <usize>(floats + PLANE_PAD) << 2;
}

/** The host's copy of PLANE_PAD, for the products' strides and the planes' memory. */
export function winogradPlanePad(): i32 {
  return PLANE_PAD;
}

/** The four phases (p, q) of padded position (y0 + p, x0 + q): two pairs from two rows. */
@inline export function phases(row: usize, below: usize): v128 {
  return v128.load64_lane(below, v128.load64_zero(row), 1);
}

/** Adds the four phases of `value` at padded positions (y0 + p, x0 + q). */
@inline export function addPhases(row: usize, below: usize, value: v128): void {
  const sum = f32x4.add(phases(row, below), value);
  v128.store64_lane(row, sum, 0);
  v128.store64_lane(below, sum, 1);
}

/** A kernel's 16 taps from its four phase vectors w_αβ: kernel row 2α + p holds (β, q) = (0, 0), (0, 1), (1, 0), (1, 1). */
@inline export function storeTaps(dst: usize, w00: v128, w01: v128, w10: v128, w11: v128): void {
  v128.store(dst, v128.shuffle<f32>(w00, w01, 0, 1, 4, 5));
  v128.store(dst, v128.shuffle<f32>(w00, w01, 2, 3, 6, 7), 16);
  v128.store(dst, v128.shuffle<f32>(w10, w11, 0, 1, 4, 5), 32);
  v128.store(dst, v128.shuffle<f32>(w10, w11, 2, 3, 6, 7), 48);
}

/** Image `img`'s channels [c0, c1) (of c, h × w each) into the inside of their padded planes at `pad`. */
@inline export function padChannels(x: usize, img: i32, c: i32, c0: i32, c1: i32, h: i32, w: i32, pad: usize): void {
  const pw = w + 2, plane = (h + 2) * pw;
  for (let ch = c0; ch < c1; ch++) {
    const src = at(x, (img * c + ch) * h * w), dst = at(pad, ch * plane);
    for (let y = 0; y < h; y++) memory.copy(at(dst, (y + 1) * pw + 1), at(src, y * w), <usize>w << 2);
  }
}

/** The inverse: the inside of the padded planes of channels [c0, c1) out to image `img`. */
@inline export function unpadChannels(pad: usize, img: i32, c: i32, c0: i32, c1: i32, h: i32, w: i32, x: usize): void {
  const pw = w + 2, plane = (h + 2) * pw;
  for (let ch = c0; ch < c1; ch++) {
    const dst = at(x, (img * c + ch) * h * w), src = at(pad, ch * plane);
    for (let y = 0; y < h; y++) memory.copy(at(dst, y * w), at(src, (y + 1) * pw + 1), <usize>w << 2);
  }
}
