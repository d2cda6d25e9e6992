/**
 * Wires dive's efficiency into the extension: the background cache, the
 * image rows' figures, the Wasted Space view, and Show Wasted Space (on an
 * image or step of the Images tree, or from the palette, which asks for the
 * image).
 */
import * as vscode from 'vscode';
import type { ImageEfficiency } from './core/efficiency';
import type { Image } from './core/model';
import type { Store } from './core/store';
import { EfficiencyCache } from './efficiencyCache';
import { EfficiencyImageDecorator } from './efficiencyImageDecorator';
import { WASTED_SPACE_VIEW, WastedSpaceTreeProvider, type WastedNode } from './efficiencyTreeProvider';
import type { ImagesTreeProvider } from './imagesTreeProvider';
import { imageName, stepOfArg } from './layerTargets';
import { reportErrors } from './log';
import type { StoreService } from './storeService';

export interface EfficiencyApi {
  readonly cache: EfficiencyCache;
  readonly wastedSpace: WastedSpaceTreeProvider;
  readonly wastedSpaceView: vscode.TreeView<WastedNode>;
}

/** The image a command was given (an image or step node, a URI), or one chosen from the store's. */
async function imageOfArg(store: Store, arg: unknown): Promise<Image | undefined> {
  const step = arg === undefined ? undefined : stepOfArg(store, arg);
  if (step) return step.image;
  const images = store.images.filter((i) => !i.intermediate);
  const chosen = await vscode.window.showQuickPick(
    images.map((image) => ({ label: imageName(image), description: `${image.steps.length} steps · ${image.source.label}`, image })),
    { title: 'Show Wasted Space: which image?', matchOnDescription: true },
  );
  return chosen?.image;
}

/** The figures of `image`, with a cancellable notification while its layers are walked. */
function computeWithProgress(cache: EfficiencyCache, store: Store, image: Image): Thenable<ImageEfficiency | undefined> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Wasted space in ${imageName(image)}`, cancellable: true },
    async (progress, token) => {
      try {
        return await cache.get(store, image, (message) => progress.report({ message }), token);
      } catch (err) {
        if (token.isCancellationRequested) return undefined;
        throw err;
      }
    },
  );
}

export function registerEfficiency(context: vscode.ExtensionContext, service: StoreService, imagesTree: ImagesTreeProvider): EfficiencyApi {
  const cache = new EfficiencyCache(service);
  const decorator = new EfficiencyImageDecorator(service, cache);
  const wastedSpace = new WastedSpaceTreeProvider();
  const wastedSpaceView = vscode.window.createTreeView(WASTED_SPACE_VIEW, { treeDataProvider: wastedSpace, showCollapseAll: true });
  imagesTree.addImageDecorator(decorator);
  const setMessage = () => {
    const s = wastedSpace.current;
    wastedSpaceView.message = s && s.result.offenders.length === 0 ? `No file of ${imageName(s.image)} is held by two layers: nothing is wasted.` : undefined;
  };
  context.subscriptions.push(
    cache,
    decorator,
    wastedSpace,
    wastedSpaceView,
    wastedSpace.onDidChangeTreeData(setMessage),
    // The report's image may be gone after a reload: its rows would point at nothing.
    service.onDidChange(() => wastedSpace.clear()),
    vscode.commands.registerCommand('dockerLayers.showWastedSpace', (arg?: unknown) =>
      reportErrors('Show Wasted Space', async (): Promise<ImageEfficiency | undefined> => {
        const store = await service.get();
        const image = await imageOfArg(store, arg);
        if (!image) return undefined;
        const result = await computeWithProgress(cache, store, image);
        if (!result) return undefined;
        wastedSpace.show(image, result);
        await vscode.commands.executeCommand(`${WASTED_SPACE_VIEW}.focus`);
        return result;
      }),
    ),
  );
  return { cache, wastedSpace, wastedSpaceView };
}
