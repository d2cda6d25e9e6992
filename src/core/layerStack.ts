/**
 * Layers stacked: the merged filesystem an image shows as of one of its layers,
 * built from each layer's own walk (layerWalk.ts) the way overlayfs and
 * `docker export` see it (dive's layer algebra, plus opaque folders):
 *
 * - added / modified: the path is set from this layer (a folder keeps the
 *   children it has below unless its type changes);
 * - deleted: the path and everything below it go;
 * - opaque: the folder's children from lower layers go, then this layer's own
 *   children (separate entries of the walk) apply.
 *
 * Every entry remembers the layer that provides it and every layer that
 * touched it (`changedIn`): path history and wasted space are read off that.
 * The tree is keyed by folder, so a folder's children are one lookup away.
 */
import { LayerError } from './errors';
import type { EntryStatus, EntryType, LayerEntry, WalkOptions, WalkProblem } from './layerEntry';
import { walkLayer } from './layerWalk';
import type { LayerContent } from './model';

/** The least a tree entry has: where it is and whether it can hold children. */
export interface PathEntry {
  readonly path: string;
  readonly type: EntryType;
  readonly size: number;
}

/**
 * Entries keyed by folder: each folder's children by name. A folder's children
 * are listed without touching the rest; an entry's missing parents (a walk
 * that could not read a folder still gives what it read below) are made by
 * `implicitDir`.
 */
export abstract class PathTree<E extends PathEntry> {
  private readonly dirs = new Map<string, Map<string, E>>();
  private entryCount = 0;
  private byteCount = 0;
  /** The folder the last entry went into: walks go folder by folder. */
  private lastDir: string | undefined;
  private lastChildren: Map<string, E> | undefined;
  /** Bumped on every change: lets callers cache what they derive. */
  version = 0;

  /** The entry for a folder that holds entries but was not given itself. */
  protected abstract implicitDir(path: string): E;

  /** Entries in the tree (the root folder `/` itself is not one). */
  get count(): number {
    return this.entryCount;
  }

  /** Sum of the entries' sizes. */
  get bytes(): number {
    return this.byteCount;
  }

  get(path: string): E | undefined {
    if (path === '/') return undefined;
    return this.dirs.get(parentOf(path))?.get(nameOf(path));
  }

  /** The children of folder `dir`, in the order they were added (sort them to show them). */
  list(dir: string): E[] {
    const children = this.dirs.get(dir);
    return children ? [...children.values()] : [];
  }

  childCount(dir: string): number {
    return this.dirs.get(dir)?.size ?? 0;
  }

  /** Sets `entry` at its path; returns the entry it replaces. A folder replaced by a non-folder loses its children. */
  set(entry: E): E | undefined {
    const children = this.folderOf(entry.path);
    const name = nameOf(entry.path);
    const old = children.get(name);
    this.put(children, name, entry, old);
    return old;
  }

  /** Removes the entry at `path` and everything below it; returns it. */
  remove(path: string): E | undefined {
    if (path === '/') {
      this.clear('/');
      return undefined;
    }
    const children = this.dirs.get(parentOf(path));
    const name = nameOf(path);
    const old = children?.get(name);
    if (!old || !children) return undefined;
    children.delete(name);
    this.entryCount--;
    this.byteCount -= old.size;
    this.version++;
    if (old.type === 'dir') this.dropBelow(path);
    return old;
  }

  /** Removes everything below folder `dir`, keeping the folder itself. */
  clear(dir: string): void {
    this.dropBelow(dir);
    this.version++;
  }

  /** Every entry below `dir`, depth first, folders before their children, names in code-unit order. */
  *entries(dir = '/'): Generator<E> {
    const children = this.dirs.get(dir);
    if (!children) return;
    const names = [...children.keys()].sort(byCodeUnits);
    for (const name of names) {
      const e = children.get(name)!;
      yield e;
      if (e.type === 'dir') yield* this.entries(e.path);
    }
  }

  /** Every entry, in no particular order (cheaper than `entries()`). */
  *each(): Generator<E> {
    for (const children of this.dirs.values()) yield* children.values();
  }

  /** The bytes below each folder that holds entries (sizes summed over its whole subtree); `/` is the total. */
  folderSizes(): Map<string, number> {
    const sizes = new Map<string, number>();
    const sum = (dir: string): number => {
      const children = this.dirs.get(dir);
      if (!children) return 0;
      let total = 0;
      for (const e of children.values()) total += e.size + (e.type === 'dir' ? sum(e.path) : 0);
      sizes.set(dir, total);
      return total;
    };
    sum('/');
    return sizes;
  }

