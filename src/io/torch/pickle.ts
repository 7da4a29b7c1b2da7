/**
 * A restricted unpickler and a small pickle writer (protocol 2, the protocol torch.save uses).
 *
 * The unpickler is a stack machine over the opcodes that state dicts use (and the few
 * protocol-4 framing opcodes newer writers may emit). It never calls anything: GLOBAL /
 * STACK_GLOBAL may only name what the caller allows, REDUCE may only apply a callable the
 * caller implements, and BINPERSID is resolved by the caller (storages). Every length, memo
 * index and stack access is checked, so a hostile pickle ends in a TorchFormatError, and the
 * work is linear in its length.
 */
import { torchFail } from './errors.js';

/** A Python tuple. */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

export type PyKey = string | number | bigint | boolean | null;

/** A dict or OrderedDict; keys are restricted to str/int/bool/None. */
export class PyDict {
  readonly entries = new Map<PyKey, PyValue>();
}

/** A reference to an allowed global (module.name). */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Objects that a caller's persistent_load or REDUCE hook builds (storages, tensors). */
export abstract class PyObject {}

export type PyValue = PyKey | Uint8Array | PyValue[] | PyTuple | PyDict | PyGlobal | PyObject;

export interface UnpickleHooks {
  /** Names the file in errors. */
  source: string;
  /** Accepts or refuses (by throwing) a global named by GLOBAL / STACK_GLOBAL. */
  global(module: string, name: string): PyGlobal;
  /** Applies an allowed callable to its arguments (REDUCE); throws for what it does not implement. */
  reduce(callable: PyGlobal, args: PyValue[]): PyValue;
  /** Resolves a persistent id (BINPERSID); absent: persistent ids are refused. */
  persistentLoad?(pid: PyValue): PyValue;
}

/** A short description of a value for error messages. */
export function describe(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'string') return v.length > 40 ? `'${v.slice(0, 40)}…'` : `'${v}'`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (Array.isArray(v)) return `list(${v.length})`;
  if (v instanceof PyTuple) return `tuple(${v.items.length})`;
  if (v instanceof PyDict) return `dict(${v.entries.size})`;
  if (v instanceof PyGlobal) return v.qualified;
  return v.constructor.name;
}

const MAX_PROTOCOL = 5;

const OPCODE_NAMES: Record<number, string> = {
  0x69: 'INST', 0x6f: 'OBJ', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x50: 'PERSID', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x63: 'GLOBAL', 0x52: 'REDUCE', 0x62: 'BUILD',
};

/**
 * Unpickles one pickle starting at `start`; returns the value and the offset after STOP.
 * Throws TorchFormatError (via the hooks' source) for anything malformed or not allowed.
 */
