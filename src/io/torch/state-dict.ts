/**
 * PyTorch state dicts in and out: `torch.save(model.state_dict(), f)` files in the zip format
 * (PyTorch ≥ 1.6) and the legacy format, read with the restricted unpickler; written in the
 * zip format with a protocol-2 pickle, loadable by `torch.load(f, weights_only=True)`.
 *
 * Zip layout: `<name>/data.pkl` (the pickle; storages are persistent ids
 * ('storage', torch.FloatStorage, '<key>', 'cpu', numel)), `<name>/data/<key>` (raw
 * little-endian storage bytes), `<name>/version`, and in newer releases `<name>/byteorder`,
 * `<name>/.format_version`, `<name>/.storage_alignment`, `<name>/.data/serialization_id`.
 *
 * Legacy layout: five pickles and raw storages in a row — the magic number
 * 0x1950a86a20f9469cfc6c, the protocol version 1001, sys_info, the object (persistent ids
 * ('storage', type, key, location, numel, view_metadata)), the list of storage keys, then for
 * each key an int64 element count and the storage's bytes.
 */
import type { SafetensorsDtype, SafetensorsTensor, TensorToWrite } from '../safetensors.js';
import { decodeToFloat32, littleEndian } from '../dtypes.js';
import { torchFail, TorchFormatError } from './errors.js';
import { describe, PickleWriter, PyDict, PyGlobal, PyObject, PyTuple, unpickle, type PyValue } from './pickle.js';
import { looksLikeZip, readZip, writeZip } from './zip.js';

/** A tensor read from a .pth file: its dtype there, its shape, and its values as float32 (row-major). */
export type TorchTensor = SafetensorsTensor;

const STORAGES: Record<string, { dtype: SafetensorsDtype; bytes: number }> = {
  FloatStorage: { dtype: 'F32', bytes: 4 },
  DoubleStorage: { dtype: 'F64', bytes: 8 },
  HalfStorage: { dtype: 'F16', bytes: 2 },
  BFloat16Storage: { dtype: 'BF16', bytes: 2 },
  LongStorage: { dtype: 'I64', bytes: 8 },
  IntStorage: { dtype: 'I32', bytes: 4 },
  ShortStorage: { dtype: 'I16', bytes: 2 },
  CharStorage: { dtype: 'I8', bytes: 1 },
  ByteStorage: { dtype: 'U8', bytes: 1 },
  BoolStorage: { dtype: 'BOOL', bytes: 1 },
};

const ALLOWED_CALLABLES = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter', 'torch.Size']);
const MAX_DIMS = 32;
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

class StorageRef extends PyObject {
  data: Float32Array | null = null;
  constructor(readonly type: string, readonly dtype: SafetensorsDtype, readonly elementBytes: number, readonly key: string, readonly numel: number) {
    super();
  }
}

class TensorRef extends PyObject {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly size: number[], readonly stride: number[]) {
    super();
  }
}

function checkGlobal(source: string, module: string, name: string): PyGlobal {
  const qualified = `${module}.${name}`;
  if (ALLOWED_CALLABLES.has(qualified) || (module === 'torch' && Object.hasOwn(STORAGES, name))) return new PyGlobal(module, name);
  return torchFail(
    source,
    `refusing the pickle global ${qualified.length > 80 ? `${qualified.slice(0, 80)}…` : qualified}: a state dict needs only collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.Size and torch storage classes (nothing in a .pth is ever executed)`,
  );
}

function intArg(source: string, what: string, v: PyValue, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) torchFail(source, `${what} is ${describe(v)}, not an integer from 0 to ${max}`);
  return v;
}

function intTuple(source: string, what: string, v: PyValue): number[] {
  if (!(v instanceof PyTuple)) return torchFail(source, `${what} is a ${describe(v)}, not a tuple`);
  if (v.items.length > MAX_DIMS) torchFail(source, `${what} has ${v.items.length} dimensions (at most ${MAX_DIMS})`);
  return v.items.map((x, i) => intArg(source, `${what}[${i}]`, x, 2 ** 40));
}

