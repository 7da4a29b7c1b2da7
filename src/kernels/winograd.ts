/**
 * Winograd F(2×2, 2×2) over the image's phases (native/src/winograd.c explains it; the wasm
 * backend's transforms are in wasm/assembly/winograd.ts): which layers it takes, and how many
 * images go through at a time. Shared by the backends that have it.
 */
import type { ConvGeometry } from './backend.js';

/** The transformed tiles of one chunk of images stay within this many bytes (as in winograd.c). */
export const WINOGRAD_CHUNK_BYTES = 16 * 2 ** 20;

/** Kernel 4, stride 2, padding 1, the image twice the column side, and that side even (whole 2×2 tiles). */
export function winogradApplies(g: ConvGeometry): boolean {
  return g.kh === 4 && g.kw === 4 && g.strideH === 2 && g.strideW === 2 && g.padH === 1 && g.padW === 1 &&
    g.h === 2 * g.outH && g.w === 2 * g.outW && g.outH % 2 === 0 && g.outW % 2 === 0 && g.n > 0;
}

/** Tiles (2×2 outputs) per image. */
export function winogradTilesPerImage(g: ConvGeometry): number {
  return (g.outH / 2) * (g.outW / 2);
}

/** Images per chunk: the 9 transformed planes of the image side (4c phase channels) and the column side (k) within the budget. */
export function winogradImagesPerChunk(g: ConvGeometry, k: number): number {
  const perImage = 9 * winogradTilesPerImage(g) * (4 * g.c + k) * 4;
  return Math.max(1, Math.min(g.n, Math.floor(WINOGRAD_CHUNK_BYTES / perImage)));
}
