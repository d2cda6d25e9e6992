/**
 * A layer's content seen from one folder down, for a path search whose
 * pattern can only match below a literal folder (`/usr/lib/**\/libssl*` only
 * matches under `/usr/lib`): the search walks that folder, not the layer.
 *
 * The scoped content is an ordinary LayerContent rooted at the folder, so the
 * layer walk (layerWalk.ts) applies every whiteout rule below it. What the walk
 * of the whole layer would have decided above the folder is decided here, with
 * the same rules (lowerUnion.ts, snapshotWalk.ts):
 *
 * - each segment must be a real folder in the layer (not a symlink, never
 *   followed; not a whiteout): otherwise nothing below it is in the layer;
 * - form `diff`: the lower folders that continue under each segment (a lower
 *   non-folder or whiteout hides the lowers below it; an opaque folder, in the
 *   layer or in a lower, hides the lowers below it), and whether the folder
 *   exists below (its own status, added or modified);
 * - form `snapshot`: the parent snapshot's folder at the same path, when it
 *   is one, and the folder's own status as the snapshot walk reports it.
 *
 * Reads only: lstat, and getfattr (OpaqueProbe) for overlay opacity above the folder.
 * Folder layers only: a layer inside an image archive (`content.tar`) has no
 * folder to scope to, and the search walks it whole, filtered by the pattern.
 */
import * as fs from 'node:fs';
import { diskPath, displayName } from './byteNames';
import { readlinkMappedSync } from './byteNamesFs';
import { LayerError, fromFsError } from './errors';
import { deletedEntry, entryFromStats, typeOfMode, type EntryType, type LayerEntry } from './layerEntry';
import { AUFS_OPAQUE, AUFS_PREFIX, aufsKind, type LowerDir } from './lowerUnion';
import type { LayerContent } from './model';
import { OpaqueProbe } from './opaque';

export interface ScopedContent {
  /** The layer's content rooted at the folder (a walk of it yields paths relative to it); undefined when there is no folder to walk. */
  readonly content?: LayerContent;
  /**
   * The folder's own entry, as the whole layer's walk yields it: a folder, or
   * what replaced it (a file, a symlink, a whiteout). `held`: a snapshot folder
   * unchanged from its parent, yielded only when something below it changed.
   * In the diff form the walk of the scoped content yields `/` itself when the
   * folder is opaque: that entry replaces this one.
   */
  readonly head?: { readonly entry: LayerEntry; readonly held: boolean };
}

/**
 * `content` scoped to the folder `segs` (validated segments, see
 * layerPathSegments; not empty). Undefined when the layer holds nothing at or
 * below that folder. Throws not-found when the layer's own folder is missing.
 */
export async function scopeToFolder(content: LayerContent, segs: readonly string[], signal?: AbortSignal): Promise<ScopedContent | undefined> {
  requireDirSync(content.dir);
  return content.form === 'snapshot' ? scopeSnapshot(content, segs) : scopeDiff(content, segs, signal);
}

const folderPath = (segs: readonly string[]) => '/' + segs.join('/');

/** lstat, or undefined when the path does not exist (any other failure is thrown, naming the path). */
function lstatOrNone(disk: string): fs.Stats | undefined {
  try {
    // No throw for a missing path: most layers of a store lack the folder, and an Error per layer costs more than the lstat.
    return fs.lstatSync(diskPath(disk), { throwIfNoEntry: false });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw fromFsError(err, displayName(disk), 'lstat');
  }
}

/**
 * walkContext's requireDir, synchronous: a search scopes every layer of a
 * store, and a thread-pool round trip per layer (most have nothing to walk)
 * cost more than the search itself (measured: 5 s over 11,796 layers on a busy machine).
 */
function requireDirSync(dir: string): void {
  const st = lstatOrNone(dir);
  if (!st) throw new LayerError('not-found', `the layer folder ${dir} does not exist`, dir);
  if (!st.isDirectory()) {
    const kind = st.isSymbolicLink() ? 'a symlink (not followed)' : 'not a directory';
    throw new LayerError('not-found', `the layer folder ${dir} is ${kind}`, dir);
  }
}