function reducer(source: string) {
  return (callable: PyGlobal, args: PyValue[]): PyValue => {
    switch (callable.qualified) {
      case 'collections.OrderedDict':
        if (args.length !== 0) torchFail(source, 'collections.OrderedDict is called with arguments (a state dict pickles it empty)');
        return new PyDict();
      case 'torch.Size':
        if (args.length !== 1 || !(args[0] instanceof PyTuple)) torchFail(source, 'torch.Size is called without one tuple');
        return args[0]!;
      case 'torch._utils._rebuild_parameter':
        if (args.length !== 3 || !(args[0] instanceof TensorRef)) torchFail(source, 'torch._utils._rebuild_parameter is called without (tensor, requires_grad, hooks)');
        return args[0]!;
      case 'torch._utils._rebuild_tensor_v2': {
        if (args.length !== 6 && args.length !== 7) torchFail(source, `torch._utils._rebuild_tensor_v2 is called with ${args.length} arguments (expected 6 or 7)`);
        const [storage, offset, size, stride] = args;
        if (!(storage instanceof StorageRef)) return torchFail(source, `torch._utils._rebuild_tensor_v2 gets a ${describe(storage!)} where a storage belongs`);
        const sizes = intTuple(source, 'a tensor size', size!);
        const strides = intTuple(source, 'a tensor stride', stride!);
        if (sizes.length !== strides.length) torchFail(source, `a tensor has size (${sizes.join(', ')}) but stride (${strides.join(', ')})`);
        return new TensorRef(storage, intArg(source, 'a storage offset', offset!), sizes, strides);
      }
      default:
        return torchFail(source, `refusing to call ${callable.qualified}: it is allowed as a name but not as a function (REDUCE)`);
    }
  };
}

/** persistent_load for both formats: ('storage', torch.XStorage, key, location, numel[, view_metadata]). */
function storageLoader(source: string, storages: Map<string, StorageRef>) {
  return (pid: PyValue): PyValue => {
    if (!(pid instanceof PyTuple) || (pid.items.length !== 5 && pid.items.length !== 6) || pid.items[0] !== 'storage') {
      return torchFail(source, `a persistent id is ${describe(pid)}, not ('storage', type, key, location, numel)`);
    }
    const [, type, key, , numel, view] = pid.items;
    if (!(type instanceof PyGlobal) || type.module !== 'torch' || !Object.hasOwn(STORAGES, type.name)) {
      return torchFail(source, `a storage has type ${describe(type!)}, not a torch storage class`);
    }
    if (typeof key !== 'string' || key.length > 64) return torchFail(source, `a storage key is ${describe(key!)}, not a short string`);
    if (view !== undefined && view !== null) torchFail(source, `storage '${key}' is a view of another storage (pre-1.0 format), which is not supported`);
    const count = intArg(source, `the size of storage '${key}'`, numel!);
    const known = storages.get(key);
    if (known !== undefined) {
      if (known.type !== type.name || known.numel !== count) torchFail(source, `storage '${key}' is described twice, differently`);
      return known;
    }
    const info = STORAGES[type.name]!;
    const ref = new StorageRef(type.name, info.dtype, info.bytes, key, count);
    storages.set(key, ref);
    return ref;
  };
}


/** The top-level dict of a state dict (or of `{'state_dict': …}`), entries in file order. */
function stateDictEntries(source: string, root: PyValue): Array<[string, TensorRef]> {
  if (!(root instanceof PyDict)) return torchFail(source, `the pickled object is a ${describe(root)}, not a state dict`);
  let dict = root;
  const nested = root.entries.get('state_dict');
  if (nested instanceof PyDict && ![...root.entries.values()].some((v) => v instanceof TensorRef)) dict = nested;
  const out: Array<[string, TensorRef]> = [];
  for (const [k, v] of dict.entries) {
    if (k === '_metadata') continue;
    if (typeof k !== 'string') torchFail(source, `the state dict has a key ${describe(k)}, not a string`);
    if (!(v instanceof TensorRef)) {
      const found = [...dict.entries.keys()].slice(0, 5).map((x) => describe(x)).join(', ');
      torchFail(source, `'${k}' is a ${describe(v)}, not a tensor: this is not a state dict of tensors (keys: ${found}${dict.entries.size > 5 ? ', …' : ''})`);
    }
    out.push([k, v]);
  }
  return out;
}

