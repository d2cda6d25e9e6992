/**
 * One tar header block (ustar, GNU and pax), decoded. Shared by the two ways we
 * read tars: seeking from header to header in a file (tarIndex.ts) and scanning
 * a decompressed stream (tarStream.ts). Pure: bytes in, members out. Names
 * and link targets are decoded as a folder layer's are (byteNames.ts): one that
 * is not valid UTF-8 keeps its bytes, and shows and reads the same way.
 */
import { decodeName } from '../byteNames';
import { LayerError } from '../errors';

export const BLOCK = 512;

/** The most data a pax or GNU long-name header may have (as Go's archive/tar): a crafted size cannot make us gather gigabytes. */
export const MAX_EXTENDED = 1024 * 1024;

/** The largest time a Date holds (±8.64e15 ms): later ones are not times. */
const MAX_TIME_MS = 8.64e15;

/** What a member is, from its typeflag. `hardlink` names another member (`linkname`). */
export type MemberKind = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo' | 'unknown';

export interface TarMember {
  /** The name as stored (after pax `path` / GNU long names), not normalised. */
  readonly name: string;
  readonly kind: MemberKind;
  /** Permission bits (and set-id / sticky bits) from the header. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Bytes of data that follow the header (as the header says; 0 for links, folders and devices in practice). */
  readonly size: number;
  readonly mtimeMs: number;
  /** Symlink target or hard link's member name. */
  readonly linkname: string;
  /** Offset of the member's data from the start of the tar. */
  readonly dataOffset: number;
  /** The tar ends inside this member's data: `size` is the bytes there are. */
  readonly cut?: true;
}

/** Offset of the next header after a member whose data is `size` bytes at `dataOffset`. */
export function nextHeader(dataOffset: number, size: number): number {
  return dataOffset + Math.ceil(size / BLOCK) * BLOCK;
}

const KINDS: Record<string, MemberKind> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** What one 512-byte block was. */
export type HeaderBlock =
  | { readonly type: 'end' }
  /** A pax or GNU long-name header: its `size` bytes of data must be passed to `extended()` next. */
  | { readonly type: 'extended'; readonly size: number }
  | { readonly type: 'member'; readonly member: TarMember };

/** Overrides an extended header gives the next member. */
interface Overrides {
  path?: string;
  linkpath?: string;
  size?: number;
  mtimeMs?: number;
  uid?: number;
  gid?: number;
}

const NONE: Overrides = Object.freeze({});

/**
 * Decodes the headers of one tar in order. Stateful: pax (`x`, `g`) and GNU
 * (`L`, `K`) headers change the member that follows them.
 */
export class TarHeaderDecoder {
  private next: Overrides = NONE;
  private global: Overrides = NONE;
  private pendingType = '';

  /** Decodes the block at offset `at` of the tar. Throws `corrupt` on a bad checksum or an extended header over MAX_EXTENDED. */
  decode(block: Uint8Array, at: number): HeaderBlock {
    if (isZero(block)) return { type: 'end' };
    if (!checksumOk(block)) {
      throw new LayerError('corrupt', `the tar header at byte ${at} is damaged (checksum mismatch)`);
    }
    const flag = String.fromCharCode(block[156]);
    const size = readNumber(block, 124, 12);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_EXTENDED) {
        const name = JSON.stringify(text(block, 0, 100));
        throw new LayerError('corrupt', `the extended header ${name} at byte ${at} claims ${size} bytes: more than the ${MAX_EXTENDED} allowed`);
      }
      this.pendingType = flag;
      return { type: 'extended', size };
    }
    // Most tars have no extended headers: no merged object per member then.
    const o = this.next === NONE ? this.global : { ...this.global, ...this.next };
    this.next = NONE;
    const magic = latin(block, 257, 6);
    const prefix = magic === 'ustar' ? text(block, 345, 155) : '';
    const base = text(block, 0, 100);
    const name = o.path ?? (prefix ? `${prefix}/${base}` : base);
    const kind = KINDS[flag] ?? (name.endsWith('/') && flag === '\0' ? 'dir' : 'unknown');
    const dataSize = o.size ?? size;
    const member: TarMember = {
      name,
      kind: kind === 'file' && name.endsWith('/') ? 'dir' : kind,
      mode: readNumber(block, 100, 8) & 0o7777,
      uid: o.uid ?? readNumber(block, 108, 8),
      gid: o.gid ?? readNumber(block, 116, 8),
      size: dataSize,
      mtimeMs: o.mtimeMs ?? timeMs(readNumber(block, 136, 12)) ?? 0,
      linkname: o.linkpath ?? text(block, 157, 100),
      dataOffset: at + BLOCK,
    };
    return { type: 'member', member };
  }

  /** The data of the extended header `decode` just announced. */
  extended(data: Uint8Array): void {
    const type = this.pendingType;
    this.pendingType = '';
    if (this.next === NONE) this.next = {};
    if (type === 'g' && this.global === NONE) this.global = {};
    if (type === 'L') this.next.path = cString(data);
    else if (type === 'K') this.next.linkpath = cString(data);
    else if (type === 'x') Object.assign(this.next, parsePax(data));
    else if (type === 'g') Object.assign(this.global, parsePax(data));
  }
}

