/**
 * The store: every configured root, each detected layout read by its reader,
 * merged into one model with lookups by id prefix, tag and step position.
 * One unreadable root never hides the others.
 */
import * as path from 'node:path';
import { detectLayouts } from './detect';
import { LayerError, errorMessage, toProblem } from './errors';
import type { Container, Image, Layer, LayerDocument, LayoutReader, Problem, Source } from './model';
import { ArchiveReader } from './readers/archive';
import { ContainerdReader } from './readers/containerd';
import { ImageDbReader } from './readers/imageDb';
import { LegacyGraphReader } from './readers/legacyGraph';

export interface RootStatus {
  readonly root: string;
  readonly sources: Source[];
  /** Why the root could not be read at all (missing, permission denied, not a root). */
  readonly error?: LayerError;
}

export interface StepRef {
  readonly image: Image;
  readonly stepIndex: number;
}

export function readerFor(source: Source): LayoutReader {
  switch (source.kind) {
    case 'legacy-graph':
      return new LegacyGraphReader(source);
    case 'image-db':
      return new ImageDbReader(source);
    case 'containerd':
      return new ContainerdReader(source);
    case 'archive':
      return new ArchiveReader(source);
  }
}

export class Store {
  private readonly layerMap = new Map<string, Layer>();
  private readonly readers = new Map<string, LayoutReader>();
  /** Every layer (containers' read-write layers too), built once: the store never changes after open. */
  private readonly layerList: readonly Layer[];
  /** Lookup indexes, each built on first use. */
  private imagesByLayer?: Map<string, Image[]>;
  private firstStepByLayer?: Map<string, StepRef>;
  private layerIdIndex?: LayerIdIndex;

  private constructor(
    readonly roots: RootStatus[],
    readonly images: Image[],
    layers: Layer[],
    readonly containers: Container[],
    readonly problems: Problem[],
    readers: LayoutReader[],
  ) {
    for (const l of layers) this.layerMap.set(l.key, l);
    for (const c of containers) if (c.layer) this.layerMap.set(c.layer.key, c.layer);
    for (const r of readers) this.readers.set(r.source.key, r);
    this.layerList = [...this.layerMap.values()];
  }

