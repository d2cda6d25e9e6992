/**
 * One layer blob's entries by image path, with its whiteouts and opaque
 * folders (`.wh.` names, as every image archive records them): read once per
 * layer, by seeking header to header when the blob is an uncompressed tar,
 * else by one streaming pass through its decompression; a few kept in memory,
 * so a walk, a stat and a read of the same layer read its blob once.
 */
import * as fs from 'node:fs';
import { LayerError, fromFsError, throwIfAborted, untilAborted } from '../errors';
import type { EntryType, WalkProblem } from '../layerEntry';
import { childImagePath, compareNames } from '../layerEntry';
import { aufsKind, AUFS_PREFIX, isDeletableName } from '../lowerUnion';
import type { Problem, TarBlob } from '../model';
import { blobStream, compressionOf, type Compression } from './compression';
import type { MemberKind, TarMember } from './tarHeader';
import { indexTarRegion, openReadOnly, readAt, type TarScan } from './tarIndex';
import { indexTarStream, readStreamRange, streamRange } from './tarStream';

/** One entry of a layer blob, at its image path. */
export interface TarNode {
  readonly path: string;
  readonly type: EntryType;
  /** Bytes of a regular file (a hard link: its target's); 0 otherwise. */
  readonly size: number;
  /** Type and permission bits, as lstat gives them. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeMs: number;
  /** Always 0: a node is a StatLike as it is (whiteouts are `.wh.` names, never devices). */
  readonly rdev: 0;
  /** Symlink target as stored; never followed. */
  readonly target?: string;
  /** Offset of a regular file's bytes in the decompressed blob. */
  readonly dataOffset: number;
  /** A folder the blob holds entries in but no entry for. */
  readonly implicit?: true;
  /** A hard link to another file of the layer (its bytes are that file's). */
  readonly hardlink?: true;
}

const TYPE_BITS: Record<EntryType, number> = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  char: 0o020000,
  block: 0o060000,
  fifo: 0o010000,
  socket: 0o140000,
  unknown: 0,
};

const parentOf = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
};

export class TarLayerIndex {
  readonly nodes = new Map<string, TarNode>();
  /** Image paths this layer deletes from the layers below (`.wh.<name>`). */
  readonly whiteouts = new Set<string>();
  /** Folders whose lower content this layer hides (`.wh..wh..opq`); `/` too. */
  readonly opaque = new Set<string>();
  /** Entries that could not be taken (unsafe names, a truncated blob…). */
  readonly problems: WalkProblem[] = [];
  private names?: Map<string, string[]>;

  constructor(
    readonly blob: TarBlob,
    readonly compression: Compression,
    scan: TarScan,
  ) {
    const links: TarMember[] = [];
    for (const m of scan.members) {
      if (m.cut) continue; // a file cut short by the end of the blob: not listed (scan.stopped says why)
      const p = imagePathOf(m.name);
      if (p === undefined) {
        this.problem('/', `ignoring the entry ${JSON.stringify(m.name)}: its path climbs out of the layer`, 'invalid-id');
        continue;
      }
      if (p === '/') continue;
      const dir = parentOf(p);
      const name = p.slice(dir.length === 1 ? 1 : dir.length + 1);
      const kind = aufsKind(name);
      if (kind === 'opaque') this.opaque.add(dir);
      else if (kind === 'whiteout') {
        const gone = name.slice(AUFS_PREFIX.length);
        if (isDeletableName(gone)) this.whiteouts.add(childImagePath(dir, gone));
        else this.problem(dir, `ignoring malformed whiteout ${name} in ${dir}`, 'corrupt');
      } else if (kind === 'content') {
        if (m.kind === 'hardlink') links.push(m);
        else this.add(p, m, entryType(m.kind), m.kind === 'file' ? m.size : 0, m.dataOffset);
      }
      // kind 'meta': aufs bookkeeping, not content.
    }
    for (const m of links) {
      const p = imagePathOf(m.name)!;
      const to = imagePathOf(m.linkname);
      const target = to === undefined ? undefined : this.nodes.get(to);
      if (!target || target.type !== 'file') {
        this.problem(p, `${p} is a hard link to ${m.linkname}, which is not a regular file of this layer`, 'corrupt');
        continue;
      }
      this.add(p, m, 'file', target.size, target.dataOffset);
    }
    if (scan.stopped) this.problem('/', `${blob.name}: ${scan.stopped}`, 'corrupt');
  }

