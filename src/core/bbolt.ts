/**
 * A small read-only reader of bbolt database files (etcd-io/bbolt page format),
 * enough to read containerd's `meta.db` and a snapshotter's `metadata.db`.
 *
 * The file is opened with 'r', read once into memory up to the high-water mark
 * the meta page records, and never locked or written. Every structural check
 * that fails (bad flags, a page id out of range, element offsets past their
 * page, unsorted keys, a page reached twice) throws LayerError 'corrupt', so a
 * damaged file can neither hang the reader nor crash it with a RangeError.
 *
 * The page format itself is decoded in `bboltPage.ts`.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import {
  BUCKET_HEADER,
  BUCKET_LEAF,
  META_PAGE,
  PAGE_HEADER,
  decodeMeta,
  parseNode,
  type Meta,
  type Node,
} from './bboltPage';
import { LayerError, fromFsError } from './errors';

/** Larger files are refused rather than read into memory. */
const MAX_FILE = 1 << 30;

export interface BoltEntry {
  readonly key: Buffer;
  /** Set for a plain key/value pair. */
  readonly value?: Buffer;
  /** Set when the key names a nested bucket. */
  readonly bucket?: BoltBucket;
}

export class BoltDb {
  private readonly nodes = new Map<number, Node>();
  /** Which bucket each paged bucket root belongs to: a page may root one bucket only. */
  private readonly roots = new Map<number, string>();
  private closed = false;

  private constructor(
    readonly file: string,
    private data: Buffer,
    private readonly meta: Meta,
  ) {}

  /** Opens `file` read-only and reads it into memory; throws LayerError. */
  static async open(file: string): Promise<BoltDb> {
    let handle: FileHandle | undefined;
    try {
      handle = await fsp.open(file, 'r');
      const size = (await handle.stat()).size;
      const meta = await readMeta(handle, size, file);
      const used = Math.min(size, meta.hwm * meta.pageSize);
      if (used > MAX_FILE) {
        throw new LayerError('unsupported', `${file}: ${used} bytes in use; files over 1 GiB are not read`, file);
      }
      return new BoltDb(file, await readAt(handle, 0, used), meta);
    } catch (err) {
      throw fromFsError(err, file);
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }

  get pageSize(): number {
    return this.meta.pageSize;
  }

  get txid(): bigint {
    return this.meta.txid;
  }

  /** The top-level bucket tree. */
  root(): BoltBucket {
    return new BoltBucket(this, this.meta.root, undefined, [], new Set([this.meta.root]));
  }

  /** The bucket at `path` (`[]` = the root), or undefined when any part is missing. */
  bucket(path: readonly string[]): BoltBucket | undefined {
    let b: BoltBucket | undefined = this.root();
    for (const name of path) {
      b = b.bucket(name);
      if (!b) return undefined;
    }
    return b;
  }

  /** Drops the file's bytes; the handle was already closed by `open`. */
  close(): void {
    this.closed = true;
    this.data = Buffer.alloc(0);
    this.nodes.clear();
    this.roots.clear();
  }

  /** @internal The validated node of page `pgid`. */
  node(pgid: number): Node {
    const cached = this.nodes.get(pgid);
    if (cached) return cached;
    if (this.closed) throw new LayerError('io', `${this.file} was closed`, this.file);
    const { pageSize, hwm } = this.meta;
    if (!Number.isSafeInteger(pgid) || pgid < 2 || pgid >= hwm) {
      throw this.corrupt(`page ${pgid} is out of range (2..${hwm - 1})`);
    }
    const start = pgid * pageSize;
    if (start + PAGE_HEADER > this.data.length) throw this.corrupt(`page ${pgid} lies past the end of the file`);
    const id = this.data.readBigUInt64LE(start);
    if (id !== BigInt(pgid)) throw this.corrupt(`page ${pgid} says it is page ${id}`);
    const overflow = this.data.readUInt32LE(start + 12);
    if (pgid + overflow >= hwm || start + (overflow + 1) * pageSize > this.data.length) {
      throw this.corrupt(`page ${pgid} overflows past the last page (${overflow} overflow pages)`);
    }
    const node = parseNode(this.data.subarray(start, start + (overflow + 1) * pageSize), `page ${pgid}`, (m) =>
      this.corrupt(m),
    );
    this.nodes.set(pgid, node);
    return node;
  }

  /**
   * @internal Records that page `pgid` roots the bucket at `path`. In a valid
   * file every page has one owner; a page claimed twice would let a crafted
   * file make a walk of the bucket tree grow without bound.
   */
  claimRoot(pgid: number, path: readonly string[]): void {
    const owner = path.join('\0');
    const before = this.roots.get(pgid);
    if (before === undefined) this.roots.set(pgid, owner);
    else if (before !== owner) {
      throw this.corrupt(`page ${pgid} is the root of both bucket ${before.split('\0').join('/')} and ${path.join('/')}`);
    }
  }

  /** @internal */
  corrupt(message: string): LayerError {
    return new LayerError('corrupt', `${this.file} is corrupt: ${message}`, this.file);
  }
}

export class BoltBucket {
  /** @internal Made by `BoltDb.root()` and `bucket()`: `rootPage` is a page id, or 0 with `inline` holding the one leaf. */
  constructor(
    private readonly db: BoltDb,
    private readonly rootPage: number,
    private readonly inline: Node | undefined,
    /** Names from the top, for messages. */
    readonly path: readonly string[],
    /** Root pages of this bucket and its ancestors: a nested bucket may not reuse one. */
    private readonly ancestors: ReadonlySet<number>,
  ) {}

