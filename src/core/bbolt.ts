/**
 * A small read-only reader of bbolt database files (etcd-io/bbolt page format),
 * enough to read containerd's `meta.db` and a snapshotter's `metadata.db`.
 *
 * The file is opened with 'r', read once into memory up to the high-water mark
 * the meta page records, and never locked or written. Every structural check
 * (bad flags, a page id out of range, element offsets past their page, an
 * overflow past the file, unsorted keys, a page reached twice) is made before
 * a page is used, so a damaged file can neither hang the reader nor crash it
 * with a RangeError. What a failed check does depends on the mode:
 *
 *  - strict (the default): it throws LayerError 'corrupt';
 *  - salvage (`{ salvage: true }`): it becomes a BoltProblem naming the page
 *    and the bucket, and the walk goes on with the rest of the tree.
 *
 * What salvage loses: the keys of a page that fails its checks and, for a
 * branch page, every page below it (its siblings are still read); a bucket
 * whose root page fails keeps its name in its parent but reads as empty; a
 * nested bucket whose header or inline page fails is skipped; a key out of
 * order across pages is skipped. The freelist and the stale copies of pages
 * that copy-on-write leaves behind are never searched. Only the two meta pages
 * are indispensable: without a valid one, `open` throws in both modes.
 *
 * The page format itself is decoded in `bboltPage.ts`, a bucket's keys are
 * found and walked in `bboltBucket.ts`.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { BoltBucket } from './bboltBucket';
import { META_PAGE, PAGE_HEADER, decodeMeta, parseNode, type Meta, type Node } from './bboltPage';
import { LayerError, fromFsError } from './errors';

export { BoltBucket, type BoltEntry } from './bboltBucket';

/** Larger files are refused rather than read into memory. */
const MAX_FILE = 1 << 30;

export interface BoltOptions {
  /** Read what can be read: a page that fails its checks becomes a BoltProblem instead of an error. */
  readonly salvage?: boolean;
}

/** A page that failed its checks in salvage mode, and the bucket it belongs to. */
export interface BoltProblem {
  /** The page (for a nested bucket's header or inline page: the leaf page that holds it). */
  readonly pgid: number;
  /** The bucket from the top (`[]` = the root bucket). */
  readonly path: readonly string[];
  /** What failed, without the file name: `bucket v1/moby/images: page 35 says it is page …`. */
  readonly reason: string;
  /** The whole message, naming the file. */
  readonly message: string;
}

export class BoltDb {
  /** Validated pages, and the error of each page that failed its checks (never checked twice). */
  private readonly nodes = new Map<number, Node | LayerError>();
  /** What salvage mode skipped, in the order it was met; one entry per page and bucket. */
  readonly problems: BoltProblem[] = [];
  private readonly problemKeys = new Set<string>();
  /** Which bucket each paged bucket root belongs to: a page may root one bucket only. */
  private readonly roots = new Map<number, string>();
  private closed = false;

  private constructor(
    readonly file: string,
    private data: Buffer,
    private readonly meta: Meta,
    /** Salvage mode (see the file's comment). */
    readonly salvage: boolean,
  ) {}

  /** Opens `file` read-only and reads it into memory; throws LayerError (in both modes, when no meta page is valid). */
  static async open(file: string, options: BoltOptions = {}): Promise<BoltDb> {
    let handle: FileHandle | undefined;
    try {
      handle = await fsp.open(file, 'r');
      const size = (await handle.stat()).size;
      const meta = await readMeta(handle, size, file);
      const used = Math.min(size, meta.hwm * meta.pageSize);
      if (used > MAX_FILE) {
        throw new LayerError('unsupported', `${file}: ${used} bytes in use; files over 1 GiB are not read`, file);
      }
      return new BoltDb(file, await readAt(handle, 0, used), meta, options.salvage === true);
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

  /**
   * Salvage mode: the problems that may have hidden entries of the bucket at
   * `path` — those of the bucket itself, of a bucket above it (which may have
   * lost it whole) and of a bucket below it (which lost part of it).
   */
  problemsAffecting(path: readonly string[]): BoltProblem[] {
    const within = (a: readonly string[], b: readonly string[]) => a.every((name, i) => b[i] === name);
    return this.problems.filter((p) => (p.path.length <= path.length ? within(p.path, path) : within(path, p.path)));
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
    if (this.closed) throw new LayerError('io', `${this.file} was closed`, this.file);
    const cached = this.nodes.get(pgid);
    if (cached instanceof LayerError) throw cached;
    if (cached) return cached;
    try {
      const node = this.readNode(pgid);
      this.nodes.set(pgid, node);
      return node;
    } catch (err) {
      // Only pages inside the file are remembered: an id from a damaged element may be anything.
      if (err instanceof LayerError && Number.isSafeInteger(pgid) && pgid >= 0 && pgid < this.meta.hwm) this.nodes.set(pgid, err);
      throw err;
    }
  }

  private readNode(pgid: number): Node {
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
    return parseNode(this.data.subarray(start, start + (overflow + 1) * pageSize), `page ${pgid}`, (m) => this.corrupt(m));
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

  /**
   * @internal A failed check on page `pgid` of the bucket at `path`: thrown in
   * strict mode (and always, for anything but a LayerError 'corrupt'); in
   * salvage mode recorded once, and the caller skips what the page held.
   */
  report(err: unknown, pgid: number, path: readonly string[]): void {
    if (!this.salvage || !(err instanceof LayerError) || err.code !== 'corrupt') throw err;
    const prefix = `${this.file} is corrupt: `;
    const bare = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    // Page checks name the page; the bucket it belongs to is named here when they do not.
    const where = path.length ? `bucket ${path.join('/')}` : 'root bucket';
    const named = bare.includes(where) ? bare : `${where}: ${bare}`;
    // …and the page, when the check was on a bucket header held in a leaf.
    const reason = /\bpage \d/.test(named) ? named : `${named} (${pgid ? `on page ${pgid}` : 'in an inline page'})`;
    const key = `${pgid}\0${path.join('\0')}\0${reason}`;
    if (this.problemKeys.has(key)) return;
    this.problemKeys.add(key);
    this.problems.push({ pgid, path, reason, message: `${prefix}${reason}` });
  }
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
