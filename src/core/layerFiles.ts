/**
 * Safe reads of one path inside a layer (the merged view over several layers
 * is mergedPath.ts). Read-only; never follows a symlink:
 *
 * - the path is resolved one segment at a time under the layer's folder with
 *   lstat; a symlink anywhere but at the end stops it (the path "goes through
 *   a symlink", which could lead out of the layer);
 * - a symlink at the end is answered with its target (readlink), never its
 *   target's content;
 * - only regular files are opened, with O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
 *   (a FIFO swapped in never blocks, a device never becomes a terminal), and
 *   the open file must be the very inode that was lstat()ed;
 * - whiteouts (overlay 0/0 character devices, aufs `.wh.` files) are deleted
 *   entries: reading one says the file was deleted in this layer.
 *
 * Paths are mapped strings (byteNames.ts): every fs call takes their diskPath(),
 * so a name that is not valid UTF-8 is found by its own bytes; messages show it
 * with `\xNN`.
 */
import * as fs from 'node:fs';
import { diskPath, displayName } from './byteNames';
import { readdirMapped, readlinkMapped } from './byteNamesFs';
import type { EntryType } from './layerEntry';
import { typeOfDirent, typeOfMode } from './layerEntry';
import { LayerError, fromFsError, throwIfAborted } from './errors';
import { AUFS_PREFIX, aufsKind } from './lowerUnion';
import type { LayerContent } from './model';
import { listTar, readTarFile, statTar } from './tar/tarLayer';

/** Files bigger than this are not read unless the caller allows more. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const CHUNK = 1024 * 1024;

export interface LayerPathStat {
  /** The normalised path inside the image (`/etc/app/c.conf`). */
  readonly path: string;
  /** The file on disk; for an aufs whiteout, the `.wh.` marker. */
  readonly diskPath: string;
  /** The entry's type (for a whiteout: `char` in overlay, `file` in aufs: the marker's). */
  readonly type: EntryType;
  /** A whiteout: the path was deleted in this layer. */
  readonly deleted: boolean;
  readonly size: number;
  readonly mode: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;
  /** Symlink target as stored (readlink); never followed. */
  readonly target?: string;
}

export type LayerFileContent =
  | { readonly kind: 'file'; readonly stat: LayerPathStat; readonly data: Uint8Array }
  | { readonly kind: 'symlink'; readonly stat: LayerPathStat; readonly target: string };

export interface ReadOptions {
  /** Refuse regular files bigger than this (default DEFAULT_MAX_BYTES). */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
}

export interface DirEntry {
  readonly name: string;
  readonly type: EntryType;
  /** Merged listings: the layer (index in the list given, top first) the name comes from. */
  readonly layerIndex: number;
}

/**
 * `/etc//app/./x/` → segments `etc`, `app`, `x`. Refuses (invalid-id) `..`, empty
 * segments in the middle and NUL: an entry path can never climb out of the layer.
 */