export function unpickle(bytes: Uint8Array, start: number, hooks: UnpickleHooks): { value: PyValue; end: number } {
  const { source } = hooks;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail: (problem: string) => never = (problem) => torchFail(source, `bad pickle: ${problem}`);
  let stack: PyValue[] = [];
  const marks: PyValue[][] = [];
  const memo = new Map<number, PyValue>();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let p = start;
  let at = start;

  const need = (n: number): number => {
    if (n < 0 || p + n > bytes.length) fail(`it ends inside the opcode at offset ${at} (truncated?)`);
    const q = p;
    p += n;
    return q;
  };
  const u8 = (): number => bytes[need(1)]!;
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const i32 = (): number => view.getInt32(need(4), true);
  const pop = (): PyValue => {
    if (stack.length === 0) fail(`stack underflow at offset ${at}`);
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0) fail(`stack underflow at offset ${at}`);
    return stack[stack.length - 1] as PyValue;
  };
  const popMark = (): PyValue[] => {
    const items = stack;
    const previous = marks.pop();
    if (previous === undefined) fail(`no MARK before the opcode at offset ${at}`);
    stack = previous;
    return items;
  };
  const text = (n: number): string => {
    const q = need(n);
    try {
      return utf8.decode(bytes.subarray(q, q + n));
    } catch {
      fail(`a string at offset ${q} is not valid UTF-8`);
    }
  };
  const latin1 = (n: number): string => {
    const q = need(n);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(bytes[q + i]!);
    return s;
  };
  const line = (): string => {
    const q = p;
    const limit = Math.min(bytes.length, q + 512);
    let e = q;
    while (e < limit && bytes[e] !== 0x0a) e++;
    if (e >= limit) fail(`GLOBAL at offset ${at} has no end of line within 512 bytes`);
    p = e + 1;
    return latin1Slice(q, e);
  };
  const latin1Slice = (q: number, e: number): string => {
    let s = '';
    for (let i = q; i < e; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  };
  const memoGet = (index: number): PyValue => {
    if (!memo.has(index)) fail(`memo index ${index} at offset ${at} is out of range (nothing was stored there)`);
    return memo.get(index) as PyValue;
  };
  const memoPut = (index: number): void => {
    memo.set(index, top());
  };
  const key = (k: PyValue): PyKey => {
    if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k;
    return fail(`a dict key at offset ${at} is a ${describe(k)}, not a string or number`);
  };
  const setItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof PyDict)) fail(`SETITEM(S) at offset ${at} on a ${describe(target)}, not a dict`);
    if (items.length % 2 !== 0) fail(`SETITEMS at offset ${at} has an odd number of items`);
    for (let i = 0; i < items.length; i += 2) target.entries.set(key(items[i]!), items[i + 1]!);
  };
  const append = (target: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(target)) fail(`APPEND(S) at offset ${at} on a ${describe(target)}, not a list`);
    for (const item of items) target.push(item);
  };
  const littleInt = (n: number): number | bigint => {
    if (n > 16) fail(`an integer of ${n} bytes at offset ${at} is too large for a state dict`);
    const q = need(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[q + i]!);
    if (n > 0 && bytes[q + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    at = p;
    if (p >= bytes.length) fail(`it ends at offset ${p} without a STOP opcode (truncated?)`);
    const op = bytes[p++]!;
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > MAX_PROTOCOL) fail(`protocol ${v} is not supported`);
        break;
      }
      case 0x95: // FRAME (protocol 4): a length hint only
        need(8);
        break;
      case 0x2e: // STOP
        if (marks.length > 0) fail(`STOP at offset ${at} inside an open MARK`);
        if (stack.length !== 1) fail(`STOP at offset ${at} with ${stack.length} values on the stack (expected 1)`);
        return { value: stack[0]!, end: p };
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x74: { // TUPLE
        const items = popMark();
        stack.push(new PyTuple(items));
        break;
      }
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x6c: { // LIST
        stack.push(popMark());
        break;
      }
      case 0x64: { // DICT
        const items = popMark();
        const d = new PyDict();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(littleInt(u8()));
        break;
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail(`LONG4 at offset ${at} has a negative length`);
        stack.push(littleInt(n));
        break;
      }
      case 0x47: // BINFLOAT
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: { // BINUNICODE8
        const n = view.getBigUint64(need(8), true);
        if (n > BigInt(bytes.length)) fail(`a string at offset ${at} claims ${n} bytes, more than the file holds`);
        stack.push(text(Number(n)));
        break;
      }
      case 0x54: { // BINSTRING
        const n = i32();
        if (n < 0) fail(`BINSTRING at offset ${at} has a negative length`);
        stack.push(latin1(n));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(u8()));
        break;
      case 0x42: { // BINBYTES
        const n = u32();
        const q = need(n);
        stack.push(bytes.slice(q, q + n));
        break;
      }
      case 0x43: { // SHORT_BINBYTES
        const n = u8();
        const q = need(n);
        stack.push(bytes.slice(q, q + n));
        break;
      }
      case 0x71: // BINPUT
        memoPut(u8());
        break;
      case 0x72: // LONG_BINPUT
        memoPut(u32());
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(hooks.global(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail(`STACK_GLOBAL at offset ${at} without two strings`);
        stack.push(hooks.global(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        if (!(callable instanceof PyGlobal)) fail(`REDUCE at offset ${at} calls a ${describe(callable)}, which is not an allowed callable`);
        if (!(args instanceof PyTuple)) fail(`REDUCE at offset ${at} has arguments that are a ${describe(args)}, not a tuple`);
        stack.push(hooks.reduce(callable, args.items));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const target = top();
        // OrderedDict instance attributes (state dicts carry `_metadata` there): ignored.
        if (!(target instanceof PyDict) || !(state instanceof PyDict || state === null)) {
          fail(`BUILD at offset ${at} on a ${describe(target)} is not allowed`);
        }
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (hooks.persistentLoad === undefined) fail(`a persistent id at offset ${at} where none is expected`);
        stack.push(hooks.persistentLoad(pid));
        break;
      }
      case 0x30: // POP
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      default: {
        const name = OPCODE_NAMES[op];
        const printable = op >= 0x20 && op < 0x7f ? ` '${String.fromCharCode(op)}'` : '';
        fail(`opcode 0x${op.toString(16).padStart(2, '0')}${printable}${name ? ` (${name})` : ''} at offset ${at} is not allowed in a state dict`);
      }
    }
  }
}

/** Builds protocol-2 pickles the way Python's pickler writes them (memoizing strings and globals). */
export class PickleWriter {
  private readonly chunks: number[] = [];
  private readonly memo = new Map<string, number>();

  constructor() {
    this.chunks.push(0x80, 2);
  }

  private u32(v: number): void {
    this.chunks.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }

  /** BINPUT / LONG_BINPUT the value on top, remembering it under `key`. */
  put(key?: string): this {
    const index = this.memo.size;
    if (key !== undefined) this.memo.set(key, index);
    else this.memo.set(`\u0000anon${index}`, index);
    if (index < 256) this.chunks.push(0x71, index);
    else {
      this.chunks.push(0x72);
      this.u32(index);
    }
    return this;
  }

  /** BINGET / LONG_BINGET of a memoized value; false when `key` was never put. */
  get(key: string): boolean {
    const index = this.memo.get(key);
    if (index === undefined) return false;
    if (index < 256) this.chunks.push(0x68, index);
    else {
      this.chunks.push(0x6a);
      this.u32(index);
    }
    return true;
  }

  op(code: number): this {
    this.chunks.push(code);
    return this;
  }

  mark(): this {
    return this.op(0x28);
  }

  global(module: string, name: string): this {
    const key = `\u0000global ${module}.${name}`;
    if (this.get(key)) return this;
    this.op(0x63);
    for (const c of `${module}\n${name}\n`) this.chunks.push(c.charCodeAt(0) & 0xff);
    this.put(key);
    return this;
  }

  string(s: string): this {
    const key = `\u0000str ${s}`;
    if (this.get(key)) return this;
    const b = new TextEncoder().encode(s);
    this.op(0x58);
    this.u32(b.length);
    for (const x of b) this.chunks.push(x);
    this.put(key);
    return this;
  }

  int(v: number): this {
    if (!Number.isSafeInteger(v)) throw new RangeError(`PickleWriter: ${v} is not a safe integer`);
    if (v >= 0 && v < 256) this.chunks.push(0x4b, v);
    else if (v >= 0 && v < 65536) this.chunks.push(0x4d, v & 0xff, v >>> 8);
    else if (v >= -0x80000000 && v <= 0x7fffffff) {
      this.op(0x4a);
      this.u32(v >>> 0);
    } else {
      // LONG1: little-endian two's complement, as short as Python writes it.
      let big = BigInt(v);
      const out: number[] = [];
      for (;;) {
        out.push(Number(big & 0xffn));
        big >>= 8n;
        const sign = out[out.length - 1]! & 0x80;
        if ((big === 0n && !sign) || (big === -1n && sign)) break;
      }
      this.chunks.push(0x8a, out.length, ...out);
    }
    return this;
  }

  /** A tuple of small integers (sizes, strides), with the short tuple opcodes where they apply. */
  intTuple(values: readonly number[]): this {
    if (values.length === 0) return this.op(0x29);
    if (values.length > 3) this.mark();
    for (const v of values) this.int(v);
    this.op(values.length === 1 ? 0x85 : values.length === 2 ? 0x86 : values.length === 3 ? 0x87 : 0x74);
    this.put();
    return this;
  }

  bytes(): Uint8Array {
    return Uint8Array.from([...this.chunks, 0x2e]);
  }
}
