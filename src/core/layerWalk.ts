/**
 * Streams a layer's own entries (what `docker diff` would list for it), with
 * the whiteout rules of its storage driver. Read-only; never follows a symlink.
 *
 * Order: depth first, names sorted (code units) within each folder, a folder
 * before its children. Memory: per level of the current path, its listing and,
 * for a folder that also exists below, the next folder's, read ahead while the
 * current one streams. Folders are read on the main thread (see DiffWalk.load),
 * in slices of ~8 ms (WalkContext.breathe).
 *
 * - form `diff` (overlay2, aufs, containerd overlayfs): the folder holds only
 *   the layer's changes; `lowerDirs` decide added vs modified (lowerUnion.ts).
 * - form `snapshot` (vfs, btrfs, zfs): compared with the parent's snapshot
 *   (snapshotWalk.ts).
 */
import type { Dirent } from 'node:fs';
import { fromFsError } from './errors';
import type { EntryType, LayerEntry, StatLike, WalkOptions } from './layerEntry';
import { childImagePath, compareNames, deletedEntry, entryFromStats, typeOfDirent, typeOfMode, unstattedEntry } from './layerEntry';
import type { LowerDir, LowerHit, LowerListing, WhiteoutStyle } from './lowerUnion';
import { aufsKind, AUFS_PREFIX, isDeletableName, lookupLower, NO_HIT, overlapFolders, PRIME_MAX_DIRS, readLowers } from './lowerUnion';
import type { LayerContent } from './model';
import { OpaqueProbe, type OpaqueAnswer } from './opaque';
import { walkSnapshot } from './snapshotWalk';
import { walkTar } from './tar/tarLayer';
import { diskChild, keepShapes, quiet, requireDir, Stepper, Wait, WalkContext } from './walkContext';

export type { EntryStatus, EntryType, LayerEntry, WalkOptions, WalkProblem } from './layerEntry';
export { formatMode } from './layerEntry';

/**
 * Yields the layer's entries as they are read. Throws LayerError `not-found`
 * (first `next()`) when `content.dir` is missing, `cancelled` when the signal
 * fires; any other unreadable item goes to `options.onProblem` and is skipped.
 */
export function walkLayer(content: LayerContent, options: WalkOptions = {}): AsyncGenerator<LayerEntry> {
  // No wrapping generator: each `yield*` level costs ~0.2 µs per entry.
  if (content.tar) return walkTar(content, options);
  return content.form === 'snapshot' ? walkSnapshot(content, options) : walkDiff(content, options);
}

/** A folder bigger than this (lstat size, bytes) is listed off the main thread: its readdir could hold the event loop too long. */
const BIG_DIR_BYTES = 256 * 1024;

/** aufs `.wh.<name>` in place of an item's type: the name is deleted. */
const WHITEOUT = 'whiteout';

/**
 * A folder's names (sorted by the name they stand for) and their types from
 * readdir: with `stat: true` lstat decides (these only guide read-ahead), with
 * `stat: false` they are the types. Parallel arrays: no object per name.
 */
interface Items {
  readonly names: string[];
  readonly types: (EntryType | typeof WHITEOUT)[];
}

interface DirTask {
  readonly rel: string;
  readonly disk: string;
  /** Lower folders at this path, before opaque truncation. */
  readonly candidates: readonly LowerDir[];
  /** Opaque answers for this folder and its candidates, asked by the parent. */
  readonly opacity?: Promise<Map<string, OpaqueAnswer>>;
  /** Its lstat size when known (`stat: true`): a big folder is listed asynchronously. */
  readonly bytes?: number;
}

interface Loaded {
  readonly frame: Frame;
  /** Whether the folder itself is opaque (overlay answer or aufs marker). */
  readonly opaque: OpaqueAnswer;
}

class DiffWalk {
  private readonly probe?: OpaqueProbe;

  constructor(
    private readonly content: LayerContent,
    private readonly ctx: WalkContext,
    hasOverlayLowers: boolean,
  ) {
    if (hasOverlayLowers || content.whiteouts === 'overlay') {
      this.probe = new OpaqueProbe(content.dir, ctx.internal.signal, (message, code) =>
        ctx.report({ path: '/', diskPath: content.dir, message, code }),
      );
    }
  }

