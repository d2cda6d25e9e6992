/**
 * A snapshot layer's own changes (vfs, btrfs, zfs keep a full copy of the
 * filesystem per layer): its folder compared with its parent's, with the
 * rules of moby's `pkg/archive/changes.go` (what `docker diff` shows):
 *
 * - only in the layer: added (a new folder's whole content is added too);
 * - only in the parent: deleted, type from the parent (not descended);
 * - in both: modified when mode (type + permissions), uid, gid or rdev differ,
 *   or, for non-folders, size or mtime (or a symlink's target);
 * - an unchanged folder is reported modified, before its children, when
 *   something inside it changed. The root itself is never reported.
 *
 * The walk streams: such a folder is held back only until the first change
 * inside it is found.
 *
 * With `stat: false`, what exists only in the layer (added: nothing to compare)
 * is not lstat()ed; what exists in both still is, on both sides.
 */
import type { Dirent } from 'node:fs';
import type { EntryType, LayerEntry, StatLike, WalkOptions } from './layerEntry';
import { childImagePath, compareNames, deletedEntry, entryFromStats, typeOfDirent, typeOfMode, unstattedEntry } from './layerEntry';
import type { LayerContent } from './model';
import { diskChild, requireDir, Stepper, Wait, WalkContext } from './walkContext';

interface MergedItem {
  readonly name: string;
  /** Present in the layer (type from readdir). */
  readonly mine?: EntryType;
  /** Present in the parent snapshot. */
  readonly theirs?: EntryType;
}

interface SnapFrame {
  readonly rel: string;
  readonly disk: string;
  /** The parent snapshot's folder at this path; undefined inside an added folder. */
  readonly parentDisk?: string;
  readonly items: MergedItem[];
  index: number;
  /** Length of the held-back list when this frame was entered. */
  readonly mark: number;
  /** lstat every item: `stat: true`, or a folder whose entries cannot be lstat()ed (to report them as such a walk does). */
  readonly lstatEach: boolean;
}

export function walkSnapshot(content: LayerContent, options: WalkOptions): AsyncGenerator<LayerEntry> {
  return new Stepper(snapshotSteps(content, options));
}

/** The snapshot walk: yields its entries, and Waits where it must await (see Stepper). */
function* snapshotSteps(content: LayerContent, options: WalkOptions): Generator<LayerEntry | Wait, void, unknown> {
  const ctx = new WalkContext(options, content.dir);
  try {
    ctx.check();
    yield new Wait(requireDir(content.dir, 'layer folder'));
    if (content.parentDir !== undefined) yield new Wait(requireDir(content.parentDir, 'parent snapshot folder'));
    /** Unchanged ancestor folders, emitted only once something inside them changes. */
    const held: LayerEntry[] = [];
    const stack: SnapFrame[] = [loadFrame(ctx, '/', content.dir, content.parentDir, 0)];
    while (stack.length > 0) {
      const frame = stack[stack.length - 1];
      if (frame.index >= frame.items.length) {
        stack.pop();
        if (held.length > frame.mark) held.length = frame.mark;
        continue;
      }
      const item = frame.items[frame.index++];
      ctx.check();
      const pause = ctx.breathe();
      if (pause) yield new Wait(pause);
      const rel = childImagePath(frame.rel, item.name);
      const step = item.mine === undefined ? { emit: deletedEntry(rel, item.theirs) } : compareItem(ctx, frame, item, rel);
      if (!step) continue;
      if (step.emit) {
        for (const h of held) yield h;
        held.length = 0;
        yield step.emit;
      }
      if (step.descend) {
        const d = step.descend;
        if (d.hold) held.push(d.hold);
        const mark = d.hold ? held.length - 1 : held.length;
        stack.push(loadFrame(ctx, rel, d.disk, d.parentDisk, mark));
      }
    }
  } finally {
    ctx.dispose();
  }
}

interface Step {
  /** The entry to yield now (after any held folders). */
  readonly emit?: LayerEntry;
  /** A folder to walk into; `hold` is its entry when unchanged (yielded only if something inside changes). */
  readonly descend?: { disk: string; parentDisk?: string; hold?: LayerEntry };
}

