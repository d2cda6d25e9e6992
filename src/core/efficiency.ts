/**
 * Wasted space and the efficiency score of an image, exactly as dive defines
 * them (wagoodman/dive `dive/filetree/efficiency.go` `Efficiency()` and
 * `dive/image/analysis.go` `Analyze()`), computed from the unpacked layers of
 * a root instead of `docker save` tars.
 *
 * dive's rules, which this file follows:
 * - Each layer is a tree; only its leaves are visited (a folder that holds
 *   something in that layer is not, an empty one is).
 * - A leaf counts its size: a regular file its bytes, anything else 0 (tar
 *   headers give folders, symlinks and devices size 0). A whiteout counts, when
 *   what it deletes was a folder in the layers below, the bytes of everything
 *   below that folder; when it was a file, 0.
 * - Per path: cumulative = the sum over the layers whose leaf it is; min = the
 *   smallest of those. score = Σ min / Σ cumulative (1 when nothing has bytes).
 * - An offender ("inefficiency") is a path that is a leaf in two or more
 *   layers. wasted bytes = Σ cumulative over offenders (the whole cumulative,
 *   first copy included: that is dive's figure, not cumulative − min).
 * - user size = the bytes of every layer but the first (the base image);
 *   user wasted percent = wasted / user size (a fraction, 0–1 and beyond).
 *
 * Where an unpacked root cannot say what a tar says, or dive's code does
 * something only a tar makes happen, we say so:
 * - Opaque folders: dive drops `.wh..wh..opq` markers and stacks as if the
 *   folder were plain, so its lower children stay; we do the same (the lower
 *   children still count when a later whiteout deletes the folder).
 * - Sizes are what a layer tar's headers say: a regular file its bytes, and
 *   a file hard-linked under several names in one layer only once (a tar
 *   stores the later names as 0-byte link headers; busybox's applets are ~400
 *   names of one 1 MB file). The walk runs without lstat and only regular
 *   files are lstat()ed here (for size, inode and link count).
 * - A whiteout of a path no lower layer has: dive's visit fails and it skips
 *   the rest of that layer; we count the whiteout as 0 and go on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { diskPath, displayName } from './byteNames';
import { fromFsError, LayerError } from './errors';
import type { LayerEntry, WalkProblem } from './layerEntry';
import { isSameOrBelow, PathTree, type MergeProgress, type PathEntry } from './layerStack';
import { walkLayer } from './layerWalk';
import { tarHardlinks } from './tar/tarLayer';
import type { Image, LayerContent } from './model';
import type { Store } from './store';

/** A path that is a leaf in two or more layers: what dive lists as an inefficient file. */
export interface Offender {
  readonly path: string;
  /** How many layers have it as a leaf (dive's "Count"). */
  readonly count: number;
  /** Its cumulative bytes over those layers (dive's "Wasted Space" column). */
  readonly bytes: number;
  /** Those layers, bottom first: indices into the stack given (see ImageEfficiency.steps for steps). */
  readonly layers: readonly number[];
  /** The bytes each of those layers counted, in the same order. */
  readonly sizes: readonly number[];
  /** Whether each of those layers' copy is a whiteout (it deletes the path), same order. */
  readonly deletes: readonly boolean[];
}

export interface Efficiency {
  /** dive's efficiency: Σ smallest copy / Σ all copies over every path, 0–1. */
  readonly score: number;
  /** Σ cumulative bytes of the offenders (dive's wastedBytes). */
  readonly wastedBytes: number;
  /** Bytes of all layers (dive's sizeBytes: regular files' bytes, as tar headers count them). */
  readonly sizeBytes: number;
  /** Bytes of all layers but the first (dive's userSizeBytes). */
  readonly userSizeBytes: number;
  /** wastedBytes / userSizeBytes (dive's WastedUserPercent, a fraction); 0 when nothing is wasted, Infinity when waste sits on a base-only image. */
  readonly userWastedPercent: number;
  /** Offenders, biggest first (ties by path). */
  readonly offenders: readonly Offender[];
  /** The bytes of each layer, bottom first. */
  readonly layerBytes: readonly number[];
  /** Leaves visited, all layers together. */
  readonly leaves: number;
}

export interface EfficiencyOptions {
  readonly signal?: AbortSignal;
  /** Called when each layer starts and every 1,024 entries. */
  readonly onProgress?: (progress: MergeProgress) => void;
  /** Unreadable items of layer `layer`; they are left out of the figures. */
  readonly onProblem?: (layer: number, problem: WalkProblem) => void;
}

