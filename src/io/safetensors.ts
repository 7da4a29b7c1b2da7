/**
 * The safetensors format (huggingface/safetensors): 8 bytes of little-endian header length n,
 * n bytes of JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {…}}`
 * padded with spaces to a multiple of 8, then the raw little-endian tensor bytes, packed
 * contiguously in the order of their offsets.
 *
 * Our tensors are float32, so every dtype is read into a Float32Array (integers exactly up to
 * 2^24, which covers PyTorch's `num_batches_tracked`, stored as I64). Writing supports F32 and
 * I64 (the latter for those counters, so PyTorch reads them back with its own dtype).
 */

import type { SizedChunks } from './atomic.js';
import { decodeToFloat32, DTYPE_BYTES, littleEndian, type TensorDtype } from './dtypes.js';

export type SafetensorsDtype = TensorDtype;
export type WritableDtype = 'F32' | 'I64';


/** A tensor as read from or written to a safetensors file. */
export interface SafetensorsTensor {
  /** The dtype in the file (on read) or to write (default 'F32'). */
  dtype: SafetensorsDtype;
  shape: number[];
  /** Values as float32, row-major. */
  data: Float32Array;
}

export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array;
  dtype?: WritableDtype;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** A malformed or unsupported safetensors file; the message names the file and the problem. */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

/** Largest header we accept (the reference implementation's limit is 100 MB). */
const MAX_HEADER = 100_000_000;


function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

interface PlannedTensor {
  name: string;
  t: TensorToWrite;
  dtype: WritableDtype;
}

/** Validates the tensors and lays out the header; the data follows in list order. */
function plan(tensors: Iterable<[string, TensorToWrite]> | Record<string, TensorToWrite>, metadata: Record<string, string>): { header: Uint8Array; list: PlannedTensor[]; dataBytes: number } {
  const entries = Symbol.iterator in tensors ? [...(tensors as Iterable<[string, TensorToWrite]>)] : Object.entries(tensors);
  const header = new Map<string, unknown>();
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`encodeSafetensors: metadata '${k}' must be a string`);
    }
    header.set('__metadata__', metadata);
  }
  let offset = 0;
  const list: PlannedTensor[] = [];
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new TypeError("encodeSafetensors: '__metadata__' is reserved");
    if (header.has(name)) throw new TypeError(`encodeSafetensors: duplicate tensor name '${name}'`);
    const dtype = t.dtype ?? 'F32';
    if (dtype !== 'F32' && dtype !== 'I64') throw new TypeError(`encodeSafetensors: cannot write dtype ${String(dtype)}`);
    if (numel(t.shape) !== t.data.length) {
      throw new RangeError(`encodeSafetensors: '${name}' has ${t.data.length} values but shape [${t.shape.join(', ')}]`);
    }
    const bytes = t.data.length * DTYPE_BYTES[dtype];
    header.set(name, { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] });
    list.push({ name, t, dtype });
    offset += bytes;
  }
  // JSON.stringify of a Map-built object: names such as __proto__ stay ordinary keys.
  const json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(header)));
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return { header: head, list, dataBytes: offset };
}

/** One tensor's bytes as the file stores them (little-endian F32, or I64 from integer values). */
function tensorBytes({ name, t, dtype }: PlannedTensor): Uint8Array {
  if (dtype === 'F32' && littleEndian) return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(t.data.length * DTYPE_BYTES[dtype]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i]!;
    if (dtype === 'F32') view.setFloat32(4 * i, v, true);
    else {
      if (!Number.isInteger(v)) throw new RangeError(`encodeSafetensors: '${name}' is written as I64 but holds the non-integer ${v}`);
      view.setBigInt64(8 * i, BigInt(v), true);
    }
  }
  return out;
}

/**
 * Safetensors bytes as a sequence of chunks — the header, then each tensor's data — so a
 * file of any size can be written without one array holding all of it. Validates first.
 */
export function safetensorsChunks(tensors: Iterable<[string, TensorToWrite]> | Record<string, TensorToWrite>, metadata: Record<string, string> = {}): SizedChunks {
  const { header, list, dataBytes } = plan(tensors, metadata);
  return {
    byteLength: header.length + dataBytes,
    *[Symbol.iterator]() {
      yield header;
      for (const entry of list) yield tensorBytes(entry);
    },
  };
}

