/**
 * What a layer walk yields: one entry per path the layer adds, changes or
 * deletes, plus the problems met on the way. Pure data and formatting; no I/O.
 */
import type { Dirent } from 'node:fs';
import type { ErrorCode } from './errors';

/**
 * `added`: the path does not exist in the layers below.
 * `modified`: it exists below (for a directory: the layer holds something inside it).
 * `deleted`: a whiteout removes it.
 * `opaque`: a directory whose lower content is hidden; its own children come as separate entries.
 */
export type EntryStatus = 'added' | 'modified' | 'deleted' | 'opaque';
export type EntryType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket' | 'unknown';

export interface LayerEntry {
  /** Absolute path inside the image: `/etc/app/c.conf`. */
  readonly path: string;
  readonly status: EntryStatus;
  /** For deleted entries: the type in the lower layers when known, else `unknown`. */
  readonly type: EntryType;
  /** Bytes for regular files (lstat size), 0 otherwise (and 0 when `statted` is false). */
  readonly size: number;
  /** Permission and type bits from lstat; 0 for deleted entries (and when `statted` is false). */
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly mtimeMs?: number;
  /** Symlink target as stored (readlink); never followed. */
  readonly target?: string;
  /** Set on a directory that exists below when whether it is opaque cannot be known (no getfattr, no right to read trusted.* xattrs). */
  readonly opaqueUnknown?: true;
  /**
   * `false` when the walk ran with `stat: false` and did not lstat this entry:
   * `type` comes from the folder listing, `size` and `mode` are 0 and `uid`,
   * `gid`, `mtimeMs` are absent; lstat the entry's disk path to fill them for
   * what is shown. Absent when they were read (always with `stat: true`; with
   * `stat: false` still for the few entries the walk had to lstat, e.g. character
   * devices and snapshot entries compared with their parent) and on deleted entries.
   */
  readonly statted?: false;
}

/** The lstat fields a walk uses; fs.Stats has them. */
export interface StatLike {
  readonly mode: number;
  readonly size: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeMs: number;
  readonly rdev: number;
}

/** Something that could not be read; the walk goes on without it. */
export interface WalkProblem {
  /** Path inside the image the problem concerns (`/` for the layer as a whole). */
  readonly path: string;
  /** The file or folder on disk that failed. */
  readonly diskPath?: string;
  readonly message: string;
  readonly code: ErrorCode;
}

export interface WalkOptions {
  readonly signal?: AbortSignal;
  /** Called for each unreadable folder, file or xattr; without it such problems are dropped silently. */
  readonly onProblem?: (problem: WalkProblem) => void;
  /**
   * `true` (default): every entry is lstat()ed (size, mode, uid, gid, mtime).
   * `false`: types come from the folder listings (readdir's d_type), as `find`
   * does; symlinks are still read (readlink, for the target) and lstat is
   * called only where the walk needs it: overlay character devices (to tell a
   * 0/0 whiteout), names whose type the listing does not give, the entries of
   * a folder that can be listed but not searched (to report them as `true`
   * does), and in the snapshot form what exists in the parent too (compared).
   * Entries not statted carry `statted: false`. Paths, statuses, types,
   * targets and problems are the same as with `true` (short of entries
   * replaced or removed while the walk runs); 4-5x faster on a warm cache
   * (lstat is ~80% of a `true` walk).
   * `'not-files'`: as `false` for what the listing says is a regular file, as
   * `true` for everything else (compare.ts: its workers fstat the files they
   * open anyway, at a third of an lstat's cost).
   */
  readonly stat?: boolean | 'not-files';
}

// POSIX file type bits (fs.constants lacks some of them on Windows).
const S_IFMT = 0o170000;
const TYPE_BITS: ReadonlyArray<readonly [number, EntryType, string]> = [
  [0o100000, 'file', '-'],
  [0o040000, 'dir', 'd'],
  [0o120000, 'symlink', 'l'],
  [0o020000, 'char', 'c'],
  [0o060000, 'block', 'b'],
  [0o010000, 'fifo', 'p'],
  [0o140000, 'socket', 's'],
];

