/**
 * "Which layer or image holds this path?": a search over every layer of every
 * image (and every container's read-write layer) of a Store, answered from
 * disk. Hits stream as each layer's walk finds them; a layer shared by many
 * images is walked once and reported with all of them.
 *
 * Patterns (case-sensitive, as paths are):
 *   keep.txt           substring, anywhere in the path
 *   *.conf             glob on the name (no `/` in the pattern)
 *   /usr/lib/**\/ssl*  glob on the whole path (`*` within a segment, `**` across, `?` one
 *                      character); only the folder before the first wildcard (`/usr/lib`)
 *                      is walked, in each layer that has it (findPathScope.ts)
 * and/or content: `sha256` finds regular files with those bytes (findPathContent.ts).
 *
 * A hit is an entry as the layer's own walk yields it (added, modified,
 * deleted, opaque). Read-only; cancellable; one unreadable layer is reported
 * (onProblem) and the search goes on.
 */
import * as fs from 'node:fs';
import { diskPath, displayName } from './byteNames';
import { LayerError, errorMessage, throwIfAborted, type ErrorCode } from './errors';
import { globToRegExp } from './fileFilter';
import { ContentHashes, type HashCost } from './findPathContent';
import { diskPathIn, scopeToFolder } from './findPathScope';
import type { EntryStatus, EntryType, LayerEntry } from './layerEntry';
import { layerPathSegments } from './layerFiles';
import { walkLayer } from './layerWalk';
import type { Container, Image, Layer, LayerContent } from './model';
import { Pacer } from './concurrency';
import type { Store } from './store';

export type PatternKind = 'substring' | 'name-glob' | 'path-glob';

export interface PathPattern {
  /** As typed, trimmed. */
  readonly text: string;
  readonly kind: PatternKind;
  /** Every match lies in this folder or is it (`/` when a match may be anywhere). */
  readonly folder: string;
  test(path: string): boolean;
}

/** Parses a search pattern; a string is why it cannot be used. */
export function parsePathPattern(text: string): PathPattern | string {
  const t = text.trim();
  if (!t) return 'type a part of a path (keep.txt), a glob on the name (*.conf) or on the path (/usr/lib/**/libssl*)';
  if (t.includes('\0')) return 'a pattern cannot hold a NUL character';
  if (!/[*?]/.test(t)) return { text: t, kind: 'substring', folder: '/', test: (p) => p.includes(t) };
  if (!t.includes('/')) {
    const re = new RegExp(globToRegExp(t).source);
    return { text: t, kind: 'name-glob', folder: '/', test: (p) => re.test(p.slice(p.lastIndexOf('/') + 1)) };
  }
  const glob = t.startsWith('/') ? t : `/${t}`;
  const segs = glob.split('/').filter(Boolean);
  if (segs.includes('..')) return 'a path pattern cannot hold ".." segments';
  const literal = segs.slice(0, segs.findIndex((s) => /[*?]/.test(s))).filter((s) => s !== '.');
  const re = new RegExp(globToRegExp(glob).source);
  return { text: t, kind: 'path-glob', folder: '/' + literal.join('/'), test: (p) => re.test(p) };
}

/** One image step that a layer makes. */
export interface LayerUse {
  readonly image: Image;
  readonly stepIndex: number;
  readonly createdBy: string;
}

/**
 * The image steps worth naming for a layer, nearest its image's top first (a
 * base image's layer names the base image before the images built on it):
 * without `all`, intermediate images only when no other image uses the layer.
 */
export function namedUses(uses: readonly LayerUse[], all: boolean): LayerUse[] {
  const named = all ? [...uses] : uses.filter((u) => !u.image.intermediate);
  const list = named.length > 0 ? named : uses.slice(0, 1);
  const fromTop = (u: LayerUse) => u.image.steps.length - u.stepIndex;
  return list.sort((a, b) => fromTop(a) - fromTop(b));
}

/** A layer the search walks, with what uses it. */
export interface SearchTarget {
  readonly layer: Layer;
  /** Every image step made by this layer, in store order (images bottom to top). */
  readonly uses: readonly LayerUse[];
  /** The container whose read-write layer this is. */
  readonly container?: Container;
}

export interface FindHit extends SearchTarget {
  readonly path: string;
  readonly status: EntryStatus;
  readonly type: EntryType;
  /** Bytes of a regular file (0 for anything else). */
  readonly size: number;
  /** A symlink's target, as stored (never followed). */
  readonly target?: string;
  /** Hex sha256 of the file's bytes, when the search was by content. */
  readonly sha256?: string;
}

export interface FindProblem {
  readonly layer: Layer;
  readonly path?: string;
  readonly message: string;
  readonly code: ErrorCode;
}

export interface FindProgress {
  readonly layersDone: number;
  readonly layersTotal: number;
  /** Layers with nothing to walk: empty, or without the pattern's folder. */
  readonly layersSkipped: number;
  /** Layers that could not be searched (a problem says why). */
  readonly layersFailed: number;
  /** Entries the walks yielded. */
  readonly entries: number;
  readonly hits: number;
  readonly elapsedMs: number;
  /** Content search only. */
  readonly hashed?: Readonly<HashCost>;
}

