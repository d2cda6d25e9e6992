/**
 * One bucket of a bbolt file (see bbolt.ts): lookups that descend branch
 * pages to a leaf, and an in-order walk of its leaf elements, every child page
 * checked against the key range its branch element gives it. In salvage mode a
 * page that fails is reported (BoltDb.report) and skipped; its siblings are
 * still walked.
 */
import type { BoltDb } from './bbolt';
import { BUCKET_HEADER, BUCKET_LEAF, parseNode, type Node } from './bboltPage';
import type { LayerError } from './errors';

export interface BoltEntry {
  readonly key: Buffer;
  /** Set for a plain key/value pair. */
  readonly value?: Buffer;
  /** Set when the key names a nested bucket. */
  readonly bucket?: BoltBucket;
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

  /** The value stored under `key`; undefined when absent, when `key` names a bucket, or (salvage) when its page is lost. */
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
    return this.attempt(hit.pgid, [...this.path, k.toString('utf8')], () => this.nestedBucket(k, hit.node.values[hit.index]));
  }

  /** Every entry in key order: values and nested buckets (salvage: those on pages that pass their checks). */
  *entries(): Iterable<BoltEntry> {
    let last: Buffer | undefined;
    for (const [node, i, pgid] of this.leafElements()) {
      const key = node.keys[i];
      if (last && Buffer.compare(last, key) >= 0) {
        this.db.report(this.corrupt(`page ${pgid}: keys are out of order across pages`), pgid, this.path);
        continue;
      }
      last = key;
      const value = node.values[i];
      if (node.flags[i] & BUCKET_LEAF) {
        const bucket = this.attempt(pgid, [...this.path, key.toString('utf8')], () => this.nestedBucket(key, value));
        if (bucket) yield { key: Buffer.from(key), bucket };
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

  /** `fn()`, or undefined once its failure is reported against page `pgid` of bucket `path` (strict mode: thrown). */
  private attempt<T>(pgid: number, path: readonly string[], fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.db.report(err, pgid, path);
      return undefined;
    }
  }

  /** Page `pgid` of this bucket, or undefined once its failure is reported. */
  private page(pgid: number, read: () => Node): Node | undefined {
    return this.attempt(pgid, this.path, read);
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
    if (root > BigInt(Number.MAX_SAFE_INTEGER)) throw this.db.corrupt(`${where}: root page ${root} is out of range`);
    const pgid = Number(root);
    if (this.ancestors.has(pgid)) throw this.db.corrupt(`${where}: root page ${pgid} is already used above it (cycle)`);
    this.db.claimRoot(pgid, path);
    return new BoltBucket(this.db, pgid, undefined, path, new Set([...this.ancestors, pgid]));
  }

  /** The root page of this bucket (or its inline page), or undefined once its failure is reported. */
  private rootNode(): Node | undefined {
    return this.inline ?? this.page(this.rootPage, () => this.db.node(this.rootPage));
  }

  /** Descends to the leaf that would hold `key`; the element when it is there. */
  private find(key: Buffer): { node: Node; index: number; pgid: number } | undefined {
    let node = this.rootNode();
    let pgid = this.rootPage;
    const seen = new Set<number>([this.rootPage]);
    while (node && !node.leaf) {
      const i = branchIndex(node.keys, key);
      const next = node.children[i];
      const parent = node;
      node = this.page(next, () => {
        if (seen.has(next)) throw this.corrupt(`page ${next} is reached twice (cycle)`);
        return this.childPage(next, parent.keys[i], parent.keys[i + 1]);
      });
      seen.add(next);
      pgid = next;
    }
    if (!node) return undefined;
    const i = lowerBound(node.keys, key);
    return i < node.keys.length && node.keys[i].equals(key) ? { node, index: i, pgid } : undefined;
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

  /**
   * Leaf elements in order, with their page id (0 inline), walking branch
   * pages with an explicit stack. A child that fails is reported and skipped:
   * its siblings are still walked.
   */
  private *leafElements(): Iterable<[Node, number, number]> {
    const root = this.rootNode();
    if (!root) return;
    const seen = new Set<number>([this.rootPage]);
    const stack: { node: Node; pgid: number; next: number }[] = [{ node: root, pgid: this.rootPage, next: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.node.leaf) {
        stack.pop();
        for (let i = 0; i < top.node.keys.length; i++) yield [top.node, i, top.pgid];
      } else if (top.next >= top.node.children.length) {
        stack.pop();
      } else {
        const i = top.next++;
        const pgid = top.node.children[i];
        const child = this.page(pgid, () => {
          if (seen.has(pgid)) throw this.corrupt(`page ${pgid} is reached twice (cycle)`);
          seen.add(pgid);
          return this.childPage(pgid, top.node.keys[i], top.node.keys[i + 1]);
        });
        if (child) stack.push({ node: child, pgid, next: 0 });
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

