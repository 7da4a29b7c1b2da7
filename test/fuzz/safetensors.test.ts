/** Fuzzing decodeSafetensors (checkpoints and PyTorch exports) and the file reader beside it: see harness.ts. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensorsFile } from '../../src/io/safetensors-file.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type SafetensorsFile } from '../../src/io/safetensors.js';
import { fuzzTest, type FuzzRandom, type Mutator } from './harness.js';

/** Safetensors bytes from a header object and the data bytes (any dtype, offsets as given). */
function rawSafetensors(header: unknown, data: Uint8Array, declaredLength?: bigint): Uint8Array {
  let json = JSON.stringify(header);
  while (new TextEncoder().encode(json).length % 8 !== 0) json += ' ';
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(head.length), true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
  return out;
}

function headerOf(bytes: Uint8Array): { header: Record<string, unknown>; n: number } | null {
  if (bytes.length < 8) return null;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  if (n > bytes.length - 8) return null;
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as unknown;
    return header !== null && typeof header === 'object' && !Array.isArray(header) ? { header: header as Record<string, unknown>, n } : null;
  } catch {
    return null;
  }
}

const data = new Float32Array([1, -2, 3.5, 0, 1e-3, 7, 8, 9]);
const seeds: Uint8Array[] = [
  encodeSafetensors({ 'netG.main.0.weight': { shape: [2, 2], data: data.subarray(0, 4) }, 'netG.main.1.bias': { shape: [4], data: data.subarray(4) } }, { step: '3', config: '{"nz":4}' }),
  encodeSafetensors({ count: { shape: [], data: new Float32Array([5]), dtype: 'I64' }, empty: { shape: [0, 3], data: new Float32Array(0) }, w: { shape: [1, 2, 1, 1], data: new Float32Array([0.5, -0.5]) } }),
  rawSafetensors(
    {
      __metadata__: { format: 'pt' },
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
      d: { dtype: 'F64', shape: [1], data_offsets: [8, 16] },
      i: { dtype: 'I32', shape: [1], data_offsets: [16, 20] },
      s: { dtype: 'I16', shape: [1], data_offsets: [20, 22] },
      c: { dtype: 'I8', shape: [1], data_offsets: [22, 23] },
      u: { dtype: 'U8', shape: [1], data_offsets: [23, 24] },
      t: { dtype: 'BOOL', shape: [2, 1], data_offsets: [24, 26] },
    },
    new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0x40, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 7, 0, 0, 0, 0xff, 0xff, 0x80, 200, 1, 0]),
  ),
  encodeSafetensors({}, { only: 'metadata' }),
  // Mostly data, so that many mutations leave a valid file.
  encodeSafetensors({ big: { shape: [16, 16], data: new Float32Array(256).map((_, i) => Math.sin(i)) } }),
];

const nasty: unknown[] = [0, -1, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, 1e300, -0, '4', null, true, [], {}, Number.MAX_SAFE_INTEGER];

