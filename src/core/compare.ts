/**
 * Two points of the image world compared file by file: image A's top against
 * image B's, step i against step j of one image, or a range of steps (what
 * steps i..j add together: the merged tree at i-1 against the one at j), in
 * any roots and layouts.
 *
 * Each side is its merged filesystem (layerStack.ts), built from the layers'
 * own walks. The layers both sides share at the bottom (the same layer of the
 * same store: one folder on disk) are walked once and applied to both trees;
 * a path both sides take from the same shared layer is equal without a look.
 * Every other path present on both sides is compared on its type, mode, owner,
 * mtime and symlink target (and, when asked, its extended attributes:
 * compareXattrs.ts), and a regular file on its bytes: sizes first, then the
 * two files read side by side (compareContent.ts), never by size alone.
 *
 * The walks leave regular files unstatted (`stat: 'not-files'`): the byte
 * comparers fstat each file on the fd they read it through (quickCompare.ts),
 * a third of an lstat's cost, and the few files no comparer opens (one side
 * only, an archive's, a name that is not UTF-8) are lstat()ed at the end.
 */
import * as fs from 'node:fs';
import { LayerError, fromFsError, throwIfAborted } from './errors';
import { globToRegExp } from './fileFilter';
import { humanSize, printable } from './format';
import { formatMode, type LayerEntry } from './layerEntry';
import type { MergedEntry } from './layerStack';
import { Side, walkInto, walkTops, type Reporter } from './compareWalk';
import { ContentComparer } from './compareContent';
import { ContentBatches } from './comparePool';
import { Pacer } from './concurrency';
import { DIFFERS, SAME, UNKNOWN } from './quickCompare';
import { diskPath, hasMappedBytes } from './byteNames';
import { readXattrs, type XattrsState } from './compareXattrs';

import type { ComparePoint } from './comparePoints';
import type { Layer, LayerContent } from './model';
import { shortId } from './model';

export type { XattrsState } from './compareXattrs';
export { comparePoint, pointLabel, resolveComparison, type ComparePoint } from './comparePoints';

export type FileChangeKind = 'added' | 'removed' | 'changed';
/** What differs in a path present on both sides. `unreadable`: its bytes could not be compared (see problems). */
export type FileAspect = 'type' | 'content' | 'mode' | 'owner' | 'mtime' | 'target' | 'xattrs' | 'unreadable';

/** A path as one side has it: what its walk entry says (owner and mtime undefined for a folder no walk gave itself). */
export interface FileSide extends Pick<LayerEntry, 'type' | 'size' | 'mode' | 'uid' | 'gid' | 'mtimeMs' | 'target'> {
  /** Index, in the side's `layers`, of the layer whose copy is visible. */
  readonly layer: number;
}

export interface FileChange {
  readonly path: string;
  readonly change: FileChangeKind;
  /** For `changed`: what differs, in this order: type, content, mode, owner, mtime, target, xattrs, unreadable. */
  readonly aspects: readonly FileAspect[];
  readonly before?: FileSide;
  readonly after?: FileSide;
  /** after.size - before.size (a missing side counts 0). */
  readonly sizeDelta: number;
}

export interface CompareProblem {
  readonly side: 'a' | 'b';
  readonly path: string;
  readonly message: string;
}

export interface CompareResult {
  /** Every path added, removed or changed from A to B, sorted by path (code units). */
  readonly changes: FileChange[];
  /** Layers at the bottom of both sides that are the same layer, walked once, never compared file by file. */
  readonly sharedLayers: number;
  /** Entries of each side's merged tree (before ignore patterns). */
  readonly entries: { readonly a: number; readonly b: number };
  /** Regular files whose bytes were read to compare them. */
  readonly contentCompared: number;
  readonly sizeDelta: number;
  readonly problems: CompareProblem[];
  /**
   * With `xattrs`: whether extended attributes were compared, or why not
   * (getfattr is not installed; no layer of either side has files on disk, as
   * in an image archive). Undefined when not asked.
   */
  readonly xattrs?: XattrsState;
}

export interface CompareProgress {
  readonly phase: 'walk' | 'compare';
  /** walk: layers walked so far, of `total`; compare: paths compared so far, of `total`. */
  readonly done: number;
  readonly total: number;
}

