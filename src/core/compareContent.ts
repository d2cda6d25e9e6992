/**
 * Are two layer files' bytes the same? Never judged by size alone, and never
 * through a symlink:
 *
 * - the safe path (any file, any size): each side resolved through
 *   layerFiles.ts (segment by segment with lstat), opened O_NOFOLLOW |
 *   O_NONBLOCK | O_NOCTTY and checked to be the very inode resolved, then both
 *   streamed side by side in chunks and stopped at the first difference;
 * - the quick path (Linux, files up to QUICK_MAX bytes, the common case by far):
 *   each file's folder opened O_DIRECTORY | O_NOFOLLOW once, its kernel name
 *   (`/proc/self/fd/N`) checked to be the layer folder's real path plus the
 *   folder's path (a symlink anywhere on the way would change it), then the
 *   file opened O_NOFOLLOW inside that very folder and read whole,
 *   synchronously (a few µs each, where an async open-read-close costs ten
 *   times that in thread-pool hops). Anything unexpected falls back to the
 *   safe path;
 * - a layer inside an image archive (`tar`): both sides read through
 *   readLayerFile, which knows archives.
 */
import * as fs from 'node:fs';
import { LayerError, fromFsError, throwIfAborted } from './errors';
import { layerPathSegments, readLayerFile, resolveIn } from './layerFiles';
import type { LayerContent } from './model';

const CHUNK = 256 * 1024;

/** One regular file of one layer, opened read-only without following anything. */
export async function openLayerFile(content: LayerContent, entryPath: string, signal?: AbortSignal): Promise<{ handle: fs.promises.FileHandle; st: fs.Stats }> {
  const r = await resolveIn(content, layerPathSegments(entryPath), signal);
  if (r.kind !== 'found') throw new LayerError('not-found', `${entryPath} is not in layer ${content.dir}`, entryPath);
  if (!r.st.isFile()) throw new LayerError('unsupported', `${entryPath} is not a regular file in layer ${content.dir}`, entryPath);
  const c = fs.constants;
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(r.disk, c.O_RDONLY | (c.O_NOFOLLOW ?? 0) | (c.O_NONBLOCK ?? 0) | (c.O_NOCTTY ?? 0));
  } catch (err) {
    throw fromFsError(err, entryPath);
  }
  const st = await handle.stat().catch(async (err) => {
    await handle.close();
    throw fromFsError(err, entryPath);
  });
  if (!st.isFile() || st.ino !== r.st.ino || st.dev !== r.st.dev) {
    await handle.close();
    throw new LayerError('io', `${entryPath} changed while it was opened: not read`, entryPath);
  }
  return { handle, st };
}

/**
 * True when `path` in layer `a` and `path` in layer `b` hold the same bytes.
 * The same inode on both sides (one layer folder seen twice) is equal unread.
 */
async function streamedSame(a: LayerContent, b: LayerContent, entryPath: string, signal?: AbortSignal): Promise<boolean> {
  const left = await openLayerFile(a, entryPath, signal);
  try {
    const right = await openLayerFile(b, entryPath, signal);
    try {
      if (left.st.ino === right.st.ino && left.st.dev === right.st.dev) return true;
      if (left.st.size !== right.st.size) return false;
      const bufA = Buffer.allocUnsafe(CHUNK);
      const bufB = Buffer.allocUnsafe(CHUNK);
      for (let off = 0; ; ) {
        throwIfAborted(signal);
        const [ra, rb] = await Promise.all([left.handle.read(bufA, 0, CHUNK, off), right.handle.read(bufB, 0, CHUNK, off)]);
        if (ra.bytesRead !== rb.bytesRead) return false;
        if (ra.bytesRead === 0) return true;
        if (bufA.compare(bufB, 0, rb.bytesRead, 0, ra.bytesRead) !== 0) return false;
        off += ra.bytesRead;
      }
    } catch (err) {
      throw fromFsError(err, entryPath);
    } finally {
      await right.handle.close();
    }
  } finally {
    await left.handle.close();
  }
}

/** Files up to this size take the quick path. */
const QUICK_MAX = 256 * 1024;
const QUICK_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0);
const FOLDER_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_DIRECTORY ?? 0) | (fs.constants.O_NOFOLLOW ?? 0);
const MAX_FOLDERS = 8;
const PROC_FD = process.platform === 'linux' && fs.existsSync('/proc/self/fd');

/**
 * Compares files of two layers, remembering each layer folder's real path.
 * One per comparison.
 */
export class ContentComparer {
  private readonly realDirs = new Map<string, string | undefined>();
  private readonly folders = new Map<string, number>();
  private readonly bufA = Buffer.allocUnsafe(QUICK_MAX + 1);
  private readonly bufB = Buffer.allocUnsafe(QUICK_MAX + 1);

  constructor(private readonly signal?: AbortSignal) {}