/** Rewrites one thing in the JSON header (offsets, shapes, dtypes, names, entries) and re-encodes. */
const headerMutator: Mutator = (bytes: Uint8Array, rng: FuzzRandom) => {
  const parsed = headerOf(bytes);
  if (parsed === null) return bytes;
  const { header, n } = parsed;
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const body = bytes.subarray(8 + n);
  const picked = names.length > 0 ? header[rng.pick(names)] : null;
  const entry = picked !== null && typeof picked === 'object' && !Array.isArray(picked) ? (picked as Record<string, unknown>) : null;
  const op = rng.int(12);
  if (entry !== null && op === 0) {
    const offsets = Array.isArray(entry['data_offsets']) ? [...(entry['data_offsets'] as unknown[])] : [0, 0];
    offsets[rng.int(2)] = rng.pick(nasty);
    entry['data_offsets'] = rng.next() < 0.2 ? [offsets[0]] : offsets;
  } else if (entry !== null && op === 1) {
    const shape = Array.isArray(entry['shape']) ? [...(entry['shape'] as unknown[])] : [];
    if (shape.length > 0 && rng.next() < 0.7) shape[rng.int(shape.length)] = rng.pick(nasty);
    else shape.push(rng.pick(nasty));
    entry['shape'] = shape;
  } else if (entry !== null && op === 2) {
    entry['dtype'] = rng.pick(['F32', 'F64', 'F16', 'BF16', 'I64', 'U64', 'F8_E4M3', 'f32', '', 'toString', '__proto__', 7, null]);
  } else if (op === 3 && names.length > 0) {
    // Rename an entry to something awkward.
    const from = rng.pick(names);
    const to = rng.pick(['__proto__', 'constructor', 'a\nb', 'x'.repeat(5000), '', 'netG.__proto__', '\u0000', '𝔁']);
    header[to] = header[from];
    delete header[from];
  } else if (op === 4 && names.length > 0) {
    header[`${rng.pick(names)}.copy`] = structuredClone(header[rng.pick(names)]);
  } else if (op === 5 && names.length > 0) {
    delete header[rng.pick(names)];
  } else if (op === 6) {
    // Reorder the entries.
    const entries = Object.entries(header);
    entries.reverse();
    return rawSafetensors(Object.fromEntries(entries), body);
  } else if (op === 7) {
    header['__metadata__'] = rng.pick([{ k: 5 }, [], 'text', null, { nested: { a: 'b' } }, { ['x'.repeat(3000)]: 'y' }]);
  } else if (op === 8 && entry !== null) {
    entry['shape'] = new Array(1 + rng.int(3000)).fill(1);
  } else if (op === 9) {
    return rawSafetensors(rng.pick([[], 'x', 5, null, [1, 2]]), body);
  } else if (op === 10 && entry !== null) {
    header[rng.pick(names)] = rng.pick(nasty);
  } else {
    // A header length that disagrees with the JSON.
    return rawSafetensors(header, body, rng.pick([0n, 1n, 7n, BigInt(n) + 8n, 0xffffffffn, 0xffffffffffffffffn, 1n << 53n]));
  }
  return rawSafetensors(header, body);
};

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

fuzzTest<SafetensorsFile>({
  name: 'safetensors',
  seeds,
  parse: (bytes) => decodeSafetensors(bytes, 'fuzz.safetensors'),
  allowedErrors: [SafetensorsError],
  check: (file, input) => {
    const parsed = headerOf(input);
    assert.ok(parsed !== null, 'a file that parsed has a JSON object header');
    for (const [name, t] of file.tensors) {
      assert.equal(t.data.length, numel(t.shape), `${name}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
      assert.ok(Object.hasOwn(parsed.header, name), `${name} is in the header`);
    }
    for (const v of Object.values(file.metadata)) assert.equal(typeof v, 'string');
  },
  fields: () => [{ offset: 0, size: 8, littleEndian: true }],
  sections: (seed) => {
    const parsed = headerOf(seed);
    if (parsed === null) return [];
    const out: Array<[number, number]> = [[8, 8 + parsed.n]];
    for (const v of Object.values(parsed.header)) {
      const offsets = (v as { data_offsets?: [number, number] }).data_offsets;
      if (offsets && offsets[1] > offsets[0]) out.push([8 + parsed.n + offsets[0], 8 + parsed.n + offsets[1]]);
    }
    return out;
  },
  mutators: [headerMutator, headerMutator, headerMutator],
  iterations: 1000,
});

// The streaming file reader against decodeSafetensors on the same mutated bytes: both accept
// with the same tensors and metadata, or both reject with the same message.
const scratch = join(mkdtempSync(join(tmpdir(), 'dcgan-fuzz-')), 'fuzz.safetensors');
fuzzTest<SafetensorsFile>({
  name: 'safetensors file reader (same verdict as decodeSafetensors)',
  seeds,
  parse: (bytes) => {
    writeFileSync(scratch, bytes);
    let expected: SafetensorsFile | Error;
    try {
      expected = decodeSafetensors(bytes, 'fuzz.safetensors');
    } catch (error) {
      expected = error as Error;
    }
    let got: SafetensorsFile;
    try {
      got = readSafetensorsFile(scratch, 'fuzz.safetensors');
    } catch (error) {
      if (!(expected instanceof Error)) throw new Error(`the file reader rejected what decodeSafetensors accepts: ${(error as Error).message}`, { cause: error });
      assert.equal((error as Error).message, expected.message);
      throw error;
    }
    if (expected instanceof Error) throw new Error(`the file reader accepted what decodeSafetensors rejects (${expected.message})`);
    assert.deepEqual(got, expected);
    return got;
  },
  allowedErrors: [SafetensorsError],
  check: () => {},
  fields: () => [{ offset: 0, size: 8, littleEndian: true }],
  mutators: [headerMutator],
  iterations: 300,
});