export interface CompareOptions {
  readonly signal?: AbortSignal;
  /** Globs of paths to leave out (fileFilter syntax: `/var/log/**`, `*.pyc`); a folder's match leaves out what is below it. */
  readonly ignore?: readonly string[];
  readonly onProgress?: (p: CompareProgress) => void;
  /** Leave mtimes out: two builds of one Dockerfile differ in little else. */
  readonly ignoreMtime?: boolean;
  /**
   * Compare extended attributes too, where getfattr can read them (default
   * false: a getfattr run over every path compared costs about as much as the
   * whole comparison).
   */
  readonly xattrs?: boolean;
}

/** A path matcher for ignore globs: with a `/`, on the whole path (and below it); without, on the name. */
export function ignoreMatcher(globs: readonly string[]): (path: string) => boolean {
  const tests = globs
    .map((g) => g.trim())
    .filter(Boolean)
    .map((g) => {
      if (!g.includes('/')) {
        const re = globToRegExp(g);
        return (p: string) => re.test(p.slice(p.lastIndexOf('/') + 1));
      }
      const re = globToRegExp(g.startsWith('/') ? g : `/${g}`);
      return (p: string) => re.test(p);
    });
  if (tests.length === 0) return () => false;
  return (p) => {
    // A folder's match covers what is below it: test the path and each of its ancestors.
    for (let cut = p.length; cut > 0; cut = p.lastIndexOf('/', cut - 1)) {
      const sub = p.slice(0, cut);
      if (tests.some((t) => t(sub))) return true;
    }
    return false;
  };
}

/** A regular file's stats as an fstat or lstat gave them. */
type FileStat = Pick<Required<LayerEntry>, 'size' | 'mode' | 'uid' | 'gid' | 'mtimeMs'>;

/**
 * What a change reports of one side: the walk's entry, with `st` for a regular
 * file the walk left unstatted. An implicit folder (made for a child a walk
 * gave without its folder) has no owner or mtime: undefined.
 */
function fileSide(e: MergedEntry, st?: FileStat): FileSide {
  if (st) return { type: e.type, size: st.size, mode: st.mode, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs, target: e.target, layer: e.layer };
  return { type: e.type, size: e.size, mode: e.mode, uid: e.uid, gid: e.gid, mtimeMs: e.mtimeMs, target: e.target, layer: e.layer };
}

/**
 * The stats of a regular file the walks left unstatted (they walk with `stat:
 * 'not-files'`), by an lstat now; undefined for any other entry (the walk's
 * own stats hold), and when it cannot be read (a problem is pushed, and the
 * side shows size and mode 0).
 */
function statNow(e: MergedEntry, layers: readonly LayerContent[], side: 'a' | 'b', problems: CompareProblem[]): FileStat | undefined {
  if (e.statted !== false) return undefined;
  try {
    const st = fs.lstatSync(diskPath(layers[e.layer].dir + e.path));
    return { size: st.isFile() ? st.size : 0, mode: st.mode, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs };
  } catch (err) {
    problems.push({ side, path: e.path, message: `could not be read: ${fromFsError(err, e.path).message}` });
    return undefined;
  }
}

/** The layer contents of a point, or an error that names the step and why. */
function contents(point: ComparePoint): LayerContent[] {
  return point.layers.map((l) => {
    if (!l.content) {
      const why = l.problems.map((p) => p.message).join('; ') || 'its folder is missing';
      throw new LayerError('not-found', `${point.label}: layer ${shortId(l.id)} has no content on disk: ${why}`);
    }
    return l.content;
  });
}

/** How many layers at the bottom of both sides are one and the same layer. */
function sharedPrefix(a: readonly Layer[], b: readonly Layer[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n].key === b[n].key) n++;
  return n;
}