/** Compares one name present in the layer with the parent's copy; undefined when it cannot be read. */
function compareItem(ctx: WalkContext, frame: SnapFrame, item: MergedItem, rel: string): Step | undefined {
  const disk = diskChild(frame.disk, item.name);
  const parentDisk =
    item.theirs !== undefined && frame.parentDisk !== undefined ? diskChild(frame.parentDisk, item.name) : undefined;
  if (parentDisk === undefined && !frame.lstatEach && item.mine !== undefined && item.mine !== 'unknown' && (!ctx.statNonFiles || item.mine === 'file')) {
    // stat: false, added: the listing's type is enough.
    const target = item.mine === 'symlink' ? ctx.readlink(disk, rel) : undefined;
    return { emit: unstattedEntry(rel, 'added', item.mine, target), descend: item.mine === 'dir' ? { disk } : undefined };
  }
  const st = ctx.lstat(disk, rel);
  if (!st) return undefined;
  const type = typeOfMode(st.mode);
  const target = type === 'symlink' ? ctx.readlink(disk, rel) : undefined;
  if (parentDisk === undefined) {
    const emit = entryFromStats(rel, 'added', st, target);
    return { emit, descend: type === 'dir' ? { disk } : undefined };
  }
  const old = ctx.lstat(parentDisk, rel);
  const changed =
    !old ||
    statDifferent(old, st) ||
    (target !== undefined && typeOfMode(old.mode) === 'symlink' && ctx.readlink(parentDisk, rel) !== target);
  const entry = entryFromStats(rel, 'modified', st, target);
  if (type !== 'dir') return { emit: changed ? entry : undefined };
  const descend = { disk, parentDisk: old && typeOfMode(old.mode) === 'dir' ? parentDisk : undefined, hold: changed ? undefined : entry };
  return { emit: changed ? entry : undefined, descend };
}

/** Lists a folder of the layer and the parent's, on this thread (see WalkContext.listSync). */
function loadFrame(ctx: WalkContext, rel: string, disk: string, parentDisk: string | undefined, mark: number): SnapFrame {
  const strict = rel === '/';
  const mine = ctx.listSync(disk, rel, strict);
  const theirs = parentDisk !== undefined ? ctx.listSync(parentDisk, rel, strict) : undefined;
  // stat: false lstats nothing in a folder it can list but not search; a stat: true walk reports each entry there.
  const lstatEach = ctx.statAll || (mine !== undefined && !ctx.searchable(disk));
  return { rel, disk, parentDisk, items: merge(mine ?? [], theirs ?? []), index: 0, mark, lstatEach };
}

/** Merges two sorted listings by name. */
function merge(mine: readonly Dirent[], theirs: readonly Dirent[]): MergedItem[] {
  const out: MergedItem[] = [];
  let a = 0;
  let b = 0;
  while (a < mine.length || b < theirs.length) {
    const c = a >= mine.length ? 1 : b >= theirs.length ? -1 : compareNames(mine[a].name, theirs[b].name);
    if (c < 0) out.push({ name: mine[a].name, mine: typeOfDirent(mine[a++]) });
    else if (c > 0) out.push({ name: theirs[b].name, theirs: typeOfDirent(theirs[b++]) });
    else out.push({ name: mine[a].name, mine: typeOfDirent(mine[a++]), theirs: typeOfDirent(theirs[b++]) });
  }
  return out;
}

/** moby's statDifferent: size and mtime are not compared for folders. */
function statDifferent(old: StatLike, cur: StatLike): boolean {
  if (old.mode !== cur.mode || old.uid !== cur.uid || old.gid !== cur.gid || old.rdev !== cur.rdev) return true;
  if (typeOfMode(cur.mode) === 'dir') return false;
  return old.size !== cur.size || !sameMtime(old.mtimeMs, cur.mtimeMs);
}

/** Same second, and same sub-second part unless one side has none (a filesystem without ns times). */
function sameMtime(a: number, b: number): boolean {
  if (a === b) return true;
  return Math.floor(a / 1000) === Math.floor(b / 1000) && (a % 1000 === 0 || b % 1000 === 0);
}