  /** Whether `entryPath` holds the same bytes in both layers; both sides were walked as regular files of `size` bytes. */
  async same(a: LayerContent, b: LayerContent, entryPath: string, size: number): Promise<boolean> {
    throwIfAborted(this.signal);
    if (a.tar || b.tar) return this.viaRead(a, b, entryPath);
    if (size === 0) {
      // Nothing to read, but both must still be the empty regular files the walks saw.
      return this.quick(a, b, entryPath) ?? streamedSame(a, b, entryPath, this.signal);
    }
    if (size <= QUICK_MAX) {
      const quick = this.quick(a, b, entryPath);
      if (quick !== undefined) return quick;
    }
    return streamedSame(a, b, entryPath, this.signal);
  }

  /** Both files read whole through readLayerFile (archives, or where no folder path exists). */
  private async viaRead(a: LayerContent, b: LayerContent, entryPath: string): Promise<boolean> {
    const [x, y] = await Promise.all([readLayerFile(a, entryPath, { signal: this.signal }), readLayerFile(b, entryPath, { signal: this.signal })]);
    if (x.kind !== 'file' || y.kind !== 'file') throw new LayerError('unsupported', `${entryPath} is not a regular file on both sides`, entryPath);
    return Buffer.compare(x.data, y.data) === 0;
  }

  /** The quick path; undefined when it cannot answer (then the safe path does). */
  private quick(a: LayerContent, b: LayerContent, entryPath: string): boolean | undefined {
    if (!PROC_FD) return undefined;
    const fa = this.openChecked(a, entryPath);
    if (fa === undefined) return undefined;
    try {
      const fb = this.openChecked(b, entryPath);
      if (fb === undefined) return undefined;
      try {
        const [sa, sb] = [fs.fstatSync(fa), fs.fstatSync(fb)];
        if (!sa.isFile() || !sb.isFile() || sa.size > QUICK_MAX || sb.size > QUICK_MAX) return undefined;
        if (sa.ino === sb.ino && sa.dev === sb.dev) return true;
        if (sa.size !== sb.size) return false;
        const na = readAll(fa, this.bufA, sa.size);
        const nb = readAll(fb, this.bufB, sb.size);
        return na === nb && this.bufA.compare(this.bufB, 0, nb, 0, na) === 0;
      } finally {
        fs.closeSync(fb);
      }
    } catch {
      return undefined;
    } finally {
      fs.closeSync(fa);
    }
  }

  /**
   * An fd of `dir + entryPath` opened without following a symlink anywhere,
   * or undefined: the file is opened O_NOFOLLOW inside its folder's checked
   * fd (`/proc/self/fd/D/name`, as openat(D, name) does), so nothing on the way
   * can be swapped for a symlink after the check.
   */
  private openChecked(c: LayerContent, entryPath: string): number | undefined {
    const cut = entryPath.lastIndexOf('/');
    const name = entryPath.slice(cut + 1);
    if (cut < 0 || name === '' || name === '.' || name === '..') return undefined;
    const folder = this.folderFd(c, entryPath.slice(0, cut));
    if (folder === undefined) return undefined;
    try {
      return fs.openSync(`/proc/self/fd/${folder}/${name}`, QUICK_FLAGS);
    } catch {
      return undefined;
    }
  }

  /** The fd of a folder of a layer, checked to be `real dir + folder` (no symlink on the way); a few are kept open. */
  private folderFd(c: LayerContent, folder: string): number | undefined {
    const key = c.dir + folder;
    const known = this.folders.get(key);
    if (known !== undefined) return known;
    const real = this.realDir(c.dir);
    if (real === undefined) return undefined;
    let fd: number;
    try {
      fd = fs.openSync(key === '' ? '/' : key, FOLDER_FLAGS);
    } catch {
      return undefined;
    }
    let name: string | undefined;
    try {
      name = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      name = undefined;
    }
    if (name !== real + folder) {
      fs.closeSync(fd);
      return undefined;
    }
    // Pairs come folder by folder: the last few folders of each side are enough.
    if (this.folders.size >= MAX_FOLDERS) this.close();
    this.folders.set(key, fd);
    return fd;
  }

  /** Closes the folders kept open. */
  close(): void {
    for (const fd of this.folders.values()) fs.closeSync(fd);
    this.folders.clear();
  }

  private realDir(dir: string): string | undefined {
    if (!this.realDirs.has(dir)) {
      let real: string | undefined;
      try {
        real = fs.realpathSync.native(dir);
      } catch {
        real = undefined;
      }
      this.realDirs.set(dir, real);
    }
    return this.realDirs.get(dir);
  }
}

/**
 * Reads an open regular file of `size` bytes from its start into `buf`,
 * asking for one byte more: a short read is the end (one read for most
 * files), and a file that grew since fstat shows in the count.
 */
function readAll(fd: number, buf: Buffer, size: number): number {
  const want = Math.min(size + 1, buf.length);
  let off = 0;
  for (;;) {
    const n = fs.readSync(fd, buf, off, want - off, off);
    off += n;
    if (n === 0 || off >= size) return off;
  }
}
