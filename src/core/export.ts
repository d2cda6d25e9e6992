/**
 * Export: copies a file or folder of one layer, or of an image's merged view,
 * to a place on the host. The only core code that writes, and it writes only
 * outside every Docker root:
 *
 * - the destination is refused when it lies inside (or is) a root, after
 *   resolving the symlinks of its existing part, or when a root folder's
 *   (dev, ino) is among its existing folders (a bind mount of a root);
 * - nothing is overwritten: each item is made new (`O_EXCL`, `mkdir`), so a
 *   symlink planted at the destination is never written through; only the top
 *   item may replace an existing file when the caller says so (a save dialog
 *   that asked);
 * - the source is read as everywhere else (layerFiles.ts, mergedPath.ts): no
 *   symlink is followed, a symlink is exported as a symlink with the same
 *   target, each file opened `O_NOFOLLOW` must be the inode that was lstat()ed;
 * - whiteouts are not files and are left out; devices, FIFOs and sockets are
 *   never made on the host: they are skipped and reported;
 * - permission bits are kept but for setuid and setgid (an exported root-owned
 *   setuid binary must not become one on the host); folders get theirs once
 *   their content is written, so a read-only folder can still be filled.
 * - a name that is not valid UTF-8 (byteNames.ts) is read and written by its
 *   own bytes: the copy on the host has the very name it has in the layer.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { diskPath, displayName } from './byteNames';
import { readlinkMapped } from './byteNamesFs';
import { LayerError, fromFsError, throwIfAborted } from './errors';
import { childImagePath } from './layerEntry';
import { layerPathSegments, listLayerDir, statLayerPath, type LayerPathStat } from './layerFiles';
import { listMergedDir, resolveMerged } from './mergedPath';
import type { LayerContent } from './model';

/** Where to export from: one layer's own content, or the merged view of layers given top first. */
export type ExportSource =
  | { readonly kind: 'layer'; readonly content: LayerContent }
  | { readonly kind: 'merged'; readonly layers: readonly LayerContent[] };

export interface ExportProgress {
  readonly files: number;
  readonly bytes: number;
  /** The path inside the image being copied. */
  readonly path: string;
}

export interface ExportOptions {
  /** Docker roots (and any other folder) the destination must not be in. */
  readonly forbidden: readonly string[];
  readonly signal?: AbortSignal;
  /** Called per item and every few MB of a big file. */
  readonly onProgress?: (progress: ExportProgress) => void;
  /** The top item may replace an existing regular file or symlink at `dest` (never a folder). */
  readonly replace?: boolean;
  /** Read and count everything, check the destination, write nothing. */
  readonly dryRun?: boolean;
}

export interface ExportResult {
  /** The path written on the host (the top item). */
  readonly dest: string;
  readonly files: number;
  readonly dirs: number;
  readonly symlinks: number;
  readonly bytes: number;
  /** Items left out (devices, FIFOs, sockets, unreadable), each with its reason. */
  readonly skipped: { readonly path: string; readonly reason: string }[];
  /** Nothing was written (ExportOptions.dryRun). */
  readonly dryRun: boolean;
}

const CHUNK = 1024 * 1024;
/** Permission bits kept: rwx for all and the sticky bit; never setuid or setgid. */
const KEPT_BITS = 0o1777;

/** The real path of `p`, or of its nearest existing ancestor with the rest appended. */
async function realOrNearest(p: string): Promise<string> {
  const abs = nodePath.resolve(p);
  try {
    return await fs.promises.realpath(abs);
  } catch {
    const parent = nodePath.dirname(abs);
    if (parent === abs) return abs;
    return nodePath.join(await realOrNearest(parent), nodePath.basename(abs));
  }
}

function inside(p: string, dir: string): boolean {
  const rel = nodePath.relative(dir, p);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + nodePath.sep) && !nodePath.isAbsolute(rel));
}

/** The (dev, ino) of the existing part of `p` (symlinks resolved) and of each folder above it. */
async function ancestorIds(p: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let at = await realOrNearest(p);
  for (;;) {
    const st = await fs.promises.stat(at).catch(() => undefined);
    if (st) ids.add(`${st.dev}:${st.ino}`);
    const parent = nodePath.dirname(at);
    if (parent === at) return ids;
    at = parent;
  }
}

