/**
 * What a layer walk yields: one entry per path the layer adds, changes or
 * deletes, plus the problems met on the way. Pure data and formatting; no I/O.
 */
import type { Dirent, Stats } from 'node:fs';
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
  /** Bytes for regular files (lstat size), 0 otherwise. */
  readonly size: number;
  /** Permission and type bits from lstat; 0 for deleted entries. */
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly mtimeMs?: number;
  /** Symlink target as stored (readlink); never followed. */
  readonly target?: string;
  /** Set on a directory that exists below when whether it is opaque cannot be known (no getfattr, no right to read trusted.* xattrs). */
  readonly opaqueUnknown?: true;
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
  const bits = mode & S_IFMT;
  for (const [b, type] of TYPE_BITS) if (b === bits) return type;
  return 'unknown';
}

export function typeOfStats(st: Stats): EntryType {
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

/** An entry from an lstat result. `size` counts only regular files. */
export function entryFromStats(
  path: string,
  status: EntryStatus,
  st: Stats,
  target?: string,
  opaqueUnknown?: boolean,
): LayerEntry {
  const type = typeOfStats(st);
  const entry: {
    -readonly [K in keyof LayerEntry]: LayerEntry[K];
  } = {
    path,
    status,
    type,
    size: type === 'file' ? st.size : 0,
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    mtimeMs: st.mtimeMs,
  };
  if (target !== undefined) entry.target = target;
  if (opaqueUnknown) entry.opaqueUnknown = true;
  return entry;
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