  /** The children map of the folder `path` is in (made when missing). */
  protected folderOf(path: string): Map<string, E> {
    const last = this.lastDir;
    if (last !== undefined && this.lastChildren) {
      // Same folder as the last entry? Checked without making the parent's path.
      const cut = last === '/' ? 0 : last.length;
      if (path.length > cut + 1 && path.charCodeAt(cut) === 47 && path.indexOf('/', cut + 1) < 0 && (cut === 0 || path.startsWith(last))) {
        return this.lastChildren;
      }
    }
    const dir = parentOf(path);
    const children = this.folder(dir);
    this.lastDir = dir;
    this.lastChildren = children;
    return children;
  }

  /** Puts `entry` as `name` into `children`, in place of `old` (what is there now, if anything). */
  protected put(children: Map<string, E>, name: string, entry: E, old: E | undefined): void {
    children.set(name, entry);
    this.version++;
    this.byteCount += entry.size;
    if (old) {
      this.byteCount -= old.size;
      if (old.type === 'dir' && entry.type !== 'dir') this.dropBelow(entry.path);
    } else {
      this.entryCount++;
    }
  }

  /** Tells the tree an entry changed in place (its size by `delta`). */
  protected changed(delta: number): void {
    this.byteCount += delta;
    this.version++;
  }

  private folder(dir: string): Map<string, E> {
    let children = this.dirs.get(dir);
    if (children) return children;
    children = new Map();
    this.dirs.set(dir, children);
    if (dir !== '/') {
      const above = this.folder(parentOf(dir));
      const name = nameOf(dir);
      const existing = above.get(name);
      if (!existing || existing.type !== 'dir') {
        const made = this.implicitDir(dir);
        above.set(name, made);
        if (existing) this.byteCount -= existing.size;
        else this.entryCount++;
        this.byteCount += made.size;
      }
    }
    return children;
  }

  private dropBelow(dir: string): void {
    const children = this.dirs.get(dir);
    if (!children) return;
    this.dirs.delete(dir);
    if (this.lastDir !== undefined && isSameOrBelow(this.lastDir, dir)) this.lastDir = this.lastChildren = undefined;
    for (const e of children.values()) {
      this.entryCount--;
      this.byteCount -= e.size;
      if (e.type === 'dir') this.dropBelow(e.path);
    }
  }
}

/** One path of the merged filesystem. */
export interface MergedEntry extends PathEntry {
  readonly mode: number;
  readonly target?: string;
  /** Index (in the stack, bottom = 0) of the layer whose copy is visible. */
  readonly layer: number;
  /** What that layer's walk said of it (`added`, `modified`, `opaque`): relative to the layers below that one. */
  readonly status: Exclude<EntryStatus, 'deleted'>;
  /**
   * Indices of the layers that touched this path, ascending: the one that made
   * it, those that changed it, and (when it was deleted and made again) the
   * layers of its earlier lives and the one that deleted it.
   */
  readonly changedIn: readonly number[];
  /** The folder exists below and whether the providing layer hides what is below could not be read. */
  readonly opaqueUnknown?: true;
  /** Not lstat()ed (a `stat: false` merge): size and mode are 0. */
  readonly statted?: false;
  /** Owner and mtime as the providing layer's walk read them (undefined for a folder no walk gave itself, or not lstat()ed). */
  readonly uid?: number;
  readonly gid?: number;
  readonly mtimeMs?: number;
}

type MutableMerged = { -readonly [K in keyof MergedEntry]: MergedEntry[K] } & { changedIn: number[] };

export interface MergeProgress {
  /** The layer being walked (bottom = 0). */
  readonly layer: number;
  readonly layers: number;
  /** Entries walked so far, all layers together. */
  readonly entries: number;
}

export interface MergeOptions {
  readonly signal?: AbortSignal;
  /** Called when each layer starts and every 1,024 entries. */
  readonly onProgress?: (progress: MergeProgress) => void;
  /** Unreadable items of layer `layer`; they are left out. */
  readonly onProblem?: (layer: number, problem: WalkProblem) => void;
  /** As WalkOptions.stat: `false` skips lstat (sizes and modes are then 0). */
  readonly stat?: WalkOptions['stat'];
}