/** Throws (invalid-id) when `dest` is inside, or is, one of `forbidden`. */
export async function checkDestination(dest: string, forbidden: readonly string[]): Promise<void> {
  const real = await realOrNearest(dest);
  // A bind mount (or a second path the realpath does not unify) to a root: the
  // root folder's (dev, ino) is then among the destination's ancestors.
  const ids = await ancestorIds(dest);
  for (const root of forbidden) {
    const realRoot = await realOrNearest(root);
    const rootSt = await fs.promises.stat(root).catch(() => undefined);
    const rootId = rootSt?.isDirectory() ? `${rootSt.dev}:${rootSt.ino}` : undefined;
    if (inside(real, realRoot) || inside(nodePath.resolve(dest), nodePath.resolve(root)) || (rootId !== undefined && ids.has(rootId))) {
      throw new LayerError('invalid-id', `refusing to export into ${dest}: it is inside the Docker root ${root}, which is never written`, dest);
    }
  }
}

interface Reader {
  /** The visible item at `path`, or undefined when there is none (absent, deleted). */
  stat(path: string): Promise<LayerPathStat | undefined>;
  /** The visible names in folder `path`. */
  list(path: string): Promise<string[]>;
}

function readerOf(source: ExportSource, signal?: AbortSignal): Reader {
  if (source.kind === 'layer') {
    return {
      stat: async (p) => {
        const st = await statLayerPath(source.content, p, { signal });
        return st.deleted ? undefined : st;
      },
      list: async (p) => (await listLayerDir(source.content, p, { signal })).filter((e) => !e.deleted).map((e) => e.name),
    };
  }
  return {
    stat: async (p) => (await resolveMerged(source.layers, p, { signal }))?.stat,
    list: async (p) => (await listMergedDir(source.layers, p, { signal })).map((e) => e.name),
  };
}

class Exporter {
  files = 0;
  dirs = 0;
  symlinks = 0;
  bytes = 0;
  readonly skipped: { path: string; reason: string }[] = [];

  constructor(
    private readonly reader: Reader,
    private readonly options: ExportOptions,
  ) {}

  async item(st: LayerPathStat, dest: string, top: boolean): Promise<void> {
    throwIfAborted(this.options.signal);
    this.options.onProgress?.({ files: this.files, bytes: this.bytes, path: st.path });
    switch (st.type) {
      case 'file':
        await this.file(st, dest, top);
        return;
      case 'symlink':
        if (this.options.dryRun) {
          this.symlinks++;
          return;
        }
        if (top && this.options.replace) await removeReplaceable(dest);
        await fs.promises.symlink(diskPath(st.target ?? (await readlinkMapped(st.diskPath))), diskPath(dest)).catch((err) => {
          throw writeError(err, dest);
        });
        this.symlinks++;
        return;
      case 'dir':
        await this.dir(st, dest);
        return;
      default:
        if (top) throw new LayerError('unsupported', `${st.path} is a ${st.type === 'char' || st.type === 'block' ? 'device' : st.type}: only files, folders and symbolic links are exported`, st.path);
        this.skipped.push({ path: st.path, reason: `a ${st.type}: not made on the host` });
    }
  }

  private async dir(st: LayerPathStat, dest: string): Promise<void> {
    const dry = this.options.dryRun;
    if (!dry) {
      await fs.promises.mkdir(diskPath(dest), { mode: 0o700 }).catch((err) => {
        throw writeError(err, dest);
      });
    }
    this.dirs++;
    for (const name of await this.reader.list(st.path)) {
      const child = childImagePath(st.path, name);
      let childSt: LayerPathStat | undefined;
      try {
        childSt = await this.reader.stat(child);
      } catch (err) {
        if (err instanceof LayerError && err.code === 'cancelled') throw err;
        this.skipped.push({ path: child, reason: (err as Error).message });
        continue;
      }
      if (!childSt) continue;
      try {
        await this.item(childSt, nodePath.join(dest, name), false);
      } catch (err) {
        // One unreadable item never stops the rest; a cancel or a refused write does.
        if (!(err instanceof LayerError) || err.code === 'cancelled' || err.code === 'invalid-id') throw err;
        this.skipped.push({ path: child, reason: err.message });
      }
    }
    if (!dry) await fs.promises.chmod(diskPath(dest), st.mode & KEPT_BITS);
  }