/** Gathers each tensor from its storage (strides, offsets, shared storages), bounds-checked. */
function materialize(source: string, entries: Array<[string, TensorRef]>, limit: number, storageBytes: (s: StorageRef) => Uint8Array): Map<string, TorchTensor> {
  let total = 0;
  const plans = entries.map(([name, t]) => {
    let numel = 1;
    let last = t.offset;
    for (let d = 0; d < t.size.length; d++) {
      numel *= t.size[d]!;
      if (numel > limit) torchFail(source, `tensor '${name}' has an absurd shape (${t.size.join(', ')}) for a file of this size`);
    }
    if (numel > 0) {
      for (let d = 0; d < t.size.length; d++) last += (t.size[d]! - 1) * t.stride[d]!;
      if (last >= t.storage.numel) {
        torchFail(source, `tensor '${name}' (size (${t.size.join(', ')}), stride (${t.stride.join(', ')}), offset ${t.offset}) reaches element ${last} of storage '${t.storage.key}', which holds ${t.storage.numel}`);
      }
    }
    total += numel;
    if (total > limit) torchFail(source, `its tensors hold more values in all (${total}) than a file of this size can carry`);
    return { name, t, numel };
  });
  const out = new Map<string, TorchTensor>();
  for (const { name, t, numel } of plans) {
    const s = t.storage;
    if (s.data === null) {
      const bytes = storageBytes(s);
      if (bytes.length !== s.numel * s.elementBytes) {
        torchFail(source, `storage '${s.key}' has ${bytes.length} bytes but ${s.numel} ${s.type} elements need ${s.numel * s.elementBytes}`);
      }
      s.data = decodeToFloat32(s.dtype, bytes, s.numel);
    }
    const src = s.data;
    let data: Float32Array;
    const contiguous = isContiguous(t.size, t.stride);
    if (contiguous) data = src.slice(t.offset, t.offset + numel);
    else {
      data = new Float32Array(numel);
      const nd = t.size.length;
      const index = new Array<number>(nd).fill(0);
      let at = t.offset;
      for (let i = 0; i < numel; i++) {
        data[i] = src[at]!;
        for (let d = nd - 1; d >= 0; d--) {
          if (++index[d]! < t.size[d]!) {
            at += t.stride[d]!;
            break;
          }
          at -= (t.size[d]! - 1) * t.stride[d]!;
          index[d] = 0;
        }
      }
    }
    if (out.has(name)) torchFail(source, `'${name}' appears twice`);
    out.set(name, { dtype: s.dtype, shape: [...t.size], data });
  }
  return out;
}

function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false;
    expected *= size[d]!;
  }
  return true;
}

/** Removes the `module.` prefix that DataParallel / DistributedDataParallel add, when every key has it. */
function stripModulePrefix(source: string, tensors: Map<string, TorchTensor>): Map<string, TorchTensor> {
  if (tensors.size === 0 || ![...tensors.keys()].every((k) => k.startsWith('module.'))) return tensors;
  const out = new Map<string, TorchTensor>();
  for (const [k, v] of tensors) {
    const stripped = k.slice('module.'.length);
    if (out.has(stripped)) torchFail(source, `'${stripped}' appears twice once the module. prefix is removed`);
    out.set(stripped, v);
  }
  return out;
}

function textRecord(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes).trim();
}

