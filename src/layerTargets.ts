/**
 * What a `docker-layer:` URI, a tree node or the active editor names in the
 * loaded store: an image by key, a step, the layers of a merged view. Shared
 * by the file system provider and the compare and file commands.
 */
import * as vscode from 'vscode';
import { LayerError } from './core/errors';
import { shortId, type Image, type LayerContent } from './core/model';
import type { StepRef, Store } from './core/store';
import type { TreeNode } from './imagesTreeProvider';
import { parseLayerUri } from './layerUri';

const imageMaps = new WeakMap<Store, Map<string, Image>>();

/** The image with this key in the store; not-found when it is gone. */
export function imageByKey(store: Store, key: string): Image {
  let map = imageMaps.get(store);
  if (!map) imageMaps.set(store, (map = new Map(store.images.map((i) => [i.key, i]))));
  const image = map.get(key);
  if (!image) throw new LayerError('not-found', `the image ${shortId(key.slice(key.lastIndexOf('/') + 1))} is no longer in the configured roots`);
  return image;
}

export function imageName(image: Image): string {
  return image.tags[0] ?? shortId(image.id);
}

export function checkStep(image: Image, step: number): void {
  if (!Number.isInteger(step) || step < 0 || step >= image.steps.length) {
    throw new LayerError('not-found', `${imageName(image)} has no step ${step} (it has ${image.steps.length})`);
  }
}

/** The layers of `image` up to `step`, top first, with the step each one made. */
export function mergedLayers(store: Store, image: Image, step: number): { contents: LayerContent[]; steps: number[] } {
  checkStep(image, step);
  const contents: LayerContent[] = [];
  const steps: number[] = [];
  for (let i = step; i >= 0; i--) {
    const key = image.steps[i].layerKey;
    if (key === undefined) continue;
    const layer = store.layer(key);
    if (!layer?.content) {
      throw new LayerError('unsupported', `step ${i} of ${imageName(image)} has no readable files: ${layer?.problems[0]?.message ?? 'the layer is missing'}`);
    }
    contents.push(layer.content);
    steps.push(i);
  }
  return { contents, steps };
}

/** The first step (in store order) made by a layer, preferring `image` when it has one. */
export function stepOfLayer(store: Store, layerKey: string, image?: Image): StepRef | undefined {
  for (const candidate of image ? [image, ...store.images] : store.images) {
    const stepIndex = candidate.steps.findIndex((s) => s.layerKey === layerKey);
    if (stepIndex >= 0) return { image: candidate, stepIndex };
  }
  return undefined;
}

/**
 * The step a URI stands for: a `docker-layer:` document, a file in a layer
 * (the step that made the layer), a merged file (its step), or a legacy
 * `graph/<id>/json` file on disk.
 */
export function stepOfUri(store: Store, uri: vscode.Uri): StepRef | undefined {
  const t = parseLayerUri(uri);
  if (t?.k === 'json' || t?.k === 'merged') {
    const image = imageByKey(store, t.image);
    checkStep(image, t.step);
    return { image, stepIndex: t.step };
  }
  if (t?.k === 'file') return stepOfLayer(store, t.layer);
  const legacy = uri.scheme === 'file' ? /\/graph\/([0-9a-f]{64})\/json$/.exec(uri.path) : null;
  if (legacy) {
    try {
      return store.resolveStep(legacy[1]);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The step a command argument names: a step or image node of the Images tree, or a URI. */
export function stepOfArg(store: Store, arg: unknown): StepRef | undefined {
  if (arg instanceof vscode.Uri) return stepOfUri(store, arg);
  const node = arg as TreeNode | undefined;
  if (node?.kind === 'step' || node?.kind === 'image') {
    // Nodes may come from before a reload: look the image up again by key.
    const image = imageByKey(store, node.image.key);
    const stepIndex = node.kind === 'step' ? node.stepIndex : image.steps.length - 1;
    checkStep(image, stepIndex);
    return { image, stepIndex };
  }
  return undefined;
}

/** The URI of the active editor: a custom editor, a text editor, or a diff's right side. */
export function activeEditorUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText) return input.uri;
  if (input instanceof vscode.TabInputTextDiff) return input.modified;
  return vscode.window.activeTextEditor?.document.uri;
}