  get style(): WhiteoutStyle {
    return this.content.whiteouts;
  }

  /**
   * One getfattr batch: the upper folders (when this layer uses overlay whiteouts)
   * and the overlay lower folders whose opacity would hide something below them.
   */
  askOpacity(uppers: readonly string[], lowers: readonly LowerDir[]): Promise<Map<string, OpaqueAnswer>> | undefined {
    if (!this.probe) return undefined;
    const paths = this.style === 'overlay' ? [...uppers] : [];
    for (const l of lowers) if (l.style === 'overlay') paths.push(l.dir);
    return paths.length > 0 ? quiet(this.probe.ask(paths)) : undefined;
  }

  /** See OpaqueProbe.prime: one getfattr for the folders that exist both here and below, found before the walk. */
  primeOpacity(lowers: readonly LowerDir[]): void {
    if (this.probe && lowers.length > 0) this.probe.prime(overlapFolders(this.content.dir, this.style, lowers, PRIME_MAX_DIRS));
  }

  /** Reads one folder of the layer and, unless it is opaque, the same folder in the visible lowers. */
  async load(task: DirTask): Promise<Loaded> {
    const strict = task.rel === '/';
    // Read here, on the main thread: a readdir handed to the thread pool costs tens of µs of wake-ups on a busy
    // machine, as much as reading a 100-name folder, and reading ahead in the pool beside the lstats did not pay
    // (measured, stat: true and false). A folder known to be big goes to the pool: its readdir could hold the loop.
    const dirents =
      task.bytes !== undefined && task.bytes > BIG_DIR_BYTES
        ? await this.ctx.list(task.disk, task.rel, strict)
        : this.ctx.listSync(task.disk, task.rel, strict);
    // stat: false lstats nothing in a folder it can list but not search; a stat: true walk reports each entry there.
    const lstatEach = this.ctx.statAll || (dirents !== undefined && !this.ctx.searchable(task.disk));
    const answers = task.opacity ? await task.opacity : undefined;
    let opaque: OpaqueAnswer = this.style === 'overlay' ? answers?.get(task.disk) : false;
    const items: Items = { names: [], types: [] };
    if (dirents) opaque = this.toItems(dirents, task.rel, items) || opaque;
    let listings: LowerListing[] = [];
    if (task.candidates.length > 0 && opaque !== true) {
      listings = await readLowers(task.candidates, (d) => answers?.get(d), task.rel, this.ctx);
    }
    return { frame: new Frame(this, task.rel, task.disk, items, listings, lstatEach), opaque };
  }

  /** Fills `items` (sorted by the name they stand for); true when an aufs opaque marker is present. */
  private toItems(dirents: Dirent[], rel: string, { names, types }: Items): boolean {
    if (this.style === 'overlay') {
      for (const d of dirents) {
        names.push(d.name);
        types.push(typeOfDirent(d));
      }
      return false;
    }
    let opaque = false;
    const whiteouts: string[] = [];
    for (const d of dirents) {
      const kind = aufsKind(d.name);
      if (kind === 'content') {
        names.push(d.name);
        types.push(typeOfDirent(d));
      } else if (kind === 'opaque') opaque = true;
      else if (kind === 'whiteout') {
        const name = d.name.slice(AUFS_PREFIX.length);
        if (isDeletableName(name)) whiteouts.push(name);
        else this.ctx.report({ path: rel, message: `ignoring malformed whiteout ${d.name} in ${rel}`, code: 'corrupt' });
      }
      // kind 'meta': aufs bookkeeping (.wh..wh.aufs, .wh..wh.plnk, .wh..wh.orph): not content.
    }
    if (whiteouts.length > 0) {
      // An entry and its whiteout in one layer: the whiteout only hides the lower copy.
      const present = new Set(names);
      const all = names.map((name, i) => ({ name, type: types[i] }));
      for (const name of whiteouts) if (!present.has(name)) all.push({ name, type: WHITEOUT });
      all.sort((a, b) => compareNames(a.name, b.name));
      all.forEach((item, i) => {
        names[i] = item.name;
        types[i] = item.type;
      });
    }
    return opaque;
  }
}

