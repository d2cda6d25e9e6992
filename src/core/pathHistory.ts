/**
 * Path history: every layer of a stack that added, changed or deleted one
 * path, bottom to top, read off each layer's own walk (layerWalk.ts), so the
 * whiteout rules of every driver apply as they do everywhere else.
 *
 * A layer touches the path when its walk lists the path itself, or when it
 * takes the path away from above while the path exists: a whiteout on a
 * folder above it, an opaque folder above it (the lower copy is hidden), or a
 * non-folder put where a folder above it was. Those count as `deleted`, with
 * `via` naming the folder. Walks go in depth-first, code-unit order, so each
 * one stops as soon as it has passed the path: a history costs what the walks
 * read up to the path, not whole layers.
 */
import { LayerError, errorMessage } from './errors';
import type { EntryStatus, EntryType, LayerEntry, WalkProblem } from './layerEntry';
import { layerPathSegments, statLayerPath } from './layerFiles';
import { walkLayer } from './layerWalk';
import { shortId, type Container, type Image, type Layer, type LayerContent } from './model';
import type { Store } from './store';

/** One layer's change to the path. */
export interface PathVersion {
  /** Index of the layer in the stack given (bottom = 0). */
  readonly layer: number;
  readonly change: EntryStatus;
  /** The path's type in this layer (for a deletion: as the walk knows it, often `unknown`). */
  readonly type: EntryType;
  /** Bytes of a regular file; 0 otherwise. */
  readonly size: number;
  /** lstat mode bits; 0 for a deletion. */
  readonly mode: number;
  /** Symlink target as stored, never followed. */
  readonly target?: string;
  /** Deleted through a folder above it: that folder (whited out, made opaque, or replaced by a non-folder). */
  readonly via?: string;
}

export interface HistoryOptions {
  readonly signal?: AbortSignal;
  /** Unreadable items of layer `layer`; the history goes on without them. */
  readonly onProblem?: (layer: number, problem: WalkProblem) => void;
}

/**
 * Where a walk's entry stands relative to one path, in the walk's depth-first
 * order (names in code units, a folder before its children): `self`, an
 * `ancestor` of it, `after` it (the walk has passed the path and can stop), or
 * `before` it. Only an entry whose folder is one of the path's ancestors can be
 * anything but `before`, so most entries cost a lastIndexOf and a map lookup;
 * such an entry and the path's ancestor at its depth differ only in their last
 * name, which holds no `/`, so plain string order compares them.
 */
export class PathCursor {
  /** For each `/` of the path: its ancestor (or itself) that ends at the next `/`, and the prefix before that `/`. */
  private readonly byCut = new Map<number, { readonly prefix: string; readonly name: string }>();

  constructor(readonly path: string) {
    for (let cut = path.indexOf('/'); cut >= 0; ) {
      const next = path.indexOf('/', cut + 1);
      this.byCut.set(cut, { prefix: path.slice(0, cut), name: path.slice(0, next < 0 ? path.length : next) });
      cut = next;
    }
  }

  place(entryPath: string): 'self' | 'ancestor' | 'after' | 'before' {
    if (entryPath === this.path) return 'self';
    const at = this.byCut.get(entryPath.lastIndexOf('/'));
    if (!at || !entryPath.startsWith(at.prefix)) return 'before';
    if (entryPath === at.name) return 'ancestor';
    return entryPath > at.name ? 'after' : 'before';
  }
}

/** What one layer did to `path` (undefined: nothing), given whether the path exists below it. */
async function layerChange(
  content: LayerContent,
  index: number,
  path: string,
  existed: boolean,
  options: HistoryOptions,
): Promise<PathVersion | undefined> {
  let own: LayerEntry | undefined;
  let via: string | undefined;
  const walk = walkLayer(content, {
    signal: options.signal,
    stat: false,
    onProblem: options.onProblem && ((p) => options.onProblem!(index, p)),
  });
  const cursor = new PathCursor(path);
  for await (const e of walk) {
    const place = cursor.place(e.path);
    if (place === 'before') continue;
    if (place === 'self') {
      own = e;
      break;
    }
    if (place === 'after') break;
    // An ancestor: only its deletion, an opaque replace or a non-folder in its place takes the path away.
    if (via === undefined && (e.status === 'deleted' || e.status === 'opaque' || e.type !== 'dir')) via = e.path;
  }
  if (own) {
    // A layer inside an image archive has no file to lstat: what its walk gave is all there is.
    if (own.status === 'deleted' || own.statted !== false || content.tar) return versionOf(index, own);
    // `stat: false` walks leave size and mode out: read them for this one path.
    const st = await statLayerPath(content, path, { signal: options.signal });
    return { layer: index, change: own.status, type: st.type, size: st.type === 'file' ? st.size : 0, mode: st.mode, ...(st.target !== undefined ? { target: st.target } : {}) };
  }
  if (via !== undefined && existed) return { layer: index, change: 'deleted', type: 'unknown', size: 0, mode: 0, via };
  return undefined;
}