export function layerPathSegments(entryPath: string): string[] {
  const trimmed = entryPath.replace(/^\//, '').replace(/\/$/, '');
  if (trimmed === '') return [];
  const segs = trimmed.split('/').filter((s) => s !== '.');
  for (const s of segs) {
    if (s === '' || s === '..' || s.includes('\0')) {
      throw new LayerError('invalid-id', `refusing the path ${JSON.stringify(entryPath)}: it must not hold "..", "//" or NUL`, entryPath);
    }
  }
  return segs;
}

export const imagePath = (segs: readonly string[], upTo = segs.length): string => '/' + segs.slice(0, upTo).join('/');

/** imagePath as messages show it (`\xNN` for bytes that are not UTF-8). */
const shown = (segs: readonly string[], upTo = segs.length): string => displayName(imagePath(segs, upTo));

/** One layer's answer at a path. */
type Resolved =
  | { readonly kind: 'found'; readonly disk: string; readonly st: fs.Stats }
  | { readonly kind: 'deleted'; readonly disk: string; readonly st: fs.Stats; readonly depth: number }
  | { readonly kind: 'absent'; readonly depth: number };

export async function lstatOrNone(disk: string, segs: readonly string[], depth: number): Promise<fs.Stats | undefined> {
  try {
    return await fs.promises.lstat(diskPath(disk));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw fromFsError(err, shown(segs, depth + 1));
  }
}

export const isOverlayWhiteout = (c: LayerContent, st: fs.Stats): boolean =>
  c.whiteouts === 'overlay' && st.isCharacterDevice() && st.rdev === 0;

/** The layer's folder itself: it must be a real folder. */
export async function layerRoot(c: LayerContent): Promise<fs.Stats> {
  let st: fs.Stats;
  try {
    st = await fs.promises.lstat(c.dir);
  } catch (err) {
    const e = fromFsError(err, c.dir);
    throw e.code === 'not-found' ? new LayerError('not-found', `the layer folder ${c.dir} does not exist`, c.dir, err) : e;
  }
  if (!st.isDirectory()) throw new LayerError('corrupt', `the layer folder ${c.dir} is not a folder`, c.dir);
  return st;
}

export function throughSymlink(segs: readonly string[], depth: number, target: string): LayerError {
  const at = imagePath(segs, depth + 1);
  return new LayerError(
    'not-found',
    `${shown(segs)} goes through ${displayName(at)}, a symbolic link (→ ${displayName(target)}), which is not followed: it could lead out of the layer`,
    at,
  );
}

export async function readlinkOr(disk: string): Promise<string> {
  try {
    return await readlinkMapped(disk);
  } catch {
    return '?';
  }
}

/** Resolves `segs` in one layer, segment by segment, passing through no symlink. */
export async function resolveIn(c: LayerContent, segs: readonly string[], signal?: AbortSignal): Promise<Resolved> {
  const rootSt = await layerRoot(c);
  if (segs.length === 0) return { kind: 'found', disk: c.dir, st: rootSt };
  let dir = c.dir;
  for (let k = 0; k < segs.length; k++) {
    throwIfAborted(signal);
    const name = segs[k];
    if (c.form === 'diff' && c.whiteouts === 'aufs' && aufsKind(name) !== 'content') {
      throw new LayerError('not-found', `${shown(segs, k + 1)} is aufs bookkeeping (a whiteout or marker), not a file of the layer`);
    }
    const disk = dir + '/' + name;
    const st = await lstatOrNone(disk, segs, k);
    if (!st) {
      if (c.whiteouts === 'aufs') {
        const marker = dir + '/' + AUFS_PREFIX + name;
        const wst = await lstatOrNone(marker, segs, k);
        if (wst) return { kind: 'deleted', disk: marker, st: wst, depth: k };
      }
      return { kind: 'absent', depth: k };
    }
    if (isOverlayWhiteout(c, st)) return { kind: 'deleted', disk, st, depth: k };
    if (k === segs.length - 1) return { kind: 'found', disk, st };
    if (st.isSymbolicLink()) throw throughSymlink(segs, k, await readlinkOr(disk));
    if (!st.isDirectory()) return { kind: 'absent', depth: k };
    dir = disk;
  }
  return { kind: 'absent', depth: segs.length };
}

export function toStat(segs: readonly string[], disk: string, st: fs.Stats, deleted: boolean, target?: string): LayerPathStat {
  const stat = {
    path: imagePath(segs),
    diskPath: disk,
    type: typeOfMode(st.mode),
    deleted,
    size: st.size,
    mode: st.mode,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
    birthtimeMs: st.birthtimeMs,
  };
  return target === undefined ? stat : { ...stat, target };
}

function notInLayer(segs: readonly string[], r: { readonly kind: 'deleted' | 'absent'; readonly depth: number }): LayerError {
  const p = imagePath(segs);
  if (r.kind === 'absent') return new LayerError('not-found', `${shown(segs)} does not exist in this layer`, p);
  const at = r.depth === segs.length - 1 ? '' : ` (its folder ${shown(segs, r.depth + 1)} was deleted)`;
  return new LayerError('not-found', `${shown(segs)} was deleted in this layer${at}: a whiteout records the deletion, there is nothing to read`, p);
}

/** The layer's answer at a path, as a LayerPathStat (or the error that says why there is none). */
async function statIn(content: LayerContent, segs: readonly string[], signal?: AbortSignal): Promise<{ stat: LayerPathStat; gone?: LayerError }> {
  if (content.tar) {
    const t = await statTar(content, segs, signal);
    if (t.kind === 'absent') throw notInLayer(segs, t);
    return t.kind === 'deleted' ? { stat: t.stat, gone: notInLayer(segs, t) } : { stat: t.stat };
  }
  const r = await resolveIn(content, segs, signal);
  if (r.kind === 'absent') throw notInLayer(segs, r);
  if (r.kind === 'deleted') return { stat: toStat(segs, r.disk, r.st, true), gone: notInLayer(segs, r) };
  const target = r.st.isSymbolicLink() ? await readlinkOr(r.disk) : undefined;
  return { stat: toStat(segs, r.disk, r.st, false, target) };
}

/**
 * lstat of a path in the layer. A whiteout (or a path under one) comes back
 * with `deleted: true`; a symlink with its `target`. Throws not-found when the
 * path is absent or goes through a symlink, invalid-id for a path with `..`.
 */
export async function statLayerPath(content: LayerContent, entryPath: string, options: { signal?: AbortSignal } = {}): Promise<LayerPathStat> {
  return (await statIn(content, layerPathSegments(entryPath), options.signal)).stat;
}

const TYPE_WORDS: Partial<Record<EntryType, string>> = {
  dir: 'a folder',
  char: 'a character device',
  block: 'a block device',
  fifo: 'a FIFO (named pipe)',
  socket: 'a socket',
  unknown: 'not a regular file',
};

/**
 * A regular file's bytes, or a symlink's target. Folders, devices, FIFOs and
 * sockets are refused (unsupported) without being opened; so are files over
 * `maxBytes`. A whiteout: not-found, "was deleted in this layer".
 */
export async function readLayerFile(content: LayerContent, entryPath: string, options: ReadOptions = {}): Promise<LayerFileContent> {
  const { stat, gone } = await statIn(content, layerPathSegments(entryPath), options.signal);
  if (gone) throw gone;
  if (stat.type === 'symlink') return { kind: 'symlink', stat, target: stat.target ?? '' };
  if (stat.type !== 'file') {
    throw new LayerError('unsupported', `${displayName(stat.path)} is ${TYPE_WORDS[stat.type] ?? 'not a regular file'}: only regular files are read`, stat.path);
  }
  const max = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (content.tar && stat.size > max) throw tooBig(stat, stat.size, max);
  const data = content.tar ? await readTarFile(content, stat.path, options.signal) : await readRegular(stat, max, options.signal);
  return { kind: 'file', stat, data };
}

function tooBig(stat: LayerPathStat, size: number, max: number): LayerError {
  return new LayerError('unsupported', `${displayName(stat.path)} is ${size} bytes, over the ${max}-byte limit for opening a layer file`, stat.path);
}

async function readRegular(stat: LayerPathStat, max: number, signal?: AbortSignal): Promise<Uint8Array> {
  if (stat.size > max) throw tooBig(stat, stat.size, max);
  const c = fs.constants;
  const flags = c.O_RDONLY | (c.O_NOFOLLOW ?? 0) | (c.O_NONBLOCK ?? 0) | (c.O_NOCTTY ?? 0);
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(diskPath(stat.diskPath), flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new LayerError('not-found', `${displayName(stat.path)} became a symbolic link while it was opened: not followed`, stat.path, err);
    throw fromFsError(err, stat.path);
  }
  try {
    const fst = await handle.stat();
    const lst = await fs.promises.lstat(diskPath(stat.diskPath)).catch(() => undefined);
    if (!fst.isFile() || !lst || lst.ino !== fst.ino || lst.dev !== fst.dev) {
      throw new LayerError('io', `${displayName(stat.path)} changed while it was opened: not read`, stat.path);
    }
    if (fst.size > max) throw tooBig(stat, fst.size, max);
    const buf = Buffer.alloc(fst.size);
    let off = 0;
    while (off < buf.length) {
      throwIfAborted(signal);
      const { bytesRead } = await handle.read(buf, off, Math.min(CHUNK, buf.length - off), off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  } catch (err) {
    throw fromFsError(err, stat.path);
  } finally {
    await handle.close();
  }
}

/** A layer's own folder listing at a path: whiteouts come as `deleted` names, aufs bookkeeping is left out. */
export async function listLayerDir(content: LayerContent, entryPath: string, options: { signal?: AbortSignal } = {}): Promise<(DirEntry & { deleted: boolean })[]> {
  const stat = await statLayerPath(content, entryPath, options);
  if (stat.deleted || stat.type !== 'dir') throw new LayerError('not-found', `${displayName(stat.path)} is not a folder in this layer`, stat.path);
  if (content.tar) return listTar(content, stat.path, 0, options.signal);
  return (await listOne(content, stat.diskPath, stat.path, 0)).entries;
}

export async function listOne(c: LayerContent, disk: string, at: string, layerIndex: number) {
  let dirents: fs.Dirent[];
  try {
    dirents = await readdirMapped(disk);
  } catch (err) {
    throw fromFsError(err, at, 'list');
  }
  const entries: (DirEntry & { deleted: boolean })[] = [];
  for (const d of dirents) {
    const type = typeOfDirent(d);
    if (c.form === 'diff' && c.whiteouts === 'aufs') {
      const kind = aufsKind(d.name);
      if (kind === 'whiteout') entries.push({ name: d.name.slice(AUFS_PREFIX.length), type: 'unknown', layerIndex, deleted: true });
      if (kind === 'content') entries.push({ name: d.name, type, layerIndex, deleted: false });
    } else if (c.whiteouts === 'overlay' && type === 'char') {
      const st = await fs.promises.lstat(diskPath(disk + '/' + d.name)).catch(() => undefined);
      entries.push({ name: d.name, type, layerIndex, deleted: st !== undefined && st.rdev === 0 });
    } else {
      entries.push({ name: d.name, type, layerIndex, deleted: false });
    }
  }
  return { entries };
}