  /** The value stored under `key`; undefined when absent or when `key` names a bucket. */
  get(key: string | Buffer): Buffer | undefined {
    const hit = this.find(toKey(key));
    if (!hit || hit.node.flags[hit.index] & BUCKET_LEAF) return undefined;
    return Buffer.from(hit.node.values[hit.index]);
  }

  /** A UTF-8 string value (see `get`). */
  getString(key: string | Buffer): string | undefined {
    return this.get(key)?.toString('utf8');
  }

  /** The nested bucket `name`, or undefined. */
  bucket(name: string | Buffer): BoltBucket | undefined {
    const k = toKey(name);
    const hit = this.find(k);
    if (!hit || !(hit.node.flags[hit.index] & BUCKET_LEAF)) return undefined;
    return this.nestedBucket(k, hit.node.values[hit.index]);
  }

  /** Every entry in key order: values and nested buckets. */
  *entries(): Iterable<BoltEntry> {
    let last: Buffer | undefined;
    for (const [node, i] of this.leafElements()) {
      const key = node.keys[i];
      if (last && Buffer.compare(last, key) >= 0) throw this.corrupt('keys are out of order across pages');
      last = key;
      const value = node.values[i];
      if (node.flags[i] & BUCKET_LEAF) {
        yield { key: Buffer.from(key), bucket: this.nestedBucket(key, value) };
      } else {
        yield { key: Buffer.from(key), value: Buffer.from(value) };
      }
    }
  }

  /** Names (UTF-8) of the nested buckets, in key order. */
  bucketNames(): string[] {
    const names: string[] = [];
    for (const e of this.entries()) if (e.bucket) names.push(e.key.toString('utf8'));
    return names;
  }

  private get label(): string {
    return this.path.length ? `bucket ${this.path.join('/')}` : 'root bucket';
  }

  private corrupt(message: string): LayerError {
    return this.db.corrupt(`${this.label}: ${message}`);
  }

  private nestedBucket(key: Buffer, value: Buffer): BoltBucket {
    const path = [...this.path, key.toString('utf8')];
    const where = `bucket ${path.join('/')}`;
    if (value.length < BUCKET_HEADER) throw this.db.corrupt(`${where}: bucket header is ${value.length} bytes`);
    const root = value.readBigUInt64LE(0);
    if (root === 0n) {
      const node = parseNode(value.subarray(BUCKET_HEADER), `${where} (inline page)`, (m) => this.db.corrupt(m));
      if (!node.leaf) throw this.db.corrupt(`${where}: inline page is not a leaf`);
      return new BoltBucket(this.db, 0, node, path, this.ancestors);
    }
    const pgid = Number(root);
    if (this.ancestors.has(pgid)) throw this.db.corrupt(`${where}: root page ${pgid} is already used above it (cycle)`);
    this.db.claimRoot(pgid, path);
    return new BoltBucket(this.db, pgid, undefined, path, new Set([...this.ancestors, pgid]));
  }