/** What dive remembers of a path: its running sum, its smallest copy and where its copies are. */
interface PathRecord {
  cumulative: number;
  min: number;
  /** The first copy's layer, bytes and whether it is a whiteout: most paths have one copy, kept without arrays. */
  readonly layer: number;
  readonly size: number;
  readonly deletes: boolean;
  /** The copies, from the second one on (with the first), once there are two. */
  copies?: { layers: number[]; sizes: number[]; deletes: boolean[] };
}

/** What dive needs of a walked entry: its path, type, tar size and whether it is a whiteout (one small object each). */
interface Sized extends PathEntry {
  readonly deleted: boolean;
}

/** The stack of layers below the one being walked, as dive stacks it: only what whiteouts need (types and sizes). */
class DiveStack extends PathTree<Sized> {
  protected implicitDir(path: string): Sized {
    return { path, type: 'dir', size: 0, deleted: false };
  }

  /** dive's Stack(): a whiteout removes the path and all below; anything else is set (opaque folders as plain ones). */
  apply(e: Sized): void {
    if (e.deleted) this.remove(e.path);
    else if (e.path !== '/') this.set(e);
  }

  /** What a whiteout of `path` counts: the bytes below it when it is a folder, else 0. */
  deletedBytes(path: string): number {
    if (this.get(path)?.type !== 'dir') return 0;
    let total = 0;
    for (const e of this.entries(path)) total += e.size;
    return total;
  }
}

/** A walked entry with the size dive would read for it. */
interface Sizer {
  sized(e: LayerEntry): Sized;
}

/**
 * Sizes of a layer that is a tar (an image archive): its headers are there to
 * read, and a hard link's header says 0 bytes, as dive reads it.
 */
class HeaderSizes implements Sizer {
  constructor(private readonly hardlinks: ReadonlySet<string>) {}

  sized(e: LayerEntry): Sized {
    const deleted = e.status === 'deleted';
    const size = deleted || e.type !== 'file' || this.hardlinks.has(e.path) ? 0 : e.size;
    return { path: e.path, type: e.type, size, deleted };
  }
}

/** Sizes of a layer folder as a layer tar's headers would give them: regular files only, each hard-linked file once. */
class TarSizes implements Sizer {
  /** `dev:ino` of the files with several links already counted in this layer. */
  private readonly linked = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly onProblem: ((p: WalkProblem) => void) | undefined,
  ) {}

  /** The entry with its tar size. */
  sized(e: LayerEntry): Sized {
    const deleted = e.status === 'deleted';
    return { path: e.path, type: e.type, size: deleted || e.type !== 'file' ? 0 : this.fileSize(e), deleted };
  }

  /** A regular file's bytes, 0 when its inode was counted under another name (or it cannot be read). */
  private fileSize(e: LayerEntry): number {
    // Walked paths are `/`-joined names from readdir (never `..`) through real folders (the walk never
    // enters a symlink), so this stays inside the layer; concatenated, as path.join costs per file.
    const disk = this.dir + (path.sep === '/' ? e.path : e.path.replace(/\//g, path.sep));
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(diskPath(disk));
    } catch (err) {
      const le = fromFsError(err, displayName(disk));
      this.onProblem?.({ path: e.path, diskPath: disk, message: le.message, code: le.code });
      return 0;
    }
    let size = st.isFile() ? st.size : 0;
    if (size > 0 && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      if (this.linked.has(key)) size = 0;
      else this.linked.add(key);
    }
    return size;
  }
}

/**
 * dive's efficiency of a stack of layers (bottom first), each layer walked
 * once, streaming. Throws LayerError `cancelled` when the signal fires,
 * `not-found` when a layer's folder is missing.
 */