export interface FindOptions {
  /** Only the layers of this image. */
  readonly image?: Image;
  /** Content search: hex sha256 (see parseSha256). */
  readonly sha256?: string;
  /** The cache of file digests to use (keep one per store to make later content searches cheap). */
  readonly hashes?: ContentHashes;
  readonly signal?: AbortSignal;
  /** After each layer, and once at the end. */
  readonly onProgress?: (progress: FindProgress) => void;
  readonly onProblem?: (problem: FindProblem) => void;
}

/**
 * The layers to search, each once: those of every image (in store order,
 * each image bottom to top), then containers' read-write layers, then layers
 * no image uses. With `image`, only that image's layers. Layers the store
 * records as holding no bytes come after the others, in the same order (most
 * layers of a big store are empty: the first hit comes sooner); they are
 * searched all the same, a recorded size may be wrong.
 */
export function searchTargets(store: Store, image?: Image): SearchTarget[] {
  const uses = new Map<string, LayerUse[]>();
  for (const i of store.images) {
    i.steps.forEach((s, stepIndex) => {
      if (s.layerKey === undefined) return;
      const use = { image: i, stepIndex, createdBy: s.createdBy };
      const list = uses.get(s.layerKey);
      if (list) list.push(use);
      else uses.set(s.layerKey, [use]);
    });
  }
  const targets = new Map<string, SearchTarget>();
  const add = (layer: Layer | undefined, container?: Container) => {
    if (layer && !targets.has(layer.key)) targets.set(layer.key, { layer, uses: uses.get(layer.key) ?? [], container });
  };
  for (const i of image ? [image] : store.images) for (const key of i.layerKeys) add(store.layer(key));
  if (!image) {
    for (const c of store.containers) add(c.layer, c);
    for (const l of store.layers) add(l);
  }
  const list = [...targets.values()];
  return [...list.filter((t) => t.layer.size > 0), ...list.filter((t) => !(t.layer.size > 0))];
}

/** The search's running totals. */
class Tally {
  layersDone = 0;
  layersSkipped = 0;
  layersFailed = 0;
  entries = 0;
  hits = 0;
  private readonly started = performance.now();
  /** The cache's cost before this search (a cache may serve many). */
  private readonly costBefore?: HashCost;

  constructor(
    readonly layersTotal: number,
    private readonly hashes?: ContentHashes,
  ) {
    this.costBefore = hashes && { ...hashes.cost };
  }

  snapshot(): FindProgress {
    const { layersDone, layersTotal, layersSkipped, layersFailed, entries, hits } = this;
    const elapsedMs = performance.now() - this.started;
    return { layersDone, layersTotal, layersSkipped, layersFailed, entries, hits, elapsedMs, ...(this.hashes ? { hashed: this.hashCost() } : {}) };
  }

  /** What this search spent hashing. */
  private hashCost(): HashCost {
    const now = this.hashes!.cost;
    const was = this.costBefore!;
    return { files: now.files - was.files, bytes: now.bytes - was.bytes, ms: now.ms - was.ms, cached: now.cached - was.cached };
  }
}

/**
 * Streams the hits of `pattern` (and/or `options.sha256`) over the store's
 * layers, layer by layer (searchTargets order), each layer's hits in its walk
 * order. Throws LayerError `cancelled` when the signal fires.
 */
export async function* findPath(store: Store, pattern: PathPattern | undefined, options: FindOptions = {}): AsyncGenerator<FindHit, void, undefined> {
  if (!pattern && options.sha256 === undefined) throw new LayerError('invalid-id', 'a path search needs a pattern or a sha256 digest');
  const { signal } = options;
  const hashes = options.sha256 !== undefined ? options.hashes ?? new ContentHashes() : undefined;
  const targets = searchTargets(store, options.image);
  const tally = new Tally(targets.length, hashes);
  const folder = pattern ? layerPathSegments(pattern.folder) : [];
  const pacer = new Pacer(signal);
  for (const target of targets) {
    throwIfAborted(signal);
    if (pacer.due()) await pacer.pause();
    const search = new LayerSearch(target, pattern, folder, options, tally, hashes);
    try {
      for await (const hit of search.run()) {
        tally.hits++;
        yield hit;
      }
    } catch (err) {
      if (err instanceof LayerError && err.code === 'cancelled') throw err;
      tally.layersFailed++;
      const e = err instanceof LayerError ? err : new LayerError('io', errorMessage(err));
      options.onProblem?.({ layer: target.layer, path: e.path, message: e.message, code: e.code });
    }
    tally.layersDone++;
    options.onProgress?.(tally.snapshot());
  }
  options.onProgress?.(tally.snapshot());
}

/** One layer's part of a search. */
class LayerSearch {
  constructor(
    private readonly target: SearchTarget,
    private readonly pattern: PathPattern | undefined,
    private readonly folder: readonly string[],
    private readonly options: FindOptions,
    private readonly tally: Tally,
    private readonly hashes: ContentHashes | undefined,
  ) {}