function loadZip(bytes: Uint8Array, source: string, limit: number): Map<string, TorchTensor> {
  const entries = readZip(bytes, source);
  const pkl = entries.find((e) => /^[^/]+\/data\.pkl$/.test(e.name)) ?? entries.find((e) => e.name.endsWith('data.pkl'));
  if (pkl === undefined) {
    return torchFail(source, `it is a zip archive without a data.pkl record (found ${entries.slice(0, 4).map((e) => e.name).join(', ') || 'no entries'}): not a torch.save file`);
  }
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
  const records = new Map<string, Uint8Array>();
  for (const e of entries) if (e.name.startsWith(prefix)) records.set(e.name.slice(prefix.length), e.data);
  const version = records.get('version') ?? records.get('.data/version');
  if (version !== undefined) {
    const v = textRecord(version);
    if (!/^\d{1,3}$/.test(v) || Number(v) < 1) torchFail(source, `its version record is '${v.slice(0, 20)}', not a format version`);
  }
  const byteorder = records.get('byteorder');
  if (byteorder !== undefined) {
    const order = textRecord(byteorder);
    if (order !== 'little') torchFail(source, `its byteorder record is '${order.slice(0, 20)}' (only little-endian files are supported)`);
  }
  const storages = new Map<string, StorageRef>();
  const { value, end } = unpickle(pkl.data, 0, {
    source,
    global: (m, n) => checkGlobal(source, m, n),
    reduce: reducer(source),
    persistentLoad: storageLoader(source, storages),
  });
  if (end !== pkl.data.length) torchFail(source, `data.pkl has ${pkl.data.length - end} bytes after its STOP opcode`);
  const tensors = stateDictEntries(source, value);
  return materialize(source, tensors, limit, (s) => {
    const data = records.get(`data/${s.key}`);
    if (data === undefined) return torchFail(source, `storage '${s.key}' has no data/${s.key} record`);
    return data;
  });
}

function loadLegacy(bytes: Uint8Array, source: string, limit: number): Map<string, TorchTensor> {
  const plain = { source, global: (m: string, n: string) => checkGlobal(source, m, n), reduce: reducer(source) };
  let magic: PyValue;
  let p: number;
  try {
    ({ value: magic, end: p } = unpickle(bytes, 0, plain));
  } catch (error) {
    if (error instanceof TorchFormatError) torchFail(source, 'neither a zip archive nor a legacy torch.save file (no magic number at the start)');
    throw error;
  }
  if (magic !== LEGACY_MAGIC) torchFail(source, `it starts with a pickle of ${describe(magic)}, not torch.save's magic number: not a .pth file`);
  const protocol = unpickle(bytes, p, plain);
  if (protocol.value !== LEGACY_PROTOCOL) torchFail(source, `legacy protocol version ${describe(protocol.value)} is not supported (expected ${LEGACY_PROTOCOL})`);
  const sysInfo = unpickle(bytes, protocol.end, plain);
  if (sysInfo.value instanceof PyDict && sysInfo.value.entries.get('little_endian') === false) torchFail(source, 'it was written on a big-endian machine, which is not supported');
  const storages = new Map<string, StorageRef>();
  const object = unpickle(bytes, sysInfo.end, { ...plain, persistentLoad: storageLoader(source, storages) });
  const keys = unpickle(bytes, object.end, plain);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) torchFail(source, 'the list of storage keys after the object is not a list of strings');
  const raw = new Map<string, Uint8Array>();
  p = keys.end;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys.value as string[]) {
    const s = storages.get(key);
    if (s === undefined) torchFail(source, `storage '${key}' is listed but never used`);
    if (raw.has(key)) torchFail(source, `storage '${key}' is listed twice`);
    if (p + 8 > bytes.length) torchFail(source, `it ends before storage '${key}' (truncated?)`);
    const count = view.getBigInt64(p, true);
    if (count !== BigInt(s.numel)) torchFail(source, `storage '${key}' holds ${count} elements where the pickle says ${s.numel}`);
    const n = s.numel * s.elementBytes;
    if (p + 8 + n > bytes.length) torchFail(source, `storage '${key}' needs ${n} bytes but the file ends after ${bytes.length - p - 8} (truncated?)`);
    raw.set(key, bytes.subarray(p + 8, p + 8 + n));
    p += 8 + n;
  }
  if (p !== bytes.length) torchFail(source, `${bytes.length - p} bytes follow the last storage`);
  const tensors = stateDictEntries(source, object.value);
  return materialize(source, tensors, limit, (s) => raw.get(s.key) ?? torchFail(source, `storage '${s.key}' is used but not in the file`));
}

/**
 * Reads a PyTorch state dict (`torch.save(model.state_dict(), f)`, zip or legacy format) into
 * float32 tensors by name, in file order. `module.` prefixes (DataParallel, DDP) are removed
 * and `_metadata` ignored; float16/bfloat16/float64/integer storages are converted to float32
 * (`dtype` keeps the file's). `source` names the file in errors. Throws TorchFormatError for
 * anything malformed, hostile or unsupported — nothing in the file is ever executed.
 */