/**
 * pax records `"<len> <key>=<value>\n"`: the keys we use. Parsed as bytes (the
 * length counts bytes); `path` and `linkpath` are decoded as names are
 * (byteNames.ts), so a name that is not UTF-8 (GNU tar's hdrcharset=BINARY) keeps its bytes.
 */
function parsePax(data: Uint8Array): Overrides {
  const out: Overrides = {};
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let i = 0;
  while (i < buf.length) {
    const space = buf.indexOf(0x20, i);
    if (space < 0) break;
    const len = Number(buf.toString('latin1', i, space));
    if (!Number.isInteger(len) || len <= space - i) break;
    const end = Math.min(buf.length, i + len);
    const eq = buf.indexOf(0x3d, space + 1);
    if (eq > space + 1 && eq < end) {
      const key = buf.toString('latin1', space + 1, eq);
      const raw = buf.subarray(eq + 1, buf[end - 1] === 0x0a ? end - 1 : end);
      const value = key === 'path' || key === 'linkpath' ? decodeName(raw) : raw.toString('utf8');
      if (key === 'path') out.path = value;
      else if (key === 'linkpath') out.linkpath = value;
      else if (key === 'size' && /^\d+$/.test(value)) out.size = Number(value);
      else if (key === 'mtime' && /^-?\d+(\.\d+)?$/.test(value)) {
        const ms = timeMs(Number(value));
        if (ms !== undefined) out.mtimeMs = ms; // an absurd one: the header's own mtime stands
      } else if (key === 'uid' && /^\d+$/.test(value)) out.uid = Number(value);
      else if (key === 'gid' && /^\d+$/.test(value)) out.gid = Number(value);
    }
    i += len;
  }
  return out;
}

/** `seconds` in ms, floored; undefined when no Date can hold it (a crafted mtime). */
function timeMs(seconds: number): number | undefined {
  const ms = Math.floor(seconds * 1000);
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_TIME_MS ? ms : undefined;
}

function isZero(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** The header's checksum: the sum of its bytes with the checksum field counted as 8 spaces. */
function checksumOk(block: Uint8Array): boolean {
  const stored = readNumber(block, 148, 8);
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += block[i];
  for (let i = 156; i < BLOCK; i++) sum += block[i];
  return sum === stored;
}

/** An octal field (NUL / space terminated), or GNU base-256 when the top bit of its first byte is set. */
function readNumber(block: Uint8Array, at: number, len: number): number {
  if (block[at] & 0x80) {
    let n = block[at] & 0x3f;
    for (let i = 1; i < len; i++) n = n * 256 + block[at + i];
    return n;
  }
  let n = 0;
  for (let i = at; i < at + len; i++) {
    const c = block[i];
    if (c === 0 || c === 32) {
      if (n > 0) break;
      continue;
    }
    if (c < 48 || c > 55) break;
    n = n * 8 + (c - 48);
  }
  return n;
}

function text(block: Uint8Array, at: number, len: number): string {
  return cString(block.subarray(at, at + len));
}

function latin(block: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = at; i < at + len && block[i] !== 0 && block[i] !== 32; i++) s += String.fromCharCode(block[i]);
  return s;
}

function cString(data: Uint8Array): string {
  const nul = data.indexOf(0);
  const end = nul < 0 ? data.length : nul;
  // ASCII (nearly every name): no Buffer made to decode it.
  let ascii = true;
  for (let i = 0; i < end && ascii; i++) ascii = data[i] < 0x80;
  if (ascii) return end === 0 ? '' : String.fromCharCode.apply(null, data.subarray(0, end) as unknown as number[]);
  return decodeName(data.subarray(0, end));
}
