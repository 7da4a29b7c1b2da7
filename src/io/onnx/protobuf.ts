/**
 * The part of the protocol buffers wire format that ONNX files need, written by hand: varints,
 * length-delimited fields (strings, bytes, nested messages, packed repeated numbers) and
 * fixed32 floats. Field order follows the calls; a reader accepts any order.
 *
 * Wire types: 0 varint (int32, int64, enums, booleans), 2 length-delimited, 5 fixed32 (float).
 * Negative int64/int32 values are 10-byte two's-complement varints, as protobuf encodes them.
 */

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const TEXT = new TextEncoder();

/** Appends protobuf fields to a growing byte buffer; `finish()` returns the message's bytes. */
export class ProtoWriter {
  private buffer = new Uint8Array(256);
  private length = 0;
  private view = new DataView(this.buffer.buffer);

  private reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  /** A raw varint (no tag): any safe integer; negatives as 64-bit two's complement. */
  varint(value: number): this {
    if (!Number.isSafeInteger(value)) throw new RangeError(`protobuf: varint must be a safe integer, got ${value}`);
    this.reserve(10);
    if (value < 0) {
      let v = BigInt.asUintN(64, BigInt(value));
      while (v >= 0x80n) {
        this.buffer[this.length++] = Number(v & 0x7fn) | 0x80;
        v >>= 7n;
      }
      this.buffer[this.length++] = Number(v);
      return this;
    }
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buffer[this.length++] = v;
    return this;
  }

  private tag(field: number, wireType: number): this {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) throw new RangeError(`protobuf: bad field number ${field}`);
    return this.varint(field * 8 + wireType);
  }

  private raw(bytes: Uint8Array): this {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  /** An int32/int64/enum/bool field (varint). */
  int(field: number, value: number): this {
    return this.tag(field, WIRE_VARINT).varint(value);
  }

  /** A float field (fixed32, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    this.reserve(4);
    this.view.setFloat32(this.length, value, true);
    this.length += 4;
    return this;
  }

  /** A bytes field, or a nested message given as its encoded bytes. */
  bytes(field: number, value: Uint8Array): this {
    return this.tag(field, WIRE_LENGTH_DELIMITED).varint(value.length).raw(value);
  }

  /** A string field (UTF-8). */
  string(field: number, value: string): this {
    return this.bytes(field, TEXT.encode(value));
  }

  /** A nested message written by `write` into a fresh writer. */
  message(field: number, write: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    write(inner);
    return this.bytes(field, inner.finish());
  }

  /** A packed repeated float field: the values as little-endian float32, one length prefix. */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const n = values.length;
    this.tag(field, WIRE_LENGTH_DELIMITED).varint(n * 4);
    this.reserve(n * 4);
    if (values instanceof Float32Array) {
      // Little-endian hosts (all that run Node and browsers in practice) copy the bytes as they are.
      const bytes = new Uint8Array(values.buffer, values.byteOffset, n * 4);
      if (LITTLE_ENDIAN) {
        this.buffer.set(bytes, this.length);
        this.length += n * 4;
        return this;
      }
    }
    for (let i = 0; i < n; i++) {
      this.view.setFloat32(this.length, values[i]!, true);
      this.length += 4;
    }
    return this;
  }

  /** A packed repeated int32/int64 field: the varints, one length prefix. */
  packedInts(field: number, values: readonly number[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  /** The bytes written so far (a copy, sized exactly). */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