  static async open(roots: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Store> {
    const statuses: RootStatus[] = [];
    const readersOfRoot: LayoutReader[][] = [];
    const unique = [...new Set(roots.map((r) => path.resolve(r)))];
    await Promise.all(
      unique.map(async (root, i) => {
        readersOfRoot[i] = [];
        try {
          const sources = await detectLayouts(root);
          statuses[i] = { root, sources };
          // Kept in the order the roots were given, whichever root answers first.
          readersOfRoot[i] = sources.map(readerFor);
        } catch (err) {
          const error = err instanceof LayerError ? err : new LayerError('io', errorMessage(err), root, err);
          statuses[i] = { root, sources: [], error };
        }
      }),
    );
    const readers = readersOfRoot.flat();
    const images: Image[] = [];
    const layers: Layer[] = [];
    const containers: Container[] = [];
    const problems: Problem[] = [];
    const loaded = await Promise.all(
      readers.map((r) =>
        r.load(options.signal).catch((err) => {
          if (err instanceof LayerError && err.code === 'cancelled') throw err;
          problems.push({ ...toProblem(err, r.source.label), message: `${r.source.label} in ${r.source.root}: ${errorMessage(err)}` });
          return undefined;
        }),
      ),
    );
    // Loops, not push(...list): a spread of a very big list overflows the stack.
    const append = <T>(to: T[], from: readonly T[]) => {
      for (const x of from) to.push(x);
    };
    for (const c of loaded) {
      if (!c) continue;
      append(images, c.images);
      append(layers, c.layers);
      append(containers, c.containers);
      append(problems, c.problems);
    }
    return new Store(statuses, images, layers, containers, problems, readers);
  }

  get sources(): Source[] {
    return this.roots.flatMap((r) => r.sources);
  }

  layer(key: string | undefined): Layer | undefined {
    return key === undefined ? undefined : this.layerMap.get(key);
  }

  /** Every layer, containers' read-write layers too (a copy: callers may sort it). */
  get layers(): Layer[] {
    return this.layerList.slice();
  }

  /** Images that use a layer, as `docker system df` counts sharing (in `images` order). */
  imagesWithLayer(layerKey: string): Image[] {
    if (!this.imagesByLayer) {
      const index = new Map<string, Image[]>();
      for (const image of this.images) {
        for (const key of new Set(image.layerKeys)) {
          const list = index.get(key);
          if (list) list.push(image);
          else index.set(key, [image]);
        }
      }
      this.imagesByLayer = index;
    }
    return this.imagesByLayer.get(layerKey)?.slice() ?? [];
  }

  /**
   * Finds one image by full or prefix id (with or without `sha256:`), by
   * `repo:tag` / `repo@digest`, or by a repo name alone (`repo` = `repo:latest`).
   * Names from containerd (`docker.io/library/x:y`) match their short form too.
   */
  findImage(ref: string): Image {
    const matches = this.matchImages(ref);
    const ids = new Set(matches.map((m) => m.id));
    if (matches.length === 0) throw new LayerError('not-found', `no image matches "${ref}"`);
    if (ids.size > 1) {
      const list = [...ids].slice(0, 5).map((id) => id.replace(/^sha256:/, '').slice(0, 12));
      throw new LayerError('ambiguous', `"${ref}" matches ${ids.size} images (${list.join(', ')}…): give more of the id`);
    }
    return matches[0];
  }

  private matchImages(ref: string): Image[] {
    const want = ref.trim();
    if (!want) return [];
    const tagged = this.images.filter((i) => [...i.tags, ...i.digests].some((t) => refMatches(t, want)));
    if (tagged.length) return tagged;
    const hex = want.replace(/^sha256:/, '').toLowerCase();
    if (!/^[0-9a-f]{1,64}$/.test(hex)) return [];
    return this.images.filter((i) => i.id.replace(/^sha256:/, '').startsWith(hex));
  }

  /**
   * A step of an image: `IMAGE@N` (N = step index from the bottom, 0-based),
   * an image (its top step), a layer id / chain id / diff id prefix (the first
   * image that has it), or a container (its read-write layer has no step: use
   * `findContainer`).
   */
  resolveStep(ref: string): StepRef {
    const at = ref.lastIndexOf('@');
    if (at > 0 && /^\d+$/.test(ref.slice(at + 1))) {
      const image = this.findImage(ref.slice(0, at));
      const stepIndex = Number(ref.slice(at + 1));
      if (stepIndex >= image.steps.length) {
        throw new LayerError('not-found', `image ${ref.slice(0, at)} has ${image.steps.length} steps (0–${image.steps.length - 1})`);
      }
      return { image, stepIndex };
    }
    try {
      const image = this.findImage(ref);
      return { image, stepIndex: image.steps.length - 1 };
    } catch (err) {
      if ((err as LayerError).code !== 'not-found') throw err;
    }
    const layer = this.findLayer(ref);
    if (!this.firstStepByLayer) {
      // The first image (in `images` order) with a step made by each layer, and that step.
      const index = new Map<string, StepRef>();
      for (const image of this.images) {
        image.steps.forEach((s, stepIndex) => {
          if (s.layerKey !== undefined && !index.has(s.layerKey)) index.set(s.layerKey, { image, stepIndex });
        });
      }
      this.firstStepByLayer = index;
    }
    const step = this.firstStepByLayer.get(layer.key);
    if (step) return { image: step.image, stepIndex: step.stepIndex };
    throw new LayerError('not-found', `layer ${ref} belongs to no image`);
  }

  findLayer(ref: string): Layer {
    const hex = ref.trim().replace(/^sha256:/, '').toLowerCase();
    if (!/^[0-9a-f]{1,64}$/.test(hex)) throw new LayerError('not-found', `no layer matches "${ref}"`);
    this.layerIdIndex ??= new LayerIdIndex(this.layerList);
    // Layers whose id or diff id (without `sha256:`) starts with hex, in store order.
    const matches = this.layerIdIndex.withPrefix(hex);
    const keys = new Set(matches.map((m) => m.id));
    if (matches.length === 0) throw new LayerError('not-found', `no layer matches "${ref}"`);
    if (keys.size > 1) throw new LayerError('ambiguous', `"${ref}" matches ${keys.size} layers: give more of the id`);
    return matches[0];
  }

  findContainer(ref: string): Container {
    const want = ref.trim().replace(/^\//, '');
    const matches = this.containers.filter((c) => c.name === want || (/^[0-9a-f]+$/.test(want) && c.id.startsWith(want)));
    if (matches.length === 0) throw new LayerError('not-found', `no container matches "${ref}"`);
    if (new Set(matches.map((c) => c.id)).size > 1) throw new LayerError('ambiguous', `"${ref}" matches ${matches.length} containers`);
    return matches[0];
  }

  async document(step: StepRef, signal?: AbortSignal): Promise<LayerDocument> {
    const reader = this.readers.get(step.image.source.key);
    if (!reader) throw new LayerError('not-found', `no reader for ${step.image.source.label}`);
    return reader.document(step.image, step.stepIndex, signal);
  }

  /** The document of the step below, or undefined for the base step. */
  async parentDocument(step: StepRef, signal?: AbortSignal): Promise<LayerDocument | undefined> {
    if (step.stepIndex === 0) return undefined;
    return this.document({ image: step.image, stepIndex: step.stepIndex - 1 }, signal);
  }
}

/**
 * Layer ids and diff ids (without `sha256:`) sorted, so that the layers whose
 * id or diff id starts with a prefix are one binary search away.
 */
class LayerIdIndex {
  private readonly ids: string[] = [];
  /** Position in the store's layer list of the layer each `ids` entry belongs to. */
  private readonly at: number[] = [];

  constructor(private readonly layers: readonly Layer[]) {
    const entries: { id: string; at: number }[] = [];
    layers.forEach((l, at) => {
      const id = l.id.replace(/^sha256:/, '');
      if (id) entries.push({ id, at });
      const diffId = (l.diffId ?? '').replace(/^sha256:/, '');
      if (diffId) entries.push({ id: diffId, at });
    });
    entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.at - b.at));
    for (const e of entries) {
      this.ids.push(e.id);
      this.at.push(e.at);
    }
  }