/** One folder being streamed: its items, the lowers below it, and the read-ahead of its next child folder. */
class Frame {
  index = 0;
  private readonly hits: (LowerHit | undefined)[];
  private readonly childOpacity?: Promise<Map<string, OpaqueAnswer>>;
  private ahead?: { index: number; load: Promise<Loaded> };

  constructor(
    private readonly walk: DiffWalk,
    readonly rel: string,
    readonly disk: string,
    readonly items: Items,
    private readonly listings: readonly LowerListing[],
    /** lstat every item: `stat: true`, or a folder whose entries cannot be lstat()ed (to report them as such a walk does). */
    readonly lstatEach: boolean,
  ) {
    this.hits = listings.length > 0 ? new Array<LowerHit | undefined>(items.names.length) : [];
    if (listings.length > 0) this.childOpacity = this.askChildOpacity();
  }

  /** Called when the walk enters this folder: reads its first child folder ahead when that waits for something. */
  enter(): this {
    this.readAhead(0);
    return this;
  }

  hit(i: number): LowerHit {
    if (this.listings.length === 0) return NO_HIT;
    return (this.hits[i] ??= lookupLower(this.listings, this.items.names[i]));
  }

  /** The loaded child folder at item `i` (read ahead when possible); reads the next one ahead. */
  take(i: number, bytes?: number): Promise<Loaded> {
    const load = this.ahead?.index === i ? this.ahead.load : this.start(i, bytes);
    this.readAhead(i + 1);
    return load;
  }

  /**
   * Starts loading the next child folder from item `from` when it also exists
   * below: its load awaits the lowers' listings and getfattr, which then
   * overlap the streaming of this folder. Other folders are read (on this
   * thread) when the walk gets there: their load awaits nothing. Memory: at
   * most one listing ahead per level.
   */
  private readAhead(from: number): void {
    this.ahead = undefined;
    const next = this.nextDir(from);
    if (next >= 0 && this.hit(next).dirs.length > 0) this.ahead = { index: next, load: quiet(this.start(next)) };
  }

  private start(i: number, bytes?: number): Promise<Loaded> {
    const name = this.items.names[i];
    return this.walk.load({
      rel: childImagePath(this.rel, name),
      disk: diskChild(this.disk, name),
      candidates: this.hit(i).dirs,
      opacity: this.childOpacity,
      bytes,
    });
  }

  private nextDir(from: number): number {
    const types = this.items.types;
    for (let i = from; i < types.length; i++) if (types[i] === 'dir') return i;
    return -1;
  }

  /** One getfattr batch for every child folder that also exists below (the only ones whose opacity matters). */
  private askChildOpacity(): Promise<Map<string, OpaqueAnswer>> | undefined {
    const uppers: string[] = [];
    const lowers: LowerDir[] = [];
    const { names, types } = this.items;
    for (let i = 0; i < names.length; i++) {
      if (types[i] !== 'dir') continue;
      const dirs = this.hit(i).dirs;
      if (dirs.length === 0) continue;
      uppers.push(diskChild(this.disk, names[i]));
      // The last lower's opacity hides nothing: nothing is below it.
      lowers.push(...dirs.slice(0, -1));
    }
    return uppers.length > 0 ? this.walk.askOpacity(uppers, lowers) : undefined;
  }
}

function walkDiff(content: LayerContent, options: WalkOptions): AsyncGenerator<LayerEntry> {
  return new Stepper(diffSteps(content, options));
}