export function typeOfMode(mode: number): EntryType {
  // A switch, not a TYPE_BITS lookup: this runs once per entry of a walk.
  switch (mode & S_IFMT) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'dir';
    case 0o120000:
      return 'symlink';
    case 0o020000:
      return 'char';
    case 0o060000:
      return 'block';
    case 0o010000:
      return 'fifo';
    case 0o140000:
      return 'socket';
    default:
      return 'unknown';
  }
}

export function typeOfStats(st: StatLike): EntryType {
  return typeOfMode(st.mode);
}

export function typeOfDirent(d: Dirent): EntryType {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) return 'symlink';
  if (d.isCharacterDevice()) return 'char';
  if (d.isBlockDevice()) return 'block';
  if (d.isFIFO()) return 'fifo';
  if (d.isSocket()) return 'socket';
  return 'unknown';
}

/**
 * An entry from an lstat result. `size` counts only regular files.
 * (Each shape is one object literal, not a literal plus added fields: see walkContext's keepShapes.)
 */
export function entryFromStats(
  path: string,
  status: EntryStatus,
  st: StatLike,
  target?: string,
  opaqueUnknown?: boolean,
): LayerEntry {
  const type = typeOfStats(st);
  const size = type === 'file' ? st.size : 0;
  const { mode, uid, gid, mtimeMs } = st;
  if (target !== undefined) return { path, status, type, size, mode, uid, gid, mtimeMs, target };
  if (opaqueUnknown) return { path, status, type, size, mode, uid, gid, mtimeMs, opaqueUnknown: true };
  return { path, status, type, size, mode, uid, gid, mtimeMs };
}

/** An entry of a `stat: false` walk that was not lstat()ed: type from readdir. */
export function unstattedEntry(
  path: string,
  status: EntryStatus,
  type: EntryType,
  target?: string,
  opaqueUnknown?: boolean,
): LayerEntry {
  if (target !== undefined) return { path, status, type, size: 0, mode: 0, statted: false, target };
  if (opaqueUnknown) return { path, status, type, size: 0, mode: 0, statted: false, opaqueUnknown: true };
  return { path, status, type, size: 0, mode: 0, statted: false };
}

export function deletedEntry(path: string, type: EntryType | undefined): LayerEntry {
  return { path, status: 'deleted', type: type ?? 'unknown', size: 0, mode: 0 };
}

/** `ls -l` style mode: `drwxr-xr-x`, `lrwxrwxrwx`, `crw-------`, `-rwsr-xr-x`; `?` for an unknown type. */
export function formatMode(mode: number): string {
  const bits = mode & S_IFMT;
  const typeChar = TYPE_BITS.find(([b]) => b === bits)?.[2] ?? '?';
  const rwx = (shift: number, special: number, on: string, off: string): string => {
    const r = mode & (4 << shift) ? 'r' : '-';
    const w = mode & (2 << shift) ? 'w' : '-';
    const x = mode & (1 << shift);
    const xChar = mode & special ? (x ? on : off) : x ? 'x' : '-';
    return r + w + xChar;
  };
  return typeChar + rwx(6, 0o4000, 's', 'S') + rwx(3, 0o2000, 's', 'S') + rwx(0, 0o1000, 't', 'T');
}

/** Image path of `name` inside the image folder `dir` (`/` + `etc` → `/etc`). */
export function childImagePath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Code-unit order, the same on every platform and locale. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The order a walk gives paths in: depth first, a folder before its children,
 * names in code-unit order within a folder (compareNames). `/a/b` comes before
 * `/a-b`: the name `a` before `a-b`, though `/` is after `-`.
 */
export function comparePaths(p: string, q: string): number {
  const n = Math.min(p.length, q.length);
  for (let i = 0; i < n; i++) {
    const a = p.charCodeAt(i);
    const b = q.charCodeAt(i);
    if (a === b) continue;
    // One name ends here and the other goes on: the shorter name comes first.
    if (a === 47) return -1;
    if (b === 47) return 1;
    return a < b ? -1 : 1;
  }
  // One is the other's folder, or its name the start of the other's: it comes first.
  return p.length - q.length;
}
