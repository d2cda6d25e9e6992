/**
 * The quick path of comparing two layer files' bytes (Linux, files up to
 * QUICK_MAX bytes: the common case by far), in one self-contained function so
 * that this thread and the compare workers (comparePool.ts) run the very same
 * code: the workers get its source text. So it uses nothing from outside itself
 * but its arguments and globals (`Buffer`).
 *
 * How a file is opened without following a symlink: its folder is opened
 * O_DIRECTORY | O_NOFOLLOW once, and the folder's kernel name
 * (`/proc/self/fd/N`) checked to be the layer folder's real path plus the
 * folder's path (a symlink anywhere on the way would change it); then the file
 * is opened by its full path, O_NOFOLLOW | O_NONBLOCK | O_NOCTTY. A folder
 * swapped for a symlink between the check and the open would go unseen (the
 * safe path, compareContent.ts, checks after opening that it has the inode it
 * resolved; here the walk did not lstat the file, so there is none to check).
 * That needs a writer in an image layer, and there is none but the host's
 * root: a container's changes go to its own layer, and compare reads only
 * image layers. Opening inside the checked folder instead
 * (`/proc/self/fd/N/name`, as openat would) closed that window but cost a
 * third of the whole comparison.
 *
 * Each side is fstat()ed on the fd it is read through: the walk leaves regular
 * files unstatted (compare.ts walks with `stat: 'not-files'`), so this fstat is
 * where their size, mode, owner and mtime come from, at a third of the cost of
 * an lstat by path. Two regular files of one size up to QUICK_MAX are read
 * whole, synchronously (a few µs, where an async open-read-close costs ten times
 * that in thread-pool hops), asking for one byte more than the size: a file
 * that changes as it is read, or is not a regular file (a folder, a FIFO, a
 * device), answers "unknown", with no stats for its side, and the caller takes
 * the safe path, which checks everything (compareContent.ts).
 */

/** Files up to this size take the quick path. */
export const QUICK_MAX = 256 * 1024;

/** What a comparison answers: the bytes are equal, they differ (or the sizes do), or the quick path cannot tell (take the safe path). */
export type Quick = typeof SAME | typeof DIFFERS | typeof UNKNOWN;
export const SAME = 1;
export const DIFFERS = 0;
export const UNKNOWN = -1;

/** Numbers per side in a stats array: size, mode, uid, gid, mtimeMs (NaN: not known). */
export const STAT_FIELDS = 5;

export interface QuickComparer {
  /**
   * Compares `dirA + path` with `dirB + path`, writing each side's stats at
   * `stats[at]` and `stats[at + STAT_FIELDS]` (NaN for a side that is not a
   * regular file it could open and read).
   */
  compare(dirA: string, dirB: string, path: string, stats: Float64Array, at: number): Quick;
  /** Forgets the folders checked (call when a batch ends: a folder checked long ago is checked again). */
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
  // Pairs come folder by folder: the last few folders checked are enough to remember.
  const MAX_FOLDERS = 64;
  const realDirs = new Map<string, string | undefined>();
  const checked = new Set<string>();
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
    checked.clear();
    lastDir[0] = lastDir[1] = lastFolder[0] = lastFolder[1] = '';
  };

  /** Whether folder `folder` of layer `dir` is what its path says: its kernel name is the layer's real path plus `folder` (no symlink on the way). */
  const folderChecked = (dir: string, folder: string): boolean => {
    const key = dir + folder;
    if (checked.has(key)) return true;
    const real = realDir(dir);
    if (real === undefined) return false;
    let fd: number;
    try {
      fd = fs.openSync(key === '' ? '/' : key, FOLDER_FLAGS);
    } catch {
      return false;
    }
    let name: string | undefined;
    try {
      name = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      name = undefined;
    } finally {
      fs.closeSync(fd);
    }
    if (name !== real + folder) return false;
    if (checked.size >= MAX_FOLDERS) checked.clear();
    checked.add(key);
    return true;
  };

  // The last folder checked on each side (a pair's two folders alternate): most files need no lookup at all.
  const lastDir = ['', ''];
  const lastFolder = ['', ''];

  /** An fd of `dir + path` (side 0 or 1), its folder checked to have no symlink on the way, the file itself not followed; or undefined. */
  const openChecked = (dir: string, path: string, which: number): number | undefined => {
    const cut = path.lastIndexOf('/');
    const rest = path.length - cut - 1;
    // No name, `.` or `..`: not a file of this folder.
    if (cut < 0 || rest === 0 || (path.charCodeAt(cut + 1) === 46 && (rest === 1 || (rest === 2 && path.charCodeAt(cut + 2) === 46)))) return undefined;
    const last = lastFolder[which];
    if (!(dir === lastDir[which] && last.length === cut && path.startsWith(last))) {
      const folder = path.slice(0, cut);
      if (!folderChecked(dir, folder)) return undefined;
      lastDir[which] = dir;
      lastFolder[which] = folder;
    }
    try {
      return fs.openSync(dir + path, FILE_FLAGS);
    } catch {
      return undefined;
    }
  };

  /**
   * One side: opens `dir + path`, writes its stats at `stats[at]` and, when it
   * is a regular file of `readIf` bytes (-1: any size up to quickMax), reads
   * it into `buf` asking for one byte more. Returns the bytes read (its size),
   * -2 when it was not to be read, -1 when it is not a regular file it could
   * open and read whole (its stats then NaN).
   */
  const side = (dir: string, path: string, which: number, stats: Float64Array, at: number, readIf: number): number => {
    stats.fill(NaN, at, at + 5);
    const buf = which === 0 ? bufA : bufB;
    const fd = openChecked(dir, path, which);
    if (fd === undefined) return -1;
    let got = -1;
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) return -1;
      const size = st.size;
      if (size > quickMax || (readIf !== -1 && size !== readIf)) got = -2;
      else {
        // One read for most files: a regular file reads short only at its end, so `size`
        // bytes of the `size + 1` asked for say it is whole; more say it grew.
        const want = size + 1;
        let off = 0;
        for (;;) {
          const n = fs.readSync(fd, buf, off, want - off, off);
          off += n;
          if (n === 0 || off >= size) break;
        }
        if (off !== size) return -1;
        got = size;
      }
      stats[at] = size;
      stats[at + 1] = st.mode;
      stats[at + 2] = st.uid;
      stats[at + 3] = st.gid;
      stats[at + 4] = st.mtimeMs;
      return got;
    } catch {
      // A FIFO with nothing to read (EAGAIN), a file gone: the safe path says what it is.
      return -1;
    } finally {
      fs.closeSync(fd);
    }
  };

  const compare = (dirA: string, dirB: string, path: string, stats: Float64Array, at: number): Quick => {
    const a = side(dirA, path, 0, stats, at, -1);
    // B's bytes are read only when they could be A's: same size, A read.
    const b = side(dirB, path, 1, stats, at + 5, a >= 0 ? a : -3);
    if (a === -1 || b === -1) return -1 /* UNKNOWN */;
    if (stats[at] !== stats[at + 5]) return 0 /* DIFFERS */;
    if (a < 0 || b < 0) return -1 /* UNKNOWN: too big to read here */;
    return bufA.compare(bufB, 0, a, 0, a) === 0 ? 1 /* SAME */ : 0 /* DIFFERS */;
  };

  return { compare, close };
}
