/**
 * The quick path of comparing two layer files' bytes (Linux, files up to
 * QUICK_MAX bytes: the common case by far), in one self-contained function so
 * that this thread and the compare workers (comparePool.ts) run the very same
 * code: the workers get its source text. So it uses nothing from outside itself
 * but its arguments and globals (`Buffer`).
 *
 * How a file is opened without following a symlink anywhere: its folder is
 * opened O_DIRECTORY | O_NOFOLLOW once, and the folder's kernel name
 * (`/proc/self/fd/N`) checked to be the layer folder's real path plus the
 * folder's path (a symlink anywhere on the way would change it); then the file
 * is opened O_NOFOLLOW | O_NONBLOCK inside that very folder
 * (`/proc/self/fd/N/name`, as openat(N, name) does), so nothing on the way can
 * be swapped for a symlink after the check. It is read whole, synchronously (a
 * few µs, where an async open-read-close costs ten times that in thread-pool
 * hops), asking for one byte more than the walk's size: a file that is not the
 * regular file of that size the walk saw (it changed, or is now a folder or a
 * FIFO) answers "unknown" and the caller takes the safe path, which checks
 * everything (compareContent.ts).
 */

/** Files up to this size take the quick path. */
export const QUICK_MAX = 256 * 1024;

/** What `same` answers: the bytes are equal, they differ, or the quick path cannot tell (take the safe path). */
export type Quick = typeof SAME | typeof DIFFERS | typeof UNKNOWN;
export const SAME = 1;
export const DIFFERS = 0;
export const UNKNOWN = -1;

export interface QuickComparer {
  /** Whether `dirA + path` and `dirB + path` (both walked as regular files of `size` bytes) hold the same bytes. */
  same(dirA: string, dirB: string, path: string, size: number): Quick;
  /** Closes the folders kept open. */
  close(): void;
}

/** Whether the quick path can work here: it needs `/proc/self/fd`. */
export function quickPathAvailable(fs: typeof import('node:fs')): boolean {
  return process.platform === 'linux' && fs.existsSync('/proc/self/fd');
}

/**
 * A quick comparer over `fs`. Self-contained: no names from outside this
 * function (its source runs in workers as it is).
 */
export function makeQuickComparer(fs: typeof import('node:fs'), quickMax: number): QuickComparer {
  const c = fs.constants;
  const FILE_FLAGS = c.O_RDONLY | (c.O_NOFOLLOW ?? 0) | (c.O_NONBLOCK ?? 0) | (c.O_NOCTTY ?? 0);
  const FOLDER_FLAGS = c.O_RDONLY | (c.O_DIRECTORY ?? 0) | (c.O_NOFOLLOW ?? 0);
  // Pairs come folder by folder: the last few folders of each side are enough.
  const MAX_FOLDERS = 8;
  const realDirs = new Map<string, string | undefined>();
  const folders = new Map<string, number>();
  const bufA = Buffer.allocUnsafe(quickMax + 1);
  const bufB = Buffer.allocUnsafe(quickMax + 1);

  const realDir = (dir: string): string | undefined => {
    if (!realDirs.has(dir)) {
      let real: string | undefined;
      try {
        real = fs.realpathSync.native(dir);
      } catch {
        real = undefined;
      }
      realDirs.set(dir, real);
    }
    return realDirs.get(dir);
  };

  const close = (): void => {
    for (const fd of folders.values()) fs.closeSync(fd);
    folders.clear();
  };

  /** The fd of folder `folder` of layer `dir`, checked to be its real path (no symlink on the way); a few are kept open. */
  const folderFd = (dir: string, folder: string): number | undefined => {
    const key = dir + folder;
    const known = folders.get(key);
    if (known !== undefined) return known;
    const real = realDir(dir);
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
    if (folders.size >= MAX_FOLDERS) close();
    folders.set(key, fd);
    return fd;
  };

  /** An fd of `dir + path` opened without following a symlink anywhere, or undefined. */
  const openChecked = (dir: string, path: string): number | undefined => {
    const cut = path.lastIndexOf('/');
    const name = path.slice(cut + 1);
    if (cut < 0 || name === '' || name === '.' || name === '..') return undefined;
    const folder = folderFd(dir, path.slice(0, cut));
    if (folder === undefined) return undefined;
    try {
      return fs.openSync(`/proc/self/fd/${folder}/${name}`, FILE_FLAGS);
    } catch {
      return undefined;
    }
  };

  /**
   * Reads a file of `size` bytes from its start, asking for one byte more: one
   * read for most files, and a file that grew shows in the count (a short read
   * before `size` reads on, to the end).
   */
  const readAll = (fd: number, buf: Buffer, size: number): number => {
    const want = Math.min(size + 1, buf.length);
    let off = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, off, want - off, off);
      off += n;
      if (n === 0 || off >= size) return off;
    }
  };

  const same = (dirA: string, dirB: string, path: string, size: number): Quick => {
    if (size > quickMax) return -1 /* UNKNOWN */;
    const fa = openChecked(dirA, path);
    if (fa === undefined) return -1 /* UNKNOWN */;
    try {
      const fb = openChecked(dirB, path);
      if (fb === undefined) return -1 /* UNKNOWN */;
      try {
        // An empty file reads as a device that gives nothing would (/dev/null swapped in): look at its type.
        if (size === 0 && !(fs.fstatSync(fa).isFile() && fs.fstatSync(fb).isFile())) return -1 /* UNKNOWN */;
        // Exactly `size` bytes on both sides, or it is not the file the walks saw.
        if (readAll(fa, bufA, size) !== size || readAll(fb, bufB, size) !== size) return -1 /* UNKNOWN */;
        return bufA.compare(bufB, 0, size, 0, size) === 0 ? 1 /* SAME */ : 0 /* DIFFERS */;
      } finally {
        fs.closeSync(fb);
      }
    } catch {
      // A folder (EISDIR), a FIFO with nothing to read (EAGAIN), a file gone: the safe path says what it is.
      return -1 /* UNKNOWN */;
    } finally {
      fs.closeSync(fa);
    }
  };

  return { same, close };
}