function versionOf(index: number, e: LayerEntry): PathVersion {
  const v = { layer: index, change: e.status, type: e.type, size: e.size, mode: e.mode };
  return e.target === undefined ? v : { ...v, target: e.target };
}

/**
 * The changes to `entryPath` in a stack of layers (bottom to top), yielded as
 * each layer is read. Throws LayerError `invalid-id` for a path with `..`,
 * `cancelled` when the signal fires; a layer whose folder cannot be read goes
 * to `onProblem` and is skipped (the history says so, the rest stays).
 */
export async function* pathHistory(layers: readonly (LayerContent | undefined)[], entryPath: string, options: HistoryOptions = {}): AsyncGenerator<PathVersion> {
  const path = '/' + layerPathSegments(entryPath).join('/');
  if (path === '/') throw new LayerError('invalid-id', 'the history of / is every layer: give a path inside the image');
  let exists = false;
  for (let i = 0; i < layers.length; i++) {
    if (options.signal?.aborted) throw new LayerError('cancelled', 'cancelled');
    const content = layers[i];
    if (!content) continue;
    let version: PathVersion | undefined;
    try {
      version = await layerChange(content, i, path, exists, options);
    } catch (err) {
      if (err instanceof LayerError && err.code === 'cancelled') throw err;
      options.onProblem?.(i, { path, diskPath: content.dir, message: errorMessage(err), code: err instanceof LayerError ? err.code : 'io' });
      continue;
    }
    if (!version) continue;
    exists = version.change !== 'deleted';
    yield version;
  }
}

/** One step of an image in a path's history (or, on top of them, a container's read-write layer). */
export interface StepVersion extends PathVersion {
  /** The image step (bottom = 0) whose layer made the change; for a container's layer, the image's step count. */
  readonly step: number;
  readonly layerRef: Layer;
  readonly createdBy: string;
  /** The change is the container's own (its read-write layer, as `docker diff` sees it). */
  readonly container?: Container;
}

/** The image a container was made from, preferring the container's own root and layout; undefined when it is not in the store. */
export function imageOfContainer(store: Store, c: Container): Image | undefined {
  const same = store.images.filter((i) => i.id === c.imageId);
  return same.find((i) => i.source.key === c.source.key) ?? same[0];
}

/** An image's layers bottom to top up to `upTo` (default: the top step), with the step and layer each one is. */
export function imageStack(store: Store, image: Image, upTo = image.steps.length - 1): { contents: (LayerContent | undefined)[]; steps: number[]; layers: Layer[] } {
  const contents: (LayerContent | undefined)[] = [];
  const steps: number[] = [];
  const layers: Layer[] = [];
  for (let i = 0; i <= upTo && i < image.steps.length; i++) {
    const layer = store.layer(image.steps[i].layerKey);
    if (!layer) continue;
    contents.push(layer.content);
    steps.push(i);
    layers.push(layer);
  }
  return { contents, steps, layers };
}

/**
 * The history of `entryPath` in `image`: each step that added, changed or
 * deleted it, in order. A step whose layer has no folder on disk goes to
 * `onProblem` (by step index) and the rest is still read.
 */
export async function* imagePathHistory(
  store: Store,
  image: Image,
  entryPath: string,
  options: { signal?: AbortSignal; onProblem?: (step: number, problem: WalkProblem) => void; container?: Container } = {},
): AsyncGenerator<StepVersion> {
  const { contents, steps, layers } = imageStack(store, image);
  const container = options.container;
  if (container?.layer) {
    // The container's read-write layer sits on the image's top step.
    contents.push(container.layer.content);
    steps.push(image.steps.length);
    layers.push(container.layer);
  }
  contents.forEach((c, i) => {
    if (!c) options.onProblem?.(steps[i], { path: '/', message: `step ${steps[i]} has no layer folder on disk: ${layers[i].problems[0]?.message ?? 'missing'}`, code: 'not-found' });
  });
  const history = pathHistory(contents, entryPath, { signal: options.signal, onProblem: options.onProblem && ((i, p) => options.onProblem!(steps[i], p)) });
  for await (const v of history) {
    const step = steps[v.layer];
    if (step === image.steps.length && container) yield { ...v, step, layerRef: layers[v.layer], createdBy: `container ${container.name || shortId(container.id)}`, container };
    else yield { ...v, step, layerRef: layers[v.layer], createdBy: image.steps[step].createdBy };
  }
}

/** The letter of a change, as `files` prints it: A added, M modified, D deleted, O opaque. */
export const CHANGE_LETTER: Record<EntryStatus, 'A' | 'M' | 'D' | 'O'> = { added: 'A', modified: 'M', deleted: 'D', opaque: 'O' };