const exists = (disk: string) => lstatOrNone(disk) !== undefined;
const isWhiteoutDevice = (st: fs.Stats) => st.isCharacterDevice() && st.rdev === 0;
const readlinkOf = (disk: string, st: fs.Stats) => (st.isSymbolicLink() ? readlinkMappedSync(disk) : undefined);

function scopeSnapshot(content: LayerContent, segs: readonly string[]): ScopedContent | undefined {
  let dir = content.dir;
  let parent = content.parentDir;
  let st: fs.Stats | undefined;
  let old: fs.Stats | undefined;
  for (let k = 0; k < segs.length; k++) {
    const name = segs[k];
    st = lstatOrNone(dir + '/' + name);
    old = parent !== undefined ? lstatOrNone(parent + '/' + name) : undefined;
    const path = folderPath(segs.slice(0, k + 1));
    if (k === segs.length - 1 && !st?.isDirectory()) {
      // The folder itself is gone or replaced: its one entry, as snapshotWalk would yield it.
      if (!st) return old ? { head: { entry: deletedEntry(path, typeOfMode(old.mode)), held: false } } : undefined;
      const target = readlinkOf(dir + '/' + name, st);
      if (old && !nonFolderChanged(old, st, target, parent + '/' + name)) return undefined;
      return { head: { entry: entryFromStats(path, old ? 'modified' : 'added', st, target), held: false } };
    }
    if (!st?.isDirectory()) return undefined;
    dir += '/' + name;
    // Below a path that is not a folder in the parent, everything is added (snapshotWalk: no parentDisk).
    parent = old?.isDirectory() ? parent + '/' + name : undefined;
  }
  const scoped: LayerContent = { ...content, dir, parentDir: parent };
  if (!old) return { content: scoped, head: { entry: entryFromStats(folderPath(segs), 'added', st!), held: false } };
  // moby's statDifferent for a folder: size and mtime are not compared.
  const changed = old.mode !== st!.mode || old.uid !== st!.uid || old.gid !== st!.gid || old.rdev !== st!.rdev;
  return { content: scoped, head: { entry: entryFromStats(folderPath(segs), 'modified', st!), held: !changed } };
}

/** moby's statDifferent for a non-folder (snapshotWalk.ts): mode, owner, device, size, mtime, a link's target. */
function nonFolderChanged(old: fs.Stats, st: fs.Stats, target: string | undefined, oldDisk: string): boolean {
  if (old.mode !== st.mode || old.uid !== st.uid || old.gid !== st.gid || old.rdev !== st.rdev || old.size !== st.size) return true;
  const a = old.mtimeMs;
  const b = st.mtimeMs;
  if (a !== b && !(Math.floor(a / 1000) === Math.floor(b / 1000) && (a % 1000 === 0 || b % 1000 === 0))) return true;
  return target !== undefined && readlinkOf(oldDisk, old) !== target;
}