  /** The names in folder `dir` (content and whiteouts), sorted by code unit. */
  children(dir: string): string[] {
    if (!this.names) {
      const sets = new Map<string, Set<string>>();
      const put = (p: string) => {
        const d = parentOf(p);
        let s = sets.get(d);
        if (!s) sets.set(d, (s = new Set()));
        s.add(p.slice(d.length === 1 ? 1 : d.length + 1));
      };
      for (const p of this.nodes.keys()) put(p);
      for (const p of this.whiteouts) put(p);
      this.names = new Map([...sets].map(([d, s]) => [d, [...s].sort(compareNames)]));
    }
    return this.names.get(dir) ?? [];
  }

  private add(p: string, m: TarMember, type: EntryType, size: number, dataOffset: number): void {
    // One object literal per shape (no spread of optional fields): a node per entry of a 100,000-file layer.
    const base = {
      path: p,
      type,
      size,
      mode: TYPE_BITS[type] | m.mode,
      uid: m.uid,
      gid: m.gid,
      mtimeMs: m.mtimeMs,
      rdev: 0 as const,
      dataOffset,
    };
    const node: TarNode = type === 'symlink' ? { ...base, target: m.linkname } : m.kind === 'hardlink' ? { ...base, hardlink: true } : base;
    this.nodes.set(p, node);
    for (let d = parentOf(p); d !== '/' && !this.nodes.has(d); d = parentOf(d)) {
      this.nodes.set(d, implicitDir(d));
    }
  }

  private problem(p: string, message: string, code: WalkProblem['code']): void {
    this.problems.push({ path: p, diskPath: this.blob.file, message, code });
  }
}

/** A folder a layer holds entries in without an entry of its own (and the root). */
export function implicitDir(p: string): TarNode {
  return { path: p, type: 'dir', size: 0, mode: 0o040755, uid: 0, gid: 0, mtimeMs: 0, rdev: 0, dataOffset: 0, implicit: true };
}

function entryType(kind: MemberKind): EntryType {
  return kind === 'hardlink' ? 'file' : kind;
}

/** A name the fast path of imagePathOf cannot take: a `.` or `..` segment, `//`, NUL, or nothing. */
const ODD_NAME = /(?:^|\/)\.{1,2}(?:\/|$)|\/\/|\0|^$/;

/** `./etc//app/` → `/etc/app`; `.` → `/`; undefined for a name with `..` or NUL. */
export function imagePathOf(name: string): string | undefined {
  // The usual name (`etc/app/`, `./etc/app`): sliced, not split and joined.
  const body = name.startsWith('./') ? name.slice(2) : name;
  if (!ODD_NAME.test(body)) {
    const start = body.startsWith('/') ? 1 : 0;
    const end = body.endsWith('/') ? body.length - 1 : body.length;
    return end <= start ? '/' : '/' + body.slice(start, end);
  }
  const segs = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segs.some((s) => s === '..' || s.includes('\0'))) return undefined;
  return '/' + segs.join('/');
}

/** Layers indexed lately, most recent last. */
const cache = new Map<string, Promise<TarLayerIndex>>();
const CACHE_LAYERS = 16;

/**
 * The layer index of `blob`, read once and kept while it is among the last few used.
 * The read is shared by every caller, so it runs without any caller's signal (it is
 * paced); each caller's own signal rejects that caller's promise only.
 */