/** The diff walk: yields its entries, and Waits where it must await (see Stepper). */
function* diffSteps(content: LayerContent, options: WalkOptions): Generator<LayerEntry | Wait, void, unknown> {
  const ctx = new WalkContext(options, content.dir);
  try {
    ctx.check();
    yield new Wait(requireDir(content.dir, 'layer folder'));
    const lowers = (yield new Wait(rootLowers(content, ctx))) as LowerDir[];
    const walk = new DiffWalk(content, ctx, lowers.some((l) => l.style === 'overlay'));
    const overlay = walk.style === 'overlay';
    walk.primeOpacity(lowers);
    const opacity = lowers.length > 0 ? walk.askOpacity([content.dir], lowers.slice(0, -1)) : undefined;
    const root = (yield new Wait(walk.load({ rel: '/', disk: content.dir, candidates: lowers, opacity }))) as Loaded;
    if (root.opaque === true && lowers.length > 0) {
      const st = ctx.lstat(content.dir, '/');
      if (st) yield entryFromStats('/', 'opaque', st);
    }
    const stack: Frame[] = [root.frame.enter()];
    while (stack.length > 0) {
      const frame = stack[stack.length - 1];
      const { names, types } = frame.items;
      if (frame.index >= names.length) {
        stack.pop();
        continue;
      }
      const i = frame.index++;
      const name = names[i];
      const dtype = types[i];
      ctx.check();
      const pause = ctx.breathe();
      if (pause) yield new Wait(pause);
      const rel = childImagePath(frame.rel, name);
      const hit = frame.hit(i);
      if (dtype === WHITEOUT) {
        yield deletedEntry(rel, hit.type);
        continue;
      }
      // stat: false still lstats what the listing cannot tell: a 0/0 whiteout, an unknown type.
      let st: StatLike | undefined;
      let type = dtype;
      if (frame.lstatEach || type === 'unknown' || (type === 'char' && overlay) || (ctx.statNonFiles && type !== 'file')) {
        st = ctx.lstat(diskChild(frame.disk, name), rel);
        if (!st) continue;
        type = typeOfMode(st.mode);
      }
      const status = hit.type === undefined ? 'added' : 'modified';
      if (type === 'dir') {
        const child = (yield new Wait(frame.take(i, st && st.size > BIG_DIR_BYTES ? st.size : undefined))) as Loaded;
        ctx.check();
        const overDir = hit.dirs.length > 0;
        const dirStatus = overDir && child.opaque === true ? 'opaque' : status;
        const unknown = overDir && child.opaque === undefined;
        yield st ? entryFromStats(rel, dirStatus, st, undefined, unknown) : unstattedEntry(rel, dirStatus, type, undefined, unknown);
        stack.push(child.frame.enter());
      } else if (type === 'symlink') {
        const target = ctx.readlink(diskChild(frame.disk, name), rel);
        yield st ? entryFromStats(rel, status, st, target) : unstattedEntry(rel, status, type, target);
      } else if (st && overlay && type === 'char' && st.rdev === 0) {
        yield deletedEntry(rel, hit.type);
      } else {
        yield st ? entryFromStats(rel, status, st) : unstattedEntry(rel, status, type);
      }
    }
  } finally {
    ctx.dispose();
  }
}

{
  // One of each per-walk class, kept (see keepShapes): the walk stays optimized across full GCs.
  const ctx = new WalkContext({});
  ctx.dispose();
  const walk = new DiffWalk({ dir: '', form: 'diff', whiteouts: 'aufs', lowerDirs: [] }, ctx, false);
  const steps = (function* (): Generator<LayerEntry | Wait, void, unknown> {})();
  keepShapes(ctx, walk, new Frame(walk, '/', '', { names: [], types: [] }, [], false), new Wait(Promise.resolve()), new Stepper(steps));
}

/** The lower folders that exist, with their whiteout style; a missing one is reported and left out. */
async function rootLowers(content: LayerContent, ctx: WalkContext): Promise<LowerDir[]> {
  const dirs = content.lowerDirs ?? [];
  const ok = await Promise.all(
    dirs.map(async (dir) => {
      try {
        await requireDir(dir, 'lower layer folder');
        return true;
      } catch (err) {
        const e = fromFsError(err, dir);
        ctx.report({ path: '/', diskPath: dir, message: `${e.message}; statuses may be wrong`, code: e.code });
        return false;
      }
    }),
  );
  const lowers: LowerDir[] = [];
  dirs.forEach((dir, k) => {
    if (ok[k]) lowers.push({ dir, style: content.lowerWhiteouts?.[k] ?? content.whiteouts });
  });
  return lowers;
}
