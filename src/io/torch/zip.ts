/**
 * The subset of zip that torch.save writes and reads: a reader for stored and deflated
 * entries found through the central directory (sizes, offsets, names and CRC-32 validated),
 * and a writer of stored entries whose data start on 64-byte boundaries (padding in an 'FB'
 * extra field of the local header, as PyTorch's writer pads).
 *
 * PyTorch always appends a zip64 end-of-central-directory record and locator; we accept them
 * when the classic record holds the real values, and refuse archives that need zip64 (over
 * 4 GiB or 65535 entries).
 */
import { inflateRawSync } from 'node:zlib';
import { crc32 } from './crc32.js';
import { torchFail } from './errors.js';

export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
/** Deflate cannot compress better than about 1032:1. */
const MAX_DEFLATE_RATIO = 1032;
/** Largest entry we inflate or copy (2 GiB − 1: a Uint8Array and a sane checkpoint). */
const MAX_ENTRY = 0x7fffffff;

/** True when the bytes start like a zip archive (a local file header). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** Reads every entry of a zip archive, in central-directory order. Throws TorchFormatError. */
export function readZip(bytes: Uint8Array, source: string): ZipEntry[] {
  const fail: (problem: string) => never = (problem) => torchFail(source, `not a readable zip archive: ${problem}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  if (n < 22) fail(`${n} bytes is too short for an end-of-central-directory record (truncated?)`);
  let eocd = -1;
  for (let at = n - 22; at >= Math.max(0, n - 22 - 0xffff); at--) {
    if (view.getUint32(at, true) === SIG_EOCD && at + 22 + view.getUint16(at + 20, true) === n) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) fail('no end-of-central-directory record (truncated, or not a zip file)');
  const disk = view.getUint16(eocd + 4, true);
  const cdDisk = view.getUint16(eocd + 6, true);
  const entriesHere = view.getUint16(eocd + 8, true);
  const entries = view.getUint16(eocd + 10, true);
  const cdSize = view.getUint32(eocd + 12, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    fail('it needs zip64 (over 4 GiB or 65535 entries), which this reader does not support');
  }
  if (disk !== 0 || cdDisk !== 0 || entriesHere !== entries) fail('multi-disk archives are not supported');
  let cdLimit = eocd;
  if (eocd >= 20 && view.getUint32(eocd - 20, true) === SIG_ZIP64_LOCATOR) cdLimit = eocd - 20;
  if (cdOffset + cdSize > cdLimit) fail(`the central directory (offset ${cdOffset}, ${cdSize} bytes) runs past its end record at ${cdLimit} (truncated?)`);
  if (entries * 46 > cdSize) fail(`${entries} entries cannot fit in a central directory of ${cdSize} bytes`);

  const out: ZipEntry[] = [];
  const names = new Set<string>();
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const pending: Array<{ name: string; what: string; method: number; crc: number; compressed: number; size: number; dataStart: number; dataEnd: number }> = [];
  let p = cdOffset;
  const cdEnd = cdOffset + cdSize;
  for (let i = 0; i < entries; i++) {
    if (p + 46 > cdEnd || view.getUint32(p, true) !== SIG_CENTRAL) fail(`central directory entry ${i} is missing or damaged (offset ${p})`);
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    const compressed = view.getUint32(p + 20, true);
    const size = view.getUint32(p + 24, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    const localOffset = view.getUint32(p + 42, true);
    const next = p + 46 + nameLength + extraLength + commentLength;
    if (next > cdEnd) fail(`central directory entry ${i} runs past the directory`);
    let name: string;
    try {
      name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLength));
    } catch {
      fail(`central directory entry ${i} has a name that is not UTF-8`);
    }
    const what = `entry '${name}'`;
    if (names.has(name)) fail(`${what} appears twice`);
    names.add(name);
    if (flags & 1) fail(`${what} is encrypted`);
    if (compressed === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) fail(`${what} needs zip64, which this reader does not support`);
    if (method !== 0 && method !== 8) fail(`${what} uses compression method ${method} (only stored and deflated are supported)`);
    if (localOffset + 30 > cdOffset || view.getUint32(localOffset, true) !== SIG_LOCAL) fail(`${what} has no local header at offset ${localOffset}`);
    const localNameLength = view.getUint16(localOffset + 26, true);
    const localExtraLength = view.getUint16(localOffset + 28, true);
    const dataStart = localOffset + 30 + localNameLength + localExtraLength;
    if (localNameLength !== nameLength || dataStart > cdOffset) fail(`${what} has a local header that disagrees with the central directory`);
    for (let k = 0; k < nameLength; k++) {
      if (bytes[localOffset + 30 + k] !== bytes[p + 46 + k]) fail(`${what} has a different name in its local header`);
    }
    const dataEnd = dataStart + compressed;
    if (dataEnd > cdOffset) fail(`${what} claims ${compressed} bytes at offset ${dataStart}, past the end of the data (truncated, or its size lies)`);
    pending.push({ name, what, method, crc, compressed, size, dataStart, dataEnd });
    p = next;
  }
  // Entries may not share bytes: a lying size or offset would let one region inflate many times.
  const sorted = [...pending].sort((a, b) => a.dataStart - b.dataStart);
  for (let k = 1; k < sorted.length; k++) {
    const a = sorted[k - 1]!;
    const b = sorted[k]!;
    if (b.dataStart < a.dataEnd) fail(`${b.what} overlaps entry '${a.name}' (an offset or size lies)`);
  }
  let declared = 0;
  for (const e of pending) declared += e.size;
  if (declared > MAX_ENTRY) fail(`its entries claim ${declared} bytes in all, more than this reader accepts (2 GiB)`);
  for (const { name, what, method, crc, compressed, size, dataStart, dataEnd } of pending) {
    const raw = bytes.subarray(dataStart, dataEnd);
    let data: Uint8Array;
    if (method === 0) {
      if (compressed !== size) fail(`${what} is stored but its sizes differ (${compressed} and ${size})`);
      data = raw;
    } else {
      if (size > MAX_ENTRY || size > compressed * MAX_DEFLATE_RATIO + 64) fail(`${what} claims to inflate ${compressed} bytes to ${size}, which is impossible or too large`);
      try {
        data = new Uint8Array(inflateRawSync(raw, { maxOutputLength: Math.max(1, size) }));
      } catch {
        fail(`${what} does not inflate to its declared ${size} bytes (damaged, or its size lies)`);
      }
      if (data.length !== size) fail(`${what} inflates to ${data.length} bytes, not its declared ${size}`);
    }
    const actual = crc32(data);
    if (actual !== crc) fail(`${what} fails its CRC-32 check (stored ${hex(crc)}, computed ${hex(actual)}): the file is damaged`);
    out.push({ name, data });
  }
  return out;
}

function hex(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}

/** DOS date 1980-01-01, time 00:00. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const ALIGN = 64;

/** Writes stored entries, each one's data on a 64-byte boundary; names must be ASCII. */
export function writeZip(entries: readonly ZipEntry[]): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Array<{ name: Uint8Array; data: Uint8Array; crc: number; offset: number; pad: number }> = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = encoder.encode(name);
    if (nameBytes.length > 0xffff) throw new RangeError(`writeZip: entry name too long: ${name.slice(0, 40)}…`);
    if (data.length > 0xfffffffe || offset > 0xfffffffe) throw new RangeError('writeZip: archives over 4 GiB need zip64, which this writer does not write');
    const headerEnd = offset + 30 + nameBytes.length;
    let pad = (ALIGN - ((headerEnd + 4) % ALIGN)) % ALIGN;
    pad += 4; // the extra field's own id and length
    parts.push({ name: nameBytes, data, crc: crc32(data), offset, pad });
    offset = headerEnd + pad + data.length;
  }
  const cdOffset = offset;
  let cdSize = 0;
  for (const p of parts) cdSize += 46 + p.name.length;
  if (parts.length > 0xfffe || cdOffset + cdSize > 0xfffffffe) throw new RangeError('writeZip: archive needs zip64, which this writer does not write');
  const out = new Uint8Array(cdOffset + cdSize + 22);
  const view = new DataView(out.buffer);
  for (const p of parts) {
    let at = p.offset;
    view.setUint32(at, SIG_LOCAL, true);
    view.setUint16(at + 4, 20, true); // version needed: 2.0
    view.setUint16(at + 6, 0, true); // flags
    view.setUint16(at + 8, 0, true); // stored
    view.setUint16(at + 10, 0, true);
    view.setUint16(at + 12, DOS_DATE, true);
    view.setUint32(at + 14, p.crc, true);
    view.setUint32(at + 18, p.data.length, true);
    view.setUint32(at + 22, p.data.length, true);
    view.setUint16(at + 26, p.name.length, true);
    view.setUint16(at + 28, p.pad, true);
    out.set(p.name, at + 30);
    at += 30 + p.name.length;
    view.setUint16(at, 0x4246, true); // 'FB'
    view.setUint16(at + 2, p.pad - 4, true);
    out.fill(0x5a, at + 4, at + p.pad); // 'Z'
    at += p.pad;
    out.set(p.data, at);
  }
  let at = cdOffset;
  for (const p of parts) {
    view.setUint32(at, SIG_CENTRAL, true);
    view.setUint16(at + 4, 20, true); // made by
    view.setUint16(at + 6, 20, true); // needed
    view.setUint16(at + 8, 0, true);
    view.setUint16(at + 10, 0, true);
    view.setUint16(at + 12, 0, true);
    view.setUint16(at + 14, DOS_DATE, true);
    view.setUint32(at + 16, p.crc, true);
    view.setUint32(at + 20, p.data.length, true);
    view.setUint32(at + 24, p.data.length, true);
    view.setUint16(at + 28, p.name.length, true);
    // extra, comment, disk, internal/external attributes: 0
    view.setUint32(at + 42, p.offset, true);
    out.set(p.name, at + 46);
    at += 46 + p.name.length;
  }
  view.setUint32(at, SIG_EOCD, true);
  view.setUint16(at + 8, parts.length, true);
  view.setUint16(at + 10, parts.length, true);
  view.setUint32(at + 12, cdSize, true);
  view.setUint32(at + 16, cdOffset, true);
  return out;
}