  /** The layers (each once, in store order) with an id or diff id starting with `prefix` (non-empty). */
  withPrefix(prefix: string): Layer[] {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ids[mid] < prefix) lo = mid + 1;
      else hi = mid;
    }
    const found = new Set<number>();
    for (let i = lo; i < this.ids.length && this.ids[i].startsWith(prefix); i++) found.add(this.at[i]);
    return [...found].sort((a, b) => a - b).map((at) => this.layers[at]);
  }
}

/** `fixture/app:1.0` matches `fixture/app:1.0`; `app` matches `app:latest`; `docker.io/library/x:y` matches `x:y`. */
export function refMatches(stored: string, want: string): boolean {
  const norm = (r: string) => {
    let s = r.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
    const lastSlash = s.lastIndexOf('/');
    if (!s.includes('@') && !s.slice(lastSlash + 1).includes(':')) s += ':latest';
    return s;
  };
  return stored === want || norm(stored) === norm(want);
}

export type RootsState = 'ok' | 'none' | 'missing' | 'permission' | 'notRoot' | 'mixed';

/** Whether any root could be read, and if none, the reason that fits them all best. */
export function rootsState(roots: readonly RootStatus[]): RootsState {
  if (roots.length === 0) return 'none';
  if (roots.some((r) => !r.error)) return 'ok';
  const codes = roots.map((r) => r.error!.code);
  if (codes.includes('permission-denied')) return 'permission';
  if (codes.every((c) => c === 'not-found')) return 'missing';
  if (codes.every((c) => c === 'not-a-root' || c === 'not-found')) return 'notRoot';
  return 'mixed';
}
