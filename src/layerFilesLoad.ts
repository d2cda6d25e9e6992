/**
 * How one listing of the Layer Files view is filled: a layer's own entries as
 * its walk streams them, or the merged filesystem as of a step. The view
 * (layerFilesTreeProvider.ts) owns the listing's state, filter, sort and
 * refreshes; these call back into it through LoadHooks.
 */
import { FileListing, LayerEntryTree } from './core/fileListing';
import type { LayerEntry, WalkProblem } from './core/layerEntry';
import { mergedTree, type MergedEntry } from './core/layerStack';
import { walkLayer } from './core/layerWalk';
import type { Store } from './core/store';
import type { Load } from './layerFilesItems';
import { mergedLayers } from './layerTargets';

/** How long a walk waits, once, for VS Code to take its first rows. */
const YIELD_MS = 150;

/** What a listing calls back into the view. */
export interface LoadHooks {
  /** Sets the listing's sort and filter and makes it the load's. */
  prepare(load: Load, listing: FileListing<LayerEntry> | FileListing<MergedEntry>): void;
  problem(load: Load, p: WalkProblem): void;
  /** New entries: refresh soon. */
  tick(load: Load): void;
}

/** A layer's own entries, listed as the walk yields them. */
export async function streamLoad(load: Load, hooks: LoadHooks): Promise<void> {
  const layer = load.subject.layer;
  const listing = new FileListing<LayerEntry>(new LayerEntryTree());
  hooks.prepare(load, listing);
  if (!layer) return;
  load.layers = [layer];
  if (!layer.content) throw new Error(layer.problems.map((p) => p.message).join('; ') || 'the layer has no folder on disk');
  const walk = walkLayer(layer.content, { signal: load.controller.signal, onProblem: (p) => hooks.problem(load, p) });
  let rowsAsked: Promise<unknown> | undefined = new Promise<void>((resolve) => (load.rowsTaken = resolve));
  for await (const e of walk) {
    load.firstEntryMs ??= performance.now() - load.started;
    listing.add(e);
    load.entries++;
    hooks.tick(load);
    if (rowsAsked && load.firstRefreshMs !== undefined) {
      // The first rows are announced: leave the event loop to VS Code until it has taken them
      // (a busy extension host delays its answer by a few hundred ms), at most YIELD_MS.
      await Promise.race([rowsAsked, new Promise((r) => setTimeout(r, YIELD_MS))]);
      rowsAsked = undefined;
    }
  }
}

/** The merged filesystem as of the step (a container: its image and its read-write layer). */
export async function mergeLoad(store: Store, load: Load, hooks: LoadHooks): Promise<void> {
  const s = load.subject;
  const image = s.image;
  if (!image) throw new Error(`the image of container ${s.kind === 'container' ? s.container.name : ''} is not in this root: only its own changes can be listed`);
  // mergedLayers gives them top first.
  const { contents, steps } = mergedLayers(store, image, s.kind === 'step' ? s.stepIndex : image.steps.length - 1);
  contents.reverse();
  steps.reverse();
  const layers = steps.map((i) => store.layer(image.steps[i].layerKey)!);
  if (s.kind === 'container') {
    if (!s.layer?.content) throw new Error(`container ${s.container.name} has no read-write layer on disk`);
    contents.push(s.layer.content);
    layers.push(s.layer);
    steps.push(-1);
  }
  load.layers = layers;
  load.steps = steps;
  const tree = await mergedTree(contents, {
    signal: load.controller.signal,
    onProblem: (_, p) => hooks.problem(load, p),
    onProgress: (p) => {
      load.entries = p.entries;
      load.progress = `layer ${p.layer + 1} of ${p.layers}`;
      hooks.tick(load);
    },
  });
  load.entries = tree.count;
  hooks.prepare(load, new FileListing<MergedEntry>(tree));
}