export async function efficiency(layers: readonly LayerContent[], options: EfficiencyOptions = {}): Promise<Efficiency> {
  const records = new Map<string, PathRecord>();
  const stack = new DiveStack();
  const layerBytes: number[] = [];
  let entries = 0;
  let leaves = 0;

  const visitLeaf = (index: number, e: Sized): void => {
    if (e.path === '/') return; // dive never visits the root
    const deletes = e.deleted;
    const size = deletes ? stack.deletedBytes(e.path) : e.size;
    leaves++;
    const r = records.get(e.path);
    if (!r) {
      records.set(e.path, { cumulative: size, min: size, layer: index, size, deletes, copies: undefined });
      return;
    }
    r.cumulative += size;
    if (size < r.min) r.min = size;
    const c = (r.copies ??= { layers: [r.layer], sizes: [r.size], deletes: [r.deletes] });
    c.layers.push(index);
    c.sizes.push(size);
    c.deletes.push(deletes);
  };

  for (let i = 0; i < layers.length; i++) {
    if (options.signal?.aborted) throw new LayerError('cancelled', 'cancelled');
    options.onProgress?.({ layer: i, layers: layers.length, entries });
    const onProblem = options.onProblem && ((p: WalkProblem) => options.onProblem!(i, p));
    const layer = layers[i];
    const sizes: Sizer = layer.tar ? new HeaderSizes(await tarHardlinks(layer, options.signal)) : new TarSizes(layer.dir, onProblem);
    let bytes = 0;
    // The walk yields a folder right before what is inside it: an entry is a
    // leaf when the next one is not below it. Each entry is visited before it
    // joins the stack, so a whiteout sees the layers below only.
    let prev: Sized | undefined;
    for await (const walked of walkLayer(layer, { signal: options.signal, onProblem, stat: false })) {
      const e = sizes.sized(walked);
      if (prev) {
        if (!isSameOrBelow(e.path, prev.path) || prev.type !== 'dir') visitLeaf(i, prev);
        stack.apply(prev);
      }
      bytes += e.size;
      prev = e;
      if ((++entries & 1023) === 0) options.onProgress?.({ layer: i, layers: layers.length, entries });
    }
    if (prev) {
      visitLeaf(i, prev);
      stack.apply(prev);
    }
    layerBytes.push(bytes);
  }
  return summarize(records, layerBytes, leaves);
}

/** dive's score, wasted bytes and user figures from the per-path records. */
function summarize(records: Map<string, PathRecord>, layerBytes: number[], leaves: number): Efficiency {
  let minimum = 0;
  let discovered = 0;
  let wastedBytes = 0;
  const offenders: Offender[] = [];
  for (const [path, r] of records) {
    minimum += r.min;
    discovered += r.cumulative;
    const c = r.copies;
    if (c) {
      wastedBytes += r.cumulative;
      offenders.push({ path, count: c.layers.length, bytes: r.cumulative, layers: c.layers, sizes: c.sizes, deletes: c.deletes });
    }
  }
  offenders.sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const sizeBytes = layerBytes.reduce((a, b) => a + b, 0);
  const userSizeBytes = sizeBytes - (layerBytes[0] ?? 0);
  const userWastedPercent = wastedBytes === 0 ? 0 : userSizeBytes === 0 ? Infinity : wastedBytes / userSizeBytes;
  return {
    score: discovered === 0 ? 1 : minimum / discovered,
    wastedBytes,
    sizeBytes,
    userSizeBytes,
    userWastedPercent,
    offenders,
    layerBytes,
    leaves,
  };
}

/** `92.9985 %`: dive's score as a percentage, 4 decimals so near-perfect images still differ. */
export function scoreText(score: number): string {
  return `${(score * 100).toFixed(4)} %`;
}

/** dive's figures for an image, with the step (as `layers` numbers them) each layer of the stack made. */
export interface ImageEfficiency extends Efficiency {
  /** steps[i] = the step index of layer i of the stack (empty steps have no layer). */
  readonly steps: readonly number[];
}

/**
 * The layers of `image`, bottom first, with the step each made. Throws
 * LayerError `unsupported` naming the step when a layer has no readable files.
 */
export function imageLayerStack(store: Store, image: Image): { contents: LayerContent[]; steps: number[] } {
  const contents: LayerContent[] = [];
  const steps: number[] = [];
  image.steps.forEach((step, i) => {
    if (step.layerKey === undefined) return;
    const layer = store.layer(step.layerKey);
    if (!layer?.content) {
      const name = image.tags[0] ?? image.id;
      throw new LayerError('unsupported', `step ${i} of ${name} has no readable files: ${layer?.problems[0]?.message ?? 'the layer is missing'}`);
    }
    contents.push(layer.content);
    steps.push(i);
  });
  return { contents, steps };
}

/** dive's efficiency of an image of the store; `onProblem` is given the step (as `layers` numbers them), not the stack index. */
export async function imageEfficiency(store: Store, image: Image, options: EfficiencyOptions = {}): Promise<ImageEfficiency> {
  const { contents, steps } = imageLayerStack(store, image);
  const onProblem = options.onProblem && ((layer: number, p: WalkProblem) => options.onProblem!(steps[layer], p));
  return { ...(await efficiency(contents, { ...options, onProblem })), steps };
}