/** The merged filesystem of a stack of layers, as of its top layer. */
export class MergedTree extends PathTree<MergedEntry> {
  /** Histories of deleted paths, so that a path made again shows its whole history. */
  private readonly graves = new Map<string, number[]>();
  private applying = 0;

  constructor(readonly layers: number) {
    super();
  }

  protected implicitDir(path: string): MergedEntry {
    return entryOf(path, 'dir', 0, 0, undefined, this.applying, 'modified', [this.applying], undefined, undefined, undefined);
  }

  /**
   * Applies one entry of layer `index`'s walk (layers are applied bottom to
   * top); returns the entry now visible at its path (undefined for a deletion).
   */
  apply(index: number, e: LayerEntry): MergedEntry | undefined {
    this.applying = index;
    if (e.status === 'deleted') {
      const old = this.remove(e.path);
      const history = old ? (old.changedIn as number[]) : this.graves.get(e.path);
      if (history && history[history.length - 1] !== index) history.push(index);
      this.graves.set(e.path, history ?? [index]);
      return undefined;
    }
    if (e.status === 'opaque') {
      this.clear(e.path);
      if (e.path === '/') return undefined;
    }
    const children = this.folderOf(e.path);
    const name = nameOf(e.path);
    const old = children.get(name) as MutableMerged | undefined;
    if (old && (old.type === 'dir') === (e.type === 'dir')) {
      // Same kind: updated in place (no new object for the many folders every layer touches).
      const before = old.size;
      old.type = e.type;
      old.size = e.size;
      old.mode = e.mode;
      old.target = e.target;
      old.layer = index;
      old.status = e.status;
      old.opaqueUnknown = e.opaqueUnknown;
      old.statted = e.statted;
      old.uid = e.uid;
      old.gid = e.gid;
      old.mtimeMs = e.mtimeMs;
      if (old.changedIn[old.changedIn.length - 1] !== index) old.changedIn.push(index);
      this.changed(old.size - before);
      return old;
    }
    let history = old ? old.changedIn : this.graves.get(e.path);
    if (history) {
      if (!old) this.graves.delete(e.path);
      history.push(index);
    } else {
      history = [index];
    }
    const made = entryOf(e.path, e.type, e.size, e.mode, e.target, index, e.status, history, e.opaqueUnknown, e.statted, e);
    this.put(children, name, made, old);
    return made;
  }
}

/** Every merged entry has the same fields in the same order: one object shape for all. */
function entryOf(
  path: string,
  type: EntryType,
  size: number,
  mode: number,
  target: string | undefined,
  layer: number,
  status: Exclude<EntryStatus, 'deleted'>,
  changedIn: number[],
  opaqueUnknown: true | undefined,
  statted: false | undefined,
  owner: Pick<LayerEntry, 'uid' | 'gid' | 'mtimeMs'> | undefined,
): MergedEntry {
  return { path, type, size, mode, target, layer, status, changedIn, opaqueUnknown, statted, uid: owner?.uid, gid: owner?.gid, mtimeMs: owner?.mtimeMs };
}

/**
 * The merged filesystem of `layers` (bottom to top) as of the top one, each
 * layer walked in turn. Throws LayerError `cancelled` when the signal fires,
 * `not-found` when a layer's folder is missing.
 */
export async function mergedTree(layers: readonly LayerContent[], options: MergeOptions = {}): Promise<MergedTree> {
  const tree = new MergedTree(layers.length);
  let entries = 0;
  for (let i = 0; i < layers.length; i++) {
    if (options.signal?.aborted) throw new LayerError('cancelled', 'cancelled');
    options.onProgress?.({ layer: i, layers: layers.length, entries });
    const walk = walkLayer(layers[i], {
      signal: options.signal,
      stat: options.stat,
      onProblem: options.onProblem && ((p) => options.onProblem!(i, p)),
    });
    for await (const e of walk) {
      tree.apply(i, e);
      if ((++entries & 1023) === 0) options.onProgress?.({ layer: i, layers: layers.length, entries });
    }
  }
  return tree;
}

/** `/etc/app/c.conf` → `/etc/app`; `/etc` → `/`. */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** `/etc/app/c.conf` → `c.conf`. */
export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** `/etc/app` is the same as or below `/etc`; `/etcetera` is not. */
export function isSameOrBelow(path: string, dir: string): boolean {
  if (dir === '/') return true;
  return path === dir || (path.startsWith(dir) && path.charCodeAt(dir.length) === 47);
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