export function loadTorchStateDict(bytes: Uint8Array, source = 'the input'): Map<string, TorchTensor> {
  // A file cannot describe more values than it has bytes, except through views of shared
  // storages; allow those generously but never a huge allocation from a small file.
  const limit = 4 * bytes.length + (1 << 20);
  const tensors = looksLikeZip(bytes) ? loadZip(bytes, source, limit) : loadLegacy(bytes, source, limit);
  return stripModulePrefix(source, tensors);
}

/**
 * Writes a state dict as torch.save does (zip, 64-byte aligned stored entries, protocol-2
 * pickle of an OrderedDict of tensors): F32 tensors as FloatStorage, I64 (num_batches_tracked)
 * as LongStorage, one storage per tensor, contiguous.
 */
export function saveTorchStateDict(entries: Iterable<[string, TensorToWrite]>, archiveName = 'archive'): Uint8Array {
  const list = [...entries];
  const w = new PickleWriter();
  w.global('collections', 'OrderedDict');
  w.op(0x29).op(0x52); // EMPTY_TUPLE REDUCE
  w.put();
  const records: Array<{ name: string; data: Uint8Array }> = [];
  const storages: Uint8Array[] = [];
  const seen = new Set<string>();
  for (let start = 0; start < list.length; start += 1000) {
    w.mark();
    for (const [name, t] of list.slice(start, start + 1000)) {
      if (seen.has(name)) throw new TypeError(`saveTorchStateDict: duplicate name '${name}'`);
      seen.add(name);
      const dtype = t.dtype ?? 'F32';
      const numel = t.shape.reduce((a, b) => a * b, 1);
      if (numel !== t.data.length) throw new RangeError(`saveTorchStateDict: '${name}' has ${t.data.length} values but shape [${t.shape.join(', ')}]`);
      const key = String(storages.length);
      storages.push(encodeStorage(name, dtype, t.data));
      const strides = new Array<number>(t.shape.length);
      let s = 1;
      for (let d = t.shape.length - 1; d >= 0; d--) {
        strides[d] = s;
        s *= t.shape[d]!;
      }
      w.string(name);
      w.global('torch._utils', '_rebuild_tensor_v2');
      w.mark();
      w.mark();
      w.string('storage');
      w.global('torch', dtype === 'F32' ? 'FloatStorage' : 'LongStorage');
      w.string(key);
      w.string('cpu');
      w.int(numel);
      w.op(0x74).put(); // TUPLE
      w.op(0x51); // BINPERSID
      w.int(0);
      w.intTuple(t.shape);
      w.intTuple(strides);
      w.op(0x89); // requires_grad False
      w.global('collections', 'OrderedDict');
      w.op(0x29).op(0x52).put(); // backward hooks: OrderedDict()
      w.op(0x74).put(); // TUPLE of the arguments
      w.op(0x52).put(); // REDUCE
    }
    w.op(0x75); // SETITEMS
  }
  records.push({ name: `${archiveName}/data.pkl`, data: w.bytes() });
  records.push({ name: `${archiveName}/byteorder`, data: new TextEncoder().encode('little') });
  storages.forEach((data, i) => records.push({ name: `${archiveName}/data/${i}`, data }));
  records.push({ name: `${archiveName}/version`, data: new TextEncoder().encode('3\n') });
  return writeZip(records);
}

function encodeStorage(name: string, dtype: string, data: Float32Array): Uint8Array {
  if (dtype === 'F32') {
    const out = new Uint8Array(data.length * 4);
    if (littleEndian) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    else {
      const v = new DataView(out.buffer);
      for (let i = 0; i < data.length; i++) v.setFloat32(4 * i, data[i]!, true);
    }
    return out;
  }
  if (dtype !== 'I64') throw new TypeError(`saveTorchStateDict: cannot write dtype ${dtype}`);
  const out = new Uint8Array(data.length * 8);
  const v = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (!Number.isInteger(x)) throw new RangeError(`saveTorchStateDict: '${name}' is written as I64 but holds the non-integer ${x}`);
    v.setBigInt64(8 * i, BigInt(x), true);
  }
  return out;
}
