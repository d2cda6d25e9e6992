/**
 * The bbolt page format (etcd-io/bbolt), decoded and validated: meta pages and
 * branch / leaf pages. Everything little-endian:
 *   page header  id u64 | flags u16 | count u16 | overflow u32        (16 bytes)
 *   meta         magic u32 | version u32 | pageSize u32 | flags u32 |
 *                root {pgid u64, sequence u64} | freelist u64 | hwm u64 |
 *                txid u64 | checksum u64 (FNV-64a of the 56 bytes before it)
 *   branch elem  pos u32 | ksize u32 | pgid u64                          (16 bytes)
 *   leaf elem    flags u32 | pos u32 | ksize u32 | vsize u32             (16 bytes)
 *   `pos` counts from the element's own start; the value follows the key.
 *   A bucket value is {root u64, sequence u64}; root 0 means an inline leaf
 *   page follows those 16 bytes inside the value.
 */
import { LayerError } from './errors';

export const MAGIC = 0xed0cdaed;
export const VERSION = 2;
export const PAGE_HEADER = 16;
export const ELEMENT = 16;
export const META_CHECKSUM_AT = 56;
/** Bytes to read for a meta page: the page header and the 64-byte meta. */
export const META_PAGE = 16 + 64;
export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const BUCKET_LEAF = 0x01;
export const BUCKET_HEADER = 16;
export const MIN_PAGE = 512;
export const MAX_PAGE = 1 << 16;

export interface Meta {
  readonly pageSize: number;
  readonly root: number;
  readonly hwm: number;
  readonly txid: bigint;
}

/** One validated page (or inline page): its keys, and children or values. */
export interface Node {
  readonly leaf: boolean;
  readonly keys: Buffer[];
  /** Branch pages: child page ids. */
  readonly children: number[];
  /** Leaf pages: values and element flags. */
  readonly values: Buffer[];
  readonly flags: number[];
}

/**
 * Validates and decodes one page. `page` spans the page and its overflow
 * pages (or the rest of a bucket value, for an inline page).
 */
export function parseNode(page: Buffer, where: string, corrupt: (message: string) => LayerError): Node {
  if (page.length < PAGE_HEADER) throw corrupt(`${where}: ${page.length} bytes is too short for a page header`);
  const flags = page.readUInt16LE(8);
  const count = page.readUInt16LE(10);
  if (flags !== BRANCH_PAGE && flags !== LEAF_PAGE) {
    throw corrupt(`${where}: flags 0x${flags.toString(16)} are not a branch or leaf page`);
  }
  const leaf = flags === LEAF_PAGE;
  if (!leaf && count === 0) throw corrupt(`${where}: empty branch page`);
  if (PAGE_HEADER + count * ELEMENT > page.length) {
    throw corrupt(`${where}: ${count} elements do not fit in ${page.length} bytes`);
  }
  const node: Node = { leaf, keys: [], children: [], values: [], flags: [] };
  for (let i = 0; i < count; i++) {
    const at = PAGE_HEADER + i * ELEMENT;
    const pos = leaf ? page.readUInt32LE(at + 4) : page.readUInt32LE(at);
    const ksize = leaf ? page.readUInt32LE(at + 8) : page.readUInt32LE(at + 4);
    const vsize = leaf ? page.readUInt32LE(at + 12) : 0;
    const keyStart = at + pos;
    const end = keyStart + ksize + vsize;
    if (pos < ELEMENT * (count - i) || end > page.length) {
      throw corrupt(`${where}: element ${i} (offset ${pos}, ${ksize}+${vsize} bytes) lies outside the page`);
    }
    const key = page.subarray(keyStart, keyStart + ksize);
    if (i > 0 && Buffer.compare(node.keys[i - 1], key) >= 0) throw corrupt(`${where}: keys are out of order`);
    node.keys.push(key);
    if (leaf) {
      node.flags.push(page.readUInt32LE(at));
      node.values.push(page.subarray(keyStart + ksize, end));
    } else {
      const child = page.readBigUInt64LE(at + 8);
      if (child > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`${where}: element ${i} points at page ${child}`);
      node.children.push(Number(child));
    }
  }
  return node;
}

/** A meta page's fields, or why it is not valid. */
export function decodeMeta(buf: Buffer): Meta | string {
  const m = buf.subarray(PAGE_HEADER);
  if (m.readUInt32LE(0) !== MAGIC) return 'bad magic';
  if (m.readUInt32LE(4) !== VERSION) return `version ${m.readUInt32LE(4)} (expected ${VERSION})`;
  if (m.readBigUInt64LE(META_CHECKSUM_AT) !== fnv64a(m.subarray(0, META_CHECKSUM_AT))) return 'checksum mismatch';
  const pageSize = m.readUInt32LE(8);
  if (pageSize < MIN_PAGE || pageSize > MAX_PAGE || (pageSize & (pageSize - 1)) !== 0) {
    return `page size ${pageSize} is not a power of two in ${MIN_PAGE}..${MAX_PAGE}`;
  }
  const root = m.readBigUInt64LE(16);
  const hwm = m.readBigUInt64LE(40);
  if (hwm > BigInt(Number.MAX_SAFE_INTEGER) / BigInt(pageSize)) return `high-water mark ${hwm} is too large`;
  if (root < 2n || root >= hwm) return `root page ${root} is out of range`;
  return { pageSize, root: Number(root), hwm: Number(hwm), txid: m.readBigUInt64LE(48) };
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const U64 = (1n << 64n) - 1n;

function fnv64a(bytes: Buffer): bigint {
  let h = FNV_OFFSET;
  for (const b of bytes) h = ((h ^ BigInt(b)) * FNV_PRIME) & U64;
  return h;
}