  async *run(): AsyncGenerator<FindHit, void, undefined> {
    const { layer } = this.target;
    const content = layer.content;
    if (!content) throw new LayerError('not-found', `layer ${layer.id}: ${layer.problems.map((p) => p.message).join('; ') || 'its folder is not on disk'}`);
    let walked = content;
    let base = '';
    let head: LayerEntry | undefined;
    let held = false;
    // An archive layer has no folders to scope to: its whole walk, filtered by the pattern, is what a scoped walk yields.
    if (this.folder.length > 0 && !content.tar) {
      const scoped = await scopeToFolder(content, this.folder, this.options.signal);
      base = this.pattern!.folder;
      if (scoped?.head && this.pattern!.test(base)) ({ entry: head, held } = scoped.head);
      if (!scoped?.content) {
        if (head) yield* this.hit(content, head);
        else this.tally.layersSkipped++;
        return;
      }
      walked = scoped.content;
    } else if (isEmptyDiff(content)) {
      return void this.tally.layersSkipped++;
    }
    const onProblem = (p: { path: string; message: string; code: ErrorCode }) =>
      this.options.onProblem?.({ layer, path: base + (p.path === '/' ? '' : p.path) || '/', message: p.message, code: p.code });
    // stat: false, as `find` does: only the hits are lstat()ed (for their size).
    for await (const e of walkLayer(walked, { signal: this.options.signal, stat: false, onProblem })) {
      this.tally.entries++;
      if (e.path === '/') {
        // The scoped folder itself, opaque: it replaces the head.
        if (head) yield* this.hit(content, { ...e, path: base });
        head = undefined;
        continue;
      }
      if (head) {
        yield* this.hit(content, head);
        head = undefined;
      }
      const path = base + e.path;
      if (this.pattern && !this.pattern.test(path)) continue;
      yield* this.hit(content, base ? { ...e, path } : e);
    }
    if (head && !held) yield* this.hit(content, head);
  }

  /** The hit for a matching entry: its size (one lstat), and its digest when searching by content. */
  private async *hit(content: LayerContent, e: LayerEntry): AsyncGenerator<FindHit, void, undefined> {
    let size = e.size;
    let sha256: string | undefined;
    const readable = e.type === 'file' && e.status !== 'deleted';
    if (this.hashes && !readable) return;
    if (readable && (e.statted === false || this.hashes)) {
      const facts = await this.fileFacts(content, e);
      if (!facts) return;
      ({ size, sha256 } = facts);
      if (this.hashes && sha256 !== this.options.sha256) return;
    }
    const { layer, uses, container } = this.target;
    yield {
      layer,
      uses,
      container,
      path: e.path,
      status: e.status,
      type: e.type,
      size,
      ...(e.target !== undefined ? { target: e.target } : {}),
      ...(sha256 !== undefined ? { sha256 } : {}),
    };
  }

  /**
   * A regular file's size and, when searching by content, its digest: for a
   * folder layer one lstat (and the cached hash of the file); for an archive
   * layer the walk's size (its index knows it) and the hash of its bytes read
   * from the blob. Undefined, after a problem when one is due, when the file
   * cannot be read or is no longer a regular file.
   */
  private async fileFacts(content: LayerContent, e: LayerEntry): Promise<{ size: number; sha256?: string } | undefined> {
    const { layer } = this.target;
    const { signal } = this.options;
    let st: fs.Stats | undefined;
    if (!content.tar) {
      try {
        st = fs.lstatSync(diskPath(diskPathIn(content, e.path)));
      } catch (err) {
        this.options.onProblem?.({ layer, path: e.path, message: `cannot lstat ${displayName(e.path)}: ${errorMessage(err)}`, code: 'io' });
        return undefined;
      }
      if (!st.isFile()) return undefined; // replaced while the search ran
    }
    const size = st ? st.size : e.size;
    if (!this.hashes) return { size };
    try {
      const sha256 = st
        ? await this.hashes.sha256(layer.key, content, e.path, st, signal)
        : await this.hashes.sha256InArchive(layer.key, content, e.path, e.size, e.mtimeMs ?? 0, signal);
      return { size, sha256 };
    } catch (err) {
      if (err instanceof LayerError && err.code === 'cancelled') throw err;
      this.options.onProblem?.({ layer, path: e.path, message: errorMessage(err), code: err instanceof LayerError ? err.code : 'io' });
      return undefined;
    }
  }
}

/**
 * A diff layer whose folder is empty changes nothing: skipped without a walk
 * (most layers of a big store are such, and a walk's setup costs more than
 * the readdir). A folder that cannot be read is left to the walk to report;
 * an archive layer (its `dir` is the archive file, not a folder) is walked.
 */
function isEmptyDiff(content: LayerContent): boolean {
  if (content.form !== 'diff') return false;
  try {
    return fs.lstatSync(content.dir, { throwIfNoEntry: false })?.isDirectory() === true && fs.readdirSync(content.dir).length === 0;
  } catch {
    return false;
  }
}