/** Compares the merged filesystems of two points. Throws LayerError `cancelled` when the signal fires. */
export async function compareFiles(a: ComparePoint, b: ComparePoint, options: CompareOptions = {}): Promise<CompareResult> {
  const { signal } = options;
  const sideA = new Side('a', contents(a));
  const sideB = new Side('b', contents(b));
  const shared = sharedPrefix(a.layers, b.layers);
  const problems: CompareProblem[] = [];
  const totalWalks = sideA.layers.length + sideB.layers.length - shared;
  let walks = 0;
  const report: Reporter = {
    signal,
    problem: (side, path, message) => problems.push({ side, path, message }),
    walked: () => options.onProgress?.({ phase: 'walk', done: ++walks, total: totalWalks }),
  };
  options.onProgress?.({ phase: 'walk', done: 0, total: totalWalks });
  const ignored = ignoreMatcher(options.ignore ?? []);
  const quick = new ContentBatches(signal);
  try {
    await walkInto([sideA, sideB], 0, shared, report);
    // Each side's top layer (when the sides do not share it) is walked last, together with the other's
    // (compareWalk.ts): a path both have is final once both walks are past it, and its regular file pair
    // goes to the byte comparers while this thread walks on.
    const topOf = (side: Side) => (side.layers.length - 1 >= shared ? side.layers.length - 1 : -1);
    const [topA, topB] = [topOf(sideA), topOf(sideB)];
    await walkInto([sideA], shared, topA < 0 ? sideA.layers.length : topA, report);
    await walkInto([sideB], shared, topB < 0 ? sideB.layers.length : topB, report);
    const toCompare: Pair[] = [];
    /** Whether a pair was queued as the top layers were walked (the test `onPath` makes: no set of them is kept). */
    let queuedEarly = (ea: MergedEntry, eb: MergedEntry) => (ea.layer === topA || eb.layer === topB) && quickPair(quick, sideA.layers, sideB.layers, ea, eb) && !ignored(ea.path);
    const tops = [...(topA < 0 ? [] : [{ side: sideA, layer: topA }]), ...(topB < 0 ? [] : [{ side: sideB, layer: topB }])];
    const ordered = await walkTops(tops, report, (path) => {
      const ea = sideA.tree.get(path);
      const eb = ea && sideB.tree.get(path);
      if (eb && queuedEarly(ea, eb)) toCompare.push({ path, a: ea, b: eb, quick: quick.add(sideA.layers[ea.layer].dir, sideB.layers[eb.layer].dir, path) });
    });
    if (!ordered) {
      // A walk out of order: what was paired may have changed since. Pair everything again from the trees.
      toCompare.length = 0;
      queuedEarly = () => false;
    }

    const changes: FileChange[] = [];
    // Paths on one side only: every path of two unrelated images, or of a range from step 0. Their regular
    // files were not lstat()ed by the walks and are now, in slices, cancellable, as the walks were.
    const pacer = new Pacer(signal, 8);
    let n = 0;
    for (const ea of sideA.tree.each()) {
      if ((++n & 255) === 0 && pacer.due()) await pacer.pause();
      if (ignored(ea.path)) continue;
      const eb = sideB.tree.get(ea.path);
      if (!eb) {
        const before = fileSide(ea, statNow(ea, sideA.layers, 'a', problems));
        changes.push({ path: ea.path, change: 'removed', aspects: [], before, sizeDelta: 0 - before.size });
      } else if (!(ea.layer === eb.layer && ea.layer < shared) && !queuedEarly(ea, eb)) {
        const queue = quickPair(quick, sideA.layers, sideB.layers, ea, eb);
        toCompare.push({ path: ea.path, a: ea, b: eb, quick: queue ? quick.add(sideA.layers[ea.layer].dir, sideB.layers[eb.layer].dir, ea.path) : -1 });
      }
    }
    for (const eb of sideB.tree.each()) {
      if ((++n & 255) === 0 && pacer.due()) await pacer.pause();
      if (ignored(eb.path) || sideA.tree.get(eb.path)) continue;
      const after = fileSide(eb, statNow(eb, sideB.layers, 'b', problems));
      changes.push({ path: eb.path, change: 'added', aspects: [], after, sizeDelta: after.size });
    }

    const xattrs = options.xattrs !== true ? undefined : await pairXattrs(toCompare, sideA.layers, sideB.layers, signal);
    options.onProgress?.({ phase: 'compare', done: 0, total: toCompare.length });
    await quick.finish();
    const contentCompared = await comparePairs(toCompare, sideA.layers, sideB.layers, quick, xattrs?.of, options, changes, problems);
    options.onProgress?.({ phase: 'compare', done: toCompare.length, total: toCompare.length });
    changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
    return {
      changes,
      sharedLayers: shared,
      entries: { a: sideA.tree.count, b: sideB.tree.count },
      contentCompared,
      sizeDelta: changes.reduce((n, c) => n + c.sizeDelta, 0),
      problems,
      ...(xattrs ? { xattrs: xattrs.state } : {}),
    };
  } finally {
    quick.close();
  }
}