export function tarLayerIndex(blob: TarBlob, signal?: AbortSignal): Promise<TarLayerIndex> {
  try {
    throwIfAborted(signal);
  } catch (err) {
    return Promise.reject(err);
  }
  const key = `${blob.file}\0${blob.start}\0${blob.size}\0${fileVersion(blob)}`;
  let made = cache.get(key);
  if (made) {
    cache.delete(key);
    cache.set(key, made);
  } else {
    const building = buildIndex(blob);
    building.catch(() => {
      if (cache.get(key) === building) cache.delete(key);
    });
    cache.set(key, (made = building));
    while (cache.size > CACHE_LAYERS) cache.delete(cache.keys().next().value!);
  }
  return untilAborted(made, signal);
}

/** The blob file's inode, size and mtime: a file replaced or rewritten in place is indexed again. */
function fileVersion(blob: TarBlob): string {
  try {
    const st = blob.noFollow ? fs.lstatSync(blob.file) : fs.statSync(blob.file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return ''; // the build says why the file cannot be read (and is not kept)
  }
}

async function buildIndex(blob: TarBlob): Promise<TarLayerIndex> {
  const compression = compressionOf(blob);
  const scan = compression === 'none' ? await indexTarRegion(blob) : await indexTarStream(blobStream(blob, compression));
  return new TarLayerIndex(blob, compression, scan);
}

/** A regular file's bytes: one positional read in an uncompressed blob, else decompressed up to it. */
export async function readTarData(index: TarLayerIndex, node: TarNode, signal?: AbortSignal): Promise<Buffer> {
  if (node.size === 0) return Buffer.alloc(0);
  const { blob } = index;
  if (index.compression !== 'none') return readStreamRange(blobStream(blob, index.compression), node.dataOffset, node.size, signal);
  const fd = openReadOnly(blob.file, blob.noFollow);
  try {
    const data = readAt(fd, node.size, blob.start + node.dataOffset);
    if (data.length < node.size) throw new LayerError('corrupt', `${node.path}: the archive ends before the end of its data`, node.path);
    return data;
  } catch (err) {
    throw fromFsError(err, blob.file);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A regular file's bytes in chunks of at most `chunk` bytes (any size: never
 * held whole): positional reads in an uncompressed blob, else the decompressed
 * stream from the file's start.
 */
export async function* tarDataChunks(index: TarLayerIndex, node: TarNode, signal?: AbortSignal, chunk = 1024 * 1024): AsyncGenerator<Buffer> {
  if (node.size === 0) return;
  const { blob } = index;
  if (index.compression !== 'none') {
    yield* streamRange(blobStream(blob, index.compression), node.dataOffset, node.size, signal);
    return;
  }
  const fd = openReadOnly(blob.file, blob.noFollow);
  try {
    for (let off = 0; off < node.size; ) {
      throwIfAborted(signal);
      let data: Buffer;
      try {
        data = readAt(fd, Math.min(chunk, node.size - off), blob.start + node.dataOffset + off);
      } catch (err) {
        throw fromFsError(err, blob.file);
      }
      if (data.length === 0) throw new LayerError('corrupt', `${node.path}: the archive ends before the end of its data`, node.path);
      off += data.length;
      yield data;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A layer's size as `docker image inspect` counts it (lstat sizes of its non-folders),
 * from its tar headers (seeking, no data read) when the blob is an
 * uncompressed tar; a compressed blob is not decompressed to load the image
 * list, so its size is the blob's. Problems: why the blob's index stops early.
 */
export async function tarLayerSize(blob: TarBlob, subject: string, signal?: AbortSignal): Promise<{ size: number; problems: Problem[] }> {
  if (compressionOf(blob) !== 'none') return { size: blob.size, problems: [] };
  const index = await tarLayerIndex(blob, signal);
  let size = 0;
  // A hard link's bytes are its target's: counted once, as Docker counts a layer folder's inodes.
  // Symlinks count their target's length, as lstat sizes them.
  for (const n of index.nodes.values()) if (!n.hardlink) size += n.type === 'symlink' ? Buffer.byteLength(n.target ?? '') : n.size;
  const problems = index.problems.filter((p) => p.path === '/').map((p) => ({ code: p.code, message: p.message, path: p.diskPath, subject }));
  return { size, problems };
}
