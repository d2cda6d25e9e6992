/**
 * Which step of which image a Layer JSON editor shows, from its URI:
 * - `docker-layer:` json URIs (layerUri.ts): the image by key in the loaded
 *   store (or in a root this resolver opened itself), and the step index;
 * - `file:` URIs of a legacy root's `graph/<id>/json` (opened from the
 *   Explorer with "Open With…"): the image `<id>` of the legacy graph of the
 *   root that holds `graph/`. A root not among the loaded ones is opened here,
 *   read-only, for as long as the extension runs.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LayerError } from './core/errors';
import { HEX64, type Image } from './core/model';
import { Store } from './core/store';
import { parseLayerUri, SCHEME } from './layerUri';
import { log } from './log';
import type { StoreService } from './storeService';

export interface StepTarget {
  readonly store: Store;
  readonly image: Image;
  readonly stepIndex: number;
}

export class LayerStepResolver {
  private readonly adHoc = new Map<string, Promise<Store>>();

  constructor(private readonly service: StoreService) {}

  async resolve(uri: vscode.Uri, signal?: AbortSignal): Promise<StepTarget> {
    if (uri.scheme === SCHEME) return this.fromLayerUri(uri);
    if (uri.scheme === 'file') return this.fromGraphFile(uri.fsPath, signal);
    throw unsupported(uri);
  }

  private async fromLayerUri(uri: vscode.Uri): Promise<StepTarget> {
    const t = parseLayerUri(uri);
    if (!t || t.k !== 'json') throw unsupported(uri);
    for (const store of await this.stores()) {
      const image = store.images.find((i) => i.key === t.image);
      if (!image) continue;
      if (image.steps.length === 0 && image.problems.length > 0) {
        // Its config could not be read: that is why it has no step to show.
        const [first] = image.problems;
        throw new LayerError(first.code, `${image.tags[0] ?? image.id}: ${image.problems.map((p) => p.message).join('; ')}`, first.path);
      }
      if (t.step < 0 || t.step >= image.steps.length) {
        throw new LayerError('not-found', `image ${image.tags[0] ?? image.id} has ${image.steps.length} steps (0–${image.steps.length - 1}), not step ${t.step}`);
      }
      return { store, image, stepIndex: t.step };
    }
    throw new LayerError('not-found', `the image of ${uri.path} is no longer in the roots that are read (it was removed, or its root was)`);
  }

  private async fromGraphFile(file: string, signal?: AbortSignal): Promise<StepTarget> {
    const id = path.basename(path.dirname(file));
    const graph = path.dirname(path.dirname(file));
    if (path.basename(file) !== 'json' || path.basename(graph) !== 'graph' || !HEX64.test(id)) {
      throw new LayerError(
        'unsupported',
        `${file} is not a legacy layer JSON (graph/<id>/json of a Docker root). Open steps from the Images view of Docker Layers.`,
        file,
      );
    }
    const root = path.dirname(graph);
    const find = (store: Store) => store.images.find((i) => i.source.kind === 'legacy-graph' && i.source.root === root && i.id === id);
    const loaded = await this.service.get();
    if (loaded.roots.some((r) => r.root === root && !r.error)) {
      const image = find(loaded);
      if (image) return { store: loaded, image, stepIndex: image.steps.length - 1 };
    }
    let opening = this.adHoc.get(root);
    if (!opening) {
      log().info(`opening ${root} read-only for ${file}`);
      opening = Store.open([root], { signal });
      this.adHoc.set(root, opening);
      opening.catch(() => this.adHoc.delete(root));
    }
    const store = await opening;
    const image = find(store);
    if (!image) {
      const error = store.roots[0]?.error;
      throw error ?? new LayerError('not-found', `layer ${id} is not an image of the legacy graph in ${root}`, file);
    }
    return { store, image, stepIndex: image.steps.length - 1 };
  }

  private async stores(): Promise<Store[]> {
    const out: Store[] = [await this.service.get()];
    for (const p of this.adHoc.values()) {
      const s = await p.catch(() => undefined);
      if (s) out.push(s);
    }
    return out;
  }
}

function unsupported(uri: vscode.Uri): LayerError {
  return new LayerError(
    'unsupported',
    `${uri.toString(true)} is not a layer JSON this editor can show: open a step from the Images view, or a legacy root's graph/<id>/json.`,
  );
}