/**
 * Whether a pair both sides have is for the quick byte comparers: two regular
 * files outside archives, with a name that is its own bytes (one that is not
 * valid UTF-8, byteNames.ts, takes the safe path).
 */
function quickPair(
  quick: ContentBatches,
  layersA: readonly LayerContent[],
  layersB: readonly LayerContent[],
  a: Pick<MergedEntry, 'path' | 'type' | 'layer'>,
  b: Pick<MergedEntry, 'type' | 'layer'>,
): boolean {
  return a.type === 'file' && b.type === 'file' && quick.enabled && !layersA[a.layer].tar && !layersB[b.layer].tar && !hasMappedBytes(a.path);
}

/** A path both sides have: the two tree entries (their FileSides are made as the pair is compared, with the comparers' stats). */
interface Pair {
  readonly path: string;
  readonly a: MergedEntry;
  readonly b: MergedEntry;
  /** Its index in the quick batches (ContentBatches.add), or -1: not queued there. */
  readonly quick: number;
}

/**
 * Compares the paths both sides have (not from one shared layer): attributes,
 * then the bytes of same-size regular files. Pushes what differs to
 * `changes`; returns how many files' bytes were read.
 */
async function comparePairs(
  toCompare: readonly Pair[],
  layersA: readonly LayerContent[],
  layersB: readonly LayerContent[],
  quick: ContentBatches,
  xattrsOf: ((path: string, layer: number, side: 'a' | 'b') => string | undefined) | undefined,
  options: CompareOptions,
  changes: FileChange[],
  problems: CompareProblem[],
): Promise<number> {
  let contentCompared = 0;
  const content = new ContentComparer(options.signal);
  const pacer = new Pacer(options.signal, 8);
  for (let n = 0; n < toCompare.length; n++) {
    if ((n & 255) === 0) {
      options.onProgress?.({ phase: 'compare', done: n, total: toCompare.length });
      if (pacer.due()) await pacer.pause();
    }
    const { path, a: ea, b: eb, quick: index } = toCompare[n];
    // A regular file's stats: what the comparers' fstat saw, else an lstat now.
    const stA = ea.statted !== false ? undefined : ((index >= 0 ? quick.side(index, 'a') : undefined) ?? statNow(ea, layersA, 'a', problems));
    const stB = eb.statted !== false ? undefined : ((index >= 0 ? quick.side(index, 'b') : undefined) ?? statNow(eb, layersB, 'b', problems));
    const before = fileSide(ea, stA);
    const after = fileSide(eb, stB);
    // A side that could not be read now shows only that (its size and mode 0 would read as changes).
    const unread = (ea.statted === false && !stA) || (eb.statted === false && !stB);
    const aspects: FileAspect[] = unread ? (before.type !== after.type ? ['type', 'unreadable'] : ['unreadable']) : attributeAspects(before, after, options.ignoreMtime === true);
    if (xattrsOf && xattrsOf(path, before.layer, 'a') !== xattrsOf(path, after.layer, 'b')) aspects.push('xattrs');
    if (before.type === 'file' && after.type === 'file' && !unread) {
      if (before.size !== after.size) aspects.unshift('content');
      else {
        contentCompared++;
        try {
          const answer = index < 0 ? UNKNOWN : quick.answer(index);
          const same = answer === SAME || (answer !== DIFFERS && (await content.same(layersA[before.layer], layersB[after.layer], path)));
          if (!same) aspects.unshift('content');
        } catch (err) {
          if (err instanceof LayerError && err.code === 'cancelled') throw err;
          aspects.push('unreadable');
          problems.push({ side: 'a', path, message: `the bytes could not be compared: ${(err as Error).message}` });
        }
      }
    }
    if (aspects.length) changes.push({ path, change: 'changed', aspects: order(aspects), before, after, sizeDelta: after.size - before.size });
  }
  return contentCompared;
}