/** Serialises tensors (in the given order) and string metadata to safetensors bytes. */
export function encodeSafetensors(tensors: Iterable<[string, TensorToWrite]> | Record<string, TensorToWrite>, metadata: Record<string, string> = {}): Uint8Array {
  const { header, list, dataBytes } = plan(tensors, metadata);
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header);
  let at = header.length;
  for (const entry of list) {
    const bytes = tensorBytes(entry);
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/** Text as it may appear in a one-line message: control characters escaped, at most `max` characters. */
function oneLine(text: string, max: number): string {
  const escaped = JSON.stringify(text).slice(1, -1);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

/** A value from the file in a message: its JSON, shortened. */
function show(value: unknown, max = 60): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** A tensor name in a message: quoted, escaped, shortened. */
function named(name: string): string {
  return `'${oneLine(name, 80)}'`;
}

function shapeText(shape: readonly number[]): string {
  const text = shape.join(', ');
  return `[${text.length > 60 ? `${text.slice(0, 60)}… (${shape.length} dimensions)` : text}]`;
}

function fail(source: string, problem: string): never {
  throw new SafetensorsError(`${source} is not a valid safetensors file: ${problem}`);
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}


/** One tensor's place in a safetensors file: byte offsets relative to the data section. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** A safetensors file's header, checked against the file's length: where each tensor lies. */
export interface SafetensorsLayout {
  metadata: Record<string, string>;
  entries: SafetensorsEntry[];
  /** The file offset of the data section (8 + the header's length). */
  dataStart: number;
}

/**
 * The header length in a file's first 8 bytes, checked against the file's length
 * (`fileLength`) and the largest header we accept.
 */
export function safetensorsHeaderLength(first8: Uint8Array, fileLength: number, source = 'the input'): number {
  if (fileLength < 8 || first8.length < 8) fail(source, `it is ${fileLength} bytes long, shorter than the 8-byte header length`);
  const headerLength = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER, fileLength - 8))) {
    fail(source, `the header claims ${headerLength} bytes but the file holds ${fileLength - 8} after the length (truncated or not safetensors)`);
  }
  return Number(headerLength);
}

/**
 * Parses and validates a safetensors header (the JSON bytes after the length) for a file of
 * `fileLength` bytes: every entry's dtype, shape and offsets (in bounds, sized for the shape,
 * contiguous and non-overlapping, covering the data exactly).
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileLength: number, source = 'the input'): SafetensorsLayout {
  const n = headerBytes.length;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (error) {
    fail(source, `the header is not valid JSON (${oneLine(error instanceof Error ? error.message : String(error), 120)})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail(source, 'the header is not a JSON object');
  const dataStart = 8 + n;
  const dataLength = fileLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(source, '__metadata__ is not a map of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(source, `__metadata__ entry ${named(k)} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (value === null || typeof value !== 'object') fail(source, `entry ${named(name)} is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) fail(source, `tensor ${named(name)} has unsupported dtype ${show(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) fail(source, `tensor ${named(name)} has an invalid shape ${show(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
      fail(source, `tensor ${named(name)} has invalid data_offsets ${show(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(source, `tensor ${named(name)} has data_offsets [${begin}, ${end}] that end before they begin`);
    if (end > dataLength) fail(source, `tensor ${named(name)} has data_offsets [${begin}, ${end}] beyond the ${dataLength} data bytes (truncated?)`);
    const expected = numel(shape as number[]) * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      fail(source, `tensor ${named(name)} (${dtype} ${shapeText(shape as number[])}) needs ${expected} bytes but its data_offsets span ${end - begin}`);
    }
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin < cursor) fail(source, `tensor ${named(e.name)} overlaps the tensor before it (data_offsets [${e.begin}, ${e.end}])`);
    if (e.begin > cursor) fail(source, `there is a gap of ${e.begin - cursor} bytes before tensor ${named(e.name)} (data must be contiguous)`);
    cursor = e.end;
  }
  if (cursor !== dataLength) fail(source, `${dataLength - cursor} bytes follow the last tensor (data must end where the tensors end)`);
  return { metadata, entries, dataStart };
}

/**
 * Parses and validates safetensors bytes (see parseSafetensorsHeader). `source` names the file
 * in error messages. Files too large to hold twice in memory are better read with
 * readSafetensorsFile (Node), which reads tensor by tensor.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'the input'): SafetensorsFile {
  const n = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.length, source);
  const { metadata, entries, dataStart } = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length, source);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: decodeToFloat32(e.dtype, bytes.subarray(dataStart + e.begin, dataStart + e.end), numel(e.shape)),
    });
  }
  return { tensors, metadata };
}
