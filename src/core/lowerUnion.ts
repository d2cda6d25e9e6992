/**
 * The union of the layers below a walked layer, one folder at a time: decides
 * whether a path already exists below (modified) or not (added), and which
 * lower folders continue under a directory. Each lower folder is listed once
 * per directory of the walk (O(dirs × lowers)), never once per entry.
 *
 * Rules (nearest lower first): a lower holding the name decides (a non-directory
 * hides everything further down); a whiteout in a lower hides the name in the
 * lowers below it; an opaque directory in a lower hides the lowers below it for
 * that subtree.
 */
import type * as fs from 'node:fs';
import { readdirMappedSync } from './byteNamesFs';
import type { EntryType } from './layerEntry';
import { typeOfDirent } from './layerEntry';
import type { OpaqueAnswer } from './opaque';
import { diskChild, type WalkContext } from './walkContext';

export type WhiteoutStyle = 'aufs' | 'overlay';

/** One lower layer's folder at the current relative path. */
export interface LowerDir {
  readonly dir: string;
  readonly style: WhiteoutStyle;
}

export interface LowerListing {
  readonly lower: LowerDir;
  readonly entries: Map<string, EntryType>;
  /** Names this lower deletes from the lowers below it. */
  readonly whiteouts: Set<string>;
}

/** What the lowers hold at one name. */
export interface LowerHit {
  /** Type of the nearest visible lower entry; undefined when the name does not exist below. */
  readonly type: EntryType | undefined;
  /** Lower folders that continue under this name when it is a directory, nearest first. */
  readonly dirs: LowerDir[];
}

export const NO_HIT: LowerHit = { type: undefined, dirs: [] };

export const AUFS_PREFIX = '.wh.';
export const AUFS_META_PREFIX = '.wh..wh.';
export const AUFS_OPAQUE = '.wh..wh..opq';

/** Classifies an aufs-style name: the opaque marker, bookkeeping, a whiteout (with the name it deletes), or content. */
export function aufsKind(name: string): 'opaque' | 'meta' | 'whiteout' | 'content' {
  if (!name.startsWith(AUFS_PREFIX)) return 'content';
  if (name === AUFS_OPAQUE) return 'opaque';
  if (name.startsWith(AUFS_META_PREFIX)) return 'meta';
  return 'whiteout';
}

/** A name a whiteout may delete: not empty, `.`, `..`. */
export function isDeletableName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..';
}

/** What the visible lowers (nearest first) hold at `name`. */
export function lookupLower(listings: readonly LowerListing[], name: string): LowerHit {
  if (listings.length === 0) return NO_HIT;
  let type: EntryType | undefined;
  let dirs: LowerDir[] | undefined;
  for (const l of listings) {
    const t = l.entries.get(name);
    if (t !== undefined) {
      type ??= t;
      if (t !== 'dir') break;
      (dirs ??= []).push({ dir: diskChild(l.lower.dir, name), style: l.lower.style });
    }
    // A whiteout applies to the layers below its own, not to its own layer's entry.
    if (l.whiteouts.has(name)) break;
  }
  return type === undefined ? NO_HIT : { type, dirs: dirs ?? [] };
}

/**
 * Lists the candidate lower folders of one directory, nearest first, stopping
 * after the first opaque one (aufs marker, or overlay xattr answered by `opaque`).
 * A lower that cannot be listed is reported and skipped.
 */
export async function readLowers(
  candidates: readonly LowerDir[],
  opaque: (dir: string) => OpaqueAnswer,
  imagePath: string,
  ctx: WalkContext,
): Promise<LowerListing[]> {
  // Folders below one already known to be opaque are not even listed.
  let count = candidates.length;
  for (let k = 0; k < candidates.length; k++) {
    if (candidates[k].style === 'overlay' && opaque(candidates[k].dir) === true) {
      count = k + 1;
      break;
    }
  }
  const read = await Promise.all(candidates.slice(0, count).map((c) => ctx.list(c.dir, imagePath)));
  const listings: LowerListing[] = [];
  for (let k = 0; k < count; k++) {
    const dirents = read[k];
    if (!dirents) continue;
    const { listing, opaque: aufsOpaque } = toListing(candidates[k], dirents, imagePath, ctx);
    listings.push(listing);
    if (aufsOpaque) break;
  }
  return listings;
}

function toListing(
  lower: LowerDir,
  dirents: fs.Dirent[],
  imagePath: string,
  ctx: WalkContext,
): { listing: LowerListing; opaque: boolean } {
  const entries = new Map<string, EntryType>();
  const whiteouts = new Set<string>();
  let opaque = false;
  for (const d of dirents) {
    const type = typeOfDirent(d);
    if (lower.style === 'aufs') {
      const kind = aufsKind(d.name);
      if (kind === 'opaque') opaque = true;
      else if (kind === 'whiteout') {
        const target = d.name.slice(AUFS_PREFIX.length);
        if (isDeletableName(target)) whiteouts.add(target);
      } else if (kind === 'content') entries.set(d.name, type);
    } else if (type === 'char') {
      // Overlay whiteout: a 0/0 character device. Rare enough to lstat each.
      const st = ctx.lstat(diskChild(lower.dir, d.name), imagePath);
      if (st && st.rdev === 0) whiteouts.add(d.name);
      else entries.set(d.name, type);
    } else {
      entries.set(d.name, type);
    }
  }
  return { listing: { lower, entries, whiteouts }, opaque };
}

/** Most folders overlapFolders visits (upper side); a bigger overlap is left to the walk's own asks. */
export const PRIME_MAX_DIRS = 256;
/** …and the most time it spends (ms): it runs before the walk's first entry. */
const PRIME_MAX_MS = 10;

/**
 * The folders whose overlay opacity a diff walk may ask, found before the walk
 * so that one getfattr answers them (OpaqueProbe.prime) instead of one per
 * folder: every path that is a folder both in the layer and in some lower,
 * top down, as the upper folder (when the layer uses overlay whiteouts) and
 * each overlay lower's folder there. Whiteouts and opaque lowers are ignored:
 * a superset of what the walk asks. Stops after `max` folders or PRIME_MAX_MS.
 */
export function overlapFolders(upperRoot: string, upperStyle: WhiteoutStyle, lowers: readonly LowerDir[], max: number): string[] {
  const out: string[] = [];
  const add = (upper: string, below: readonly LowerDir[]): void => {
    if (upperStyle === 'overlay') out.push(upper);
    for (const l of below) if (l.style === 'overlay') out.push(l.dir);
  };
  add(upperRoot, lowers);
  const start = performance.now();
  const queue: { upper: string; below: readonly LowerDir[] }[] = [{ upper: upperRoot, below: lowers }];
  let visited = 0;
  for (let q = 0; q < queue.length && visited < max && performance.now() - start < PRIME_MAX_MS; q++) {
    const { upper, below } = queue[q];
    const dirs = subdirs(upper);
    if (dirs.length === 0) continue;
    const lowerDirs = below.map((l) => new Set(subdirs(l.dir)));
    for (const name of dirs) {
      const next: LowerDir[] = [];
      below.forEach((l, k) => {
        if (lowerDirs[k].has(name)) next.push({ dir: diskChild(l.dir, name), style: l.style });
      });
      if (next.length === 0) continue;
      const child = diskChild(upper, name);
      add(child, next);
      queue.push({ upper: child, below: next });
      if (++visited >= max) break;
    }
  }
  return out;
}

/** Names of the real folders in `dir` (not symlinks); none when it cannot be listed (the walk reports that). */
function subdirs(dir: string): string[] {
  try {
    return readdirMappedSync(dir)
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}
