/**
 * Winograd F(2×2, 2×2) and F(4×4, 2×2) over the image's phases (native/src/winograd.c explains
 * them; the wasm backend's transforms are in wasm/assembly/winograd.ts and winograd4.ts): which
 * layers they take, and how many images go through at a time. Shared by the backends that have them.
 * `side` is the output tile's side: 2 for F(2×2, 2×2), 4 for F(4×4, 2×2).
 */
import type { ConvGeometry } from './backend.js';

/** Output tile sides of the two forms. */
export type WinogradSide = 2 | 4;

/** The transformed tiles of one chunk of images stay within this many bytes (as in winograd.c). */
export const WINOGRAD_CHUNK_BYTES = 16 * 2 ** 20;

/** Points of a transformed tile: (side + 1)², 9 or 25. */
export function winogradPoints(side: WinogradSide): number {
  return (side + 1) * (side + 1);
}

/** Kernel 4, stride 2, padding 1, the image twice the column side, and that side a multiple of the tile's (whole tiles). */
export function winogradApplies(g: ConvGeometry, side: WinogradSide = 2): boolean {
  return g.kh === 4 && g.kw === 4 && g.strideH === 2 && g.strideW === 2 && g.padH === 1 && g.padW === 1 &&
    g.h === 2 * g.outH && g.w === 2 * g.outW && g.outH % side === 0 && g.outW % side === 0 && g.n > 0;
}

/** Tiles (side × side outputs) per image. */
export function winogradTilesPerImage(g: ConvGeometry, side: WinogradSide = 2): number {
  return (g.outH / side) * (g.outW / side);
}

/**
 * Images per chunk: the transformed planes of the image side (4c phase channels) and the column
 * side (k) within the budget, in as few chunks as that allows, all of one size but the last, which
 * is fewer than one image per chunk short of it (a much shorter last chunk ran its products at a worse
 * rate). Native's winograd.c keeps the largest chunk: equal ones made no difference there.
 */
export function winogradImagesPerChunk(g: ConvGeometry, k: number, side: WinogradSide = 2): number {
  const perImage = winogradPoints(side) * winogradTilesPerImage(g, side) * (4 * g.c + k) * 4;
  const most = Math.max(1, Math.min(g.n, Math.floor(WINOGRAD_CHUNK_BYTES / perImage)));
  return Math.ceil(g.n / Math.ceil(g.n / most));
}