  private async file(st: LayerPathStat, dest: string, top: boolean): Promise<void> {
    const c = fs.constants;
    let src: fs.promises.FileHandle;
    try {
      src = await fs.promises.open(diskPath(st.diskPath), c.O_RDONLY | (c.O_NOFOLLOW ?? 0) | (c.O_NONBLOCK ?? 0) | (c.O_NOCTTY ?? 0));
    } catch (err) {
      throw fromFsError(err, st.path);
    }
    try {
      const fst = await src.stat();
      if (!fst.isFile() || fst.ino !== (await fs.promises.lstat(diskPath(st.diskPath))).ino) throw new LayerError('io', `${displayName(st.path)} changed while it was opened: not exported`, st.path);
      if (this.options.dryRun) {
        this.files++;
        this.bytes += fst.size;
        return;
      }
      if (top && this.options.replace) await removeReplaceable(dest);
      let out: fs.promises.FileHandle;
      try {
        out = await fs.promises.open(diskPath(dest), c.O_WRONLY | c.O_CREAT | c.O_EXCL | (c.O_NOFOLLOW ?? 0), 0o600);
      } catch (err) {
        throw writeError(err, dest);
      }
      try {
        const buf = Buffer.alloc(Math.min(CHUNK, Math.max(1, fst.size)));
        // At most the size seen at open: a file growing in a live container's layer is not followed.
        for (let off = 0; off < fst.size; ) {
          throwIfAborted(this.options.signal);
          const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, fst.size - off), off);
          if (bytesRead === 0) break;
          await out.write(buf, 0, bytesRead);
          off += bytesRead;
          this.bytes += bytesRead;
          if (bytesRead === CHUNK) this.options.onProgress?.({ files: this.files, bytes: this.bytes, path: st.path });
        }
        await out.chmod(st.mode & KEPT_BITS);
      } finally {
        await out.close();
      }
      this.files++;
    } finally {
      await src.close();
    }
  }
}

/** `dest` may be replaced (a save dialog asked): a regular file or a symlink is removed first, a folder never. */
async function removeReplaceable(dest: string): Promise<void> {
  const st = await fs.promises.lstat(diskPath(dest)).catch(() => undefined);
  if (!st) return;
  if (st.isDirectory()) throw new LayerError('invalid-id', `refusing to replace the folder ${displayName(dest)}`, dest);
  await fs.promises.unlink(diskPath(dest));
}

function writeError(err: unknown, dest: string): LayerError {
  const code = (err as NodeJS.ErrnoException).code;
  const shown = displayName(dest);
  if (code === 'EEXIST') return new LayerError('invalid-id', `${shown} already exists: export never overwrites`, dest, err);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new LayerError('permission-denied', `cannot write ${shown}: ${code === 'EROFS' ? 'read-only file system' : 'permission denied'}; choose a folder you can write to`, dest, err);
  }
  return fromFsError(err, shown, 'write');
}

/**
 * Copies `entryPath` of `source` to `dest` (the new item's own path; an
 * existing folder at `dest` receives the item under its own name). Throws
 * `invalid-id` for a destination inside a forbidden folder or one that exists,
 * `not-found` when the path is not in the source, `cancelled` when the signal
 * fires (what was copied so far stays, and the error says where).
 */
export async function exportPath(source: ExportSource, entryPath: string, dest: string, options: ExportOptions): Promise<ExportResult> {
  const segs = layerPathSegments(entryPath);
  const path = '/' + segs.join('/');
  const archived = source.kind === 'layer' ? source.content.tar : source.layers.find((c) => c.tar)?.tar;
  if (archived) throw new LayerError('unsupported', `${path} is in a layer inside an image archive (${archived.blob.name}): export reads layer folders only`, archived.blob.file);
  const reader = readerOf(source, options.signal);
  const st = await reader.stat(path);
  if (!st) throw new LayerError('not-found', `${path} does not exist in ${source.kind === 'merged' ? 'the merged view' : 'this layer'} (absent or deleted)`, path);
  let target = nodePath.resolve(dest);
  const existing = await fs.promises.lstat(target).catch(() => undefined);
  if (existing?.isDirectory()) target = nodePath.join(target, segs.length ? segs[segs.length - 1] : 'root');
  await checkDestination(target, options.forbidden);
  const exporter = new Exporter(reader, options);
  try {
    await exporter.item(st, target, true);
  } catch (err) {
    if (err instanceof LayerError && err.code === 'cancelled') {
      throw new LayerError('cancelled', `export cancelled: ${exporter.files} files (${exporter.bytes} bytes) were written to ${target} and are left there`, target, err);
    }
    throw err;
  }
  const { files, dirs, symlinks, bytes, skipped } = exporter;
  return { dest: target, files, dirs, symlinks, bytes, skipped, dryRun: options.dryRun === true };
}