  /** Descends to the leaf that would hold `key`; the element when it is there. */
  private find(key: Buffer): { node: Node; index: number } | undefined {
    let node = this.inline ?? this.db.node(this.rootPage);
    const seen = new Set<number>([this.rootPage]);
    while (!node.leaf) {
      const i = branchIndex(node.keys, key);
      const next = node.children[i];
      if (seen.has(next)) throw this.corrupt(`page ${next} is reached twice (cycle)`);
      seen.add(next);
      node = this.childPage(next, node.keys[i], node.keys[i + 1]);
    }
    const i = lowerBound(node.keys, key);
    return i < node.keys.length && node.keys[i].equals(key) ? { node, index: i } : undefined;
  }

  /**
   * Page `pgid` under a branch element whose key is `low`, the next element's
   * `high`: its keys must lie in [low, high), or lookups and walks would disagree.
   */
  private childPage(pgid: number, low: Buffer, high: Buffer | undefined): Node {
    const node = this.db.node(pgid);
    const first = node.keys[0];
    const last = node.keys[node.keys.length - 1];
    if (first && (Buffer.compare(first, low) < 0 || (high && Buffer.compare(last, high) >= 0))) {
      throw this.corrupt(`page ${pgid} holds keys outside the range its branch element gives it`);
    }
    return node;
  }

  /** Leaf elements in order, walking branch pages with an explicit stack. */
  private *leafElements(): Iterable<[Node, number]> {
    if (this.inline) {
      for (let i = 0; i < this.inline.keys.length; i++) yield [this.inline, i];
      return;
    }
    const seen = new Set<number>([this.rootPage]);
    const stack: { node: Node; next: number }[] = [{ node: this.db.node(this.rootPage), next: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.node.leaf) {
        stack.pop();
        for (let i = 0; i < top.node.keys.length; i++) yield [top.node, i];
      } else if (top.next >= top.node.children.length) {
        stack.pop();
      } else {
        const i = top.next++;
        const pgid = top.node.children[i];
        if (seen.has(pgid)) throw this.corrupt(`page ${pgid} is reached twice (cycle)`);
        seen.add(pgid);
        stack.push({ node: this.childPage(pgid, top.node.keys[i], top.node.keys[i + 1]), next: 0 });
      }
    }
  }
}

function toKey(key: string | Buffer): Buffer {
  return typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
}

/** First index whose key is >= `key`. */
function lowerBound(keys: Buffer[], key: Buffer): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare(keys[mid], key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The child of a branch page that covers `key` (as bbolt's cursor chooses it). */
function branchIndex(keys: Buffer[], key: Buffer): number {
  const i = lowerBound(keys, key);
  if (i < keys.length && keys[i].equals(key)) return i;
  return i > 0 ? i - 1 : 0;
}

/** Reads both meta pages and keeps the valid one with the higher txid. */
async function readMeta(handle: FileHandle, size: number, file: string): Promise<Meta> {
  const corrupt = (m: string) => new LayerError('corrupt', `${file}: ${m}`, file);
  if (size < META_PAGE) throw corrupt(`${size} bytes is too short for a bbolt file`);
  const first = decodeMeta(await readAt(handle, 0, META_PAGE));
  // The second meta page sits one page in; without a valid first page, try the usual sizes.
  const sizes = typeof first === 'string' ? [4096, 8192, 16384, 65536, 2048, 1024, 32768, 512] : [first.pageSize];
  let second: Meta | string = 'not found';
  for (const ps of sizes) {
    if (ps + META_PAGE > size) continue;
    second = decodeMeta(await readAt(handle, ps, META_PAGE));
    if (typeof second !== 'string' && second.pageSize === ps) break;
    if (typeof second !== 'string') second = `page size ${second.pageSize} does not match its offset ${ps}`;
  }
  const valid = [first, second].filter((m): m is Meta => typeof m !== 'string');
  if (!valid.length) {
    const why = typeof first === 'string' ? first : 'invalid';
    throw corrupt(`not a valid bbolt database (meta page 0: ${why}; meta page 1: ${second as string})`);
  }
  return valid.reduce((a, b) => (b.txid > a.txid ? b : a));
}

/** Reads exactly `length` bytes at `position` (fewer only at end of file). */
async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}