/**
 * The extended attributes of every pair to compare, read in one getfattr
 * batch run (compareXattrs.ts), and whether they could be. The paths were
 * walked as real folders of their layers: getfattr -h reads them without
 * following the entry itself.
 */
async function pairXattrs(
  pairs: readonly Pair[],
  layersA: readonly LayerContent[],
  layersB: readonly LayerContent[],
  signal?: AbortSignal,
): Promise<{ state: XattrsState; of?: (path: string, layer: number, side: 'a' | 'b') => string | undefined }> {
  const disk = (layers: readonly LayerContent[], layer: number, path: string) => (layers[layer].tar ? undefined : layers[layer].dir + path);
  const paths: string[] = [];
  for (const p of pairs) {
    const [x, y] = [disk(layersA, p.a.layer, p.path), disk(layersB, p.b.layer, p.path)];
    // getfattr takes string paths: a name that is not UTF-8 (byteNames.ts) is left out (its attributes unknown, never "changed").
    if (x !== undefined && y !== undefined && !hasMappedBytes(p.path)) paths.push(x, y);
  }
  if (paths.length === 0) {
    // Nothing to read: still say whether attributes could have been (getfattr asked once, on one layer folder).
    const dir = [...layersA, ...layersB].find((c) => !c.tar)?.dir;
    if (dir === undefined) return { state: 'no-files' };
    return { state: (await readXattrs([dir], signal)) ? 'compared' : 'no-getfattr' };
  }
  const found = await readXattrs(paths, signal);
  throwIfAborted(signal);
  if (!found) return { state: 'no-getfattr' };
  const of = (path: string, layer: number, side: 'a' | 'b') => {
    const d = disk(side === 'a' ? layersA : layersB, layer, path);
    return d === undefined ? undefined : found.get(d);
  };
  return { state: 'compared', of };
}

const ASPECT_ORDER: readonly FileAspect[] = ['type', 'content', 'mode', 'owner', 'mtime', 'target', 'xattrs', 'unreadable'];
const order = (aspects: FileAspect[]) => ASPECT_ORDER.filter((x) => aspects.includes(x));

/** What differs besides the bytes. Owner and mtime only where both walks read them. */
function attributeAspects(x: FileSide, y: FileSide, ignoreMtime: boolean): FileAspect[] {
  const aspects: FileAspect[] = [];
  if (x.type !== y.type) aspects.push('type');
  if ((x.mode & 0o7777) !== (y.mode & 0o7777)) aspects.push('mode');
  if (x.uid !== undefined && y.uid !== undefined && (x.uid !== y.uid || x.gid !== y.gid)) aspects.push('owner');
  if (!ignoreMtime && x.mtimeMs !== undefined && y.mtimeMs !== undefined && x.mtimeMs !== y.mtimeMs) aspects.push('mtime');
  if (x.type === 'symlink' && y.type === 'symlink' && x.target !== y.target) aspects.push('target');
  return aspects;
}

/** `+2B`, `-6B`: a size delta as Docker prints sizes. */
export const signedSize = (n: number): string => (n < 0 ? `-${humanSize(-n)}` : `+${humanSize(n)}`);

/**
 * A change in words, for the CLI and the views: `file +2B` for an added or
 * removed path, `content (same size), mode -rw-r--r-- → -rwxr-xr-x` for a changed one.
 */
export function describeChange(c: FileChange): string {
  if (c.change !== 'changed') return `${(c.before ?? c.after)!.type}${c.sizeDelta ? ` ${signedSize(c.sizeDelta)}` : ''}`;
  const [x, y] = [c.before!, c.after!];
  const words = c.aspects.map((aspect) => {
    switch (aspect) {
      case 'type':
        return `type ${x.type} → ${y.type}`;
      case 'content':
        return x.size === y.size ? 'content (same size)' : `content ${humanSize(x.size)} → ${humanSize(y.size)}`;
      case 'mode':
        return `mode ${formatMode(x.mode)} → ${formatMode(y.mode)}`;
      case 'owner':
        return `owner ${x.uid}:${x.gid} → ${y.uid}:${y.gid}`;
      case 'target':
        return `target ${printable(x.target ?? '')} → ${printable(y.target ?? '')}`;
      default:
        return aspect;
    }
  });
  return words.join(', ');
}