async function scopeDiff(content: LayerContent, segs: readonly string[], signal?: AbortSignal): Promise<ScopedContent | undefined> {
  const style = content.whiteouts;
  let upper = content.dir;
  let lowers: LowerDir[] = content.lowerDirs.map((dir, k) => ({ dir, style: content.lowerWhiteouts?.[k] ?? style }));
  let st: fs.Stats | undefined;
  let below: Below = { lowers: [], type: undefined };
  // Made for the first folder above the scoped one that needs a getfattr (most layers need none).
  let probe: { probe: OpaqueProbe; controller: AbortController; stop: () => void } | undefined;
  const newProbe = () => {
    const controller = new AbortController();
    const stop = () => controller.abort();
    signal?.addEventListener('abort', stop, { once: true });
    return { probe: new OpaqueProbe(content.dir, controller.signal, () => undefined), controller, stop };
  };
  try {
    for (let k = 0; k < segs.length; k++) {
      const name = segs[k];
      if (style === 'aufs' && aufsKind(name) !== 'content') return undefined; // aufs bookkeeping is never content
      const disk = upper + '/' + name;
      st = lstatOrNone(disk);
      // An aufs whiteout without the entry deletes the name (beside it, the walk lists the entry: so does this).
      const aufsWhiteout = !st && style === 'aufs' && exists(upper + '/' + AUFS_PREFIX + name);
      below = continuing(lowers, name);
      if (k === segs.length - 1 && !st?.isDirectory()) {
        // The folder itself is deleted or replaced here: its one entry, as layerWalk would yield it.
        const path = folderPath(segs);
        if (st && !(style === 'overlay' && isWhiteoutDevice(st))) {
          const status = below.type === undefined ? 'added' : 'modified';
          return { head: { entry: entryFromStats(path, status, st, readlinkOf(disk, st)), held: false } };
        }
        return st || aufsWhiteout ? { head: { entry: deletedEntry(path, below.type), held: false } } : undefined;
      }
      if (!st?.isDirectory()) return undefined;
      upper = disk;
      lowers = below.lowers;
      // The folder's own opacity is the walk's to judge (it yields `/` as opaque); those above it are judged here.
      if (k < segs.length - 1 && lowers.length > 0) {
        probe ??= newProbe();
        lowers = await visibleLowers(upper, style, lowers, probe.probe);
      }
    }
  } finally {
    if (probe) {
      signal?.removeEventListener('abort', probe.stop);
      probe.controller.abort(); // ends its getfattr processes
    }
  }
  const scoped: LayerContent = { ...content, dir: upper, lowerDirs: lowers.map((l) => l.dir), lowerWhiteouts: lowers.map((l) => l.style) };
  const status = below.type === undefined ? 'added' : 'modified';
  return { content: scoped, head: { entry: entryFromStats(folderPath(segs), status, st!), held: false } };
}

/** What the lowers hold at one name: the folders that continue under it, and the nearest visible entry's type. */
interface Below {
  readonly lowers: LowerDir[];
  readonly type: EntryType | undefined;
}

/** lowerUnion's lookupLower for one name, by lstat. */
function continuing(lowers: readonly LowerDir[], name: string): Below {
  const next: LowerDir[] = [];
  let type: EntryType | undefined;
  for (const l of lowers) {
    const aufs = l.style === 'aufs';
    const st = aufs && aufsKind(name) !== 'content' ? undefined : lstatOrNone(l.dir + '/' + name);
    if (st && !aufs && isWhiteoutDevice(st)) break; // deleted in this lower: hidden below it
    if (st) {
      type ??= typeOfMode(st.mode);
      if (!st.isDirectory()) break; // a non-folder hides everything further down
      next.push({ dir: l.dir + '/' + name, style: l.style });
    }
    if (aufs && exists(l.dir + '/' + AUFS_PREFIX + name)) break;
  }
  return { lowers: next, type };
}

/** The lowers still visible below the folder `upper`: none when it is opaque, else down to the first opaque lower. */
async function visibleLowers(upper: string, style: LayerContent['whiteouts'], lowers: readonly LowerDir[], probe: OpaqueProbe): Promise<LowerDir[]> {
  const asked = [...(style === 'overlay' ? [upper] : []), ...lowers.slice(0, -1).filter((l) => l.style === 'overlay').map((l) => l.dir)];
  const answers = asked.length > 0 ? await probe.ask(asked) : new Map<string, boolean | undefined>();
  const opaque = (dir: string, s: LayerContent['whiteouts']) => (s === 'aufs' ? exists(dir + '/' + AUFS_OPAQUE) : answers.get(dir) === true);
  if (opaque(upper, style)) return [];
  const cut = lowers.findIndex((l, k) => k < lowers.length - 1 && opaque(l.dir, l.style));
  return cut < 0 ? [...lowers] : lowers.slice(0, cut + 1);
}

/** The disk path of an image path in a layer's own folder (paths from a walk: no `..`, real folders only). */
export function diskPathIn(content: LayerContent, imagePath: string): string {
  if (imagePath.includes('\0') || imagePath.split('/').includes('..')) throw new LayerError('invalid-id', `refusing the path ${JSON.stringify(imagePath)}`);
  return content.dir + imagePath;
}
