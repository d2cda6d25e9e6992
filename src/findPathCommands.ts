/**
 * The "Find Path in Images…" command (palette and the Images view's title):
 * opens the search Quick Pick (findPathQuickPick.ts) and acts on the chosen
 * hit: a file or symlink opens in place, read-only, from its own layer; a
 * folder, a deletion, an opaque folder (or the item's Reveal button) selects
 * the layer's step in the Images tree and lists it in Layer Files, filtered to
 * the path.
 *
 * "Find Files with the Same Content" (on a file of Layer Files, or a file
 * open in place): the file's sha256, read through the core as a content
 * search reads it (never through a symlink), then the same pick searching
 * `sha256:<digest>`: every layer and image that holds those bytes.
 */
import * as vscode from 'vscode';
import { LayerError } from './core/errors';
import type { FindHit } from './core/findPath';
import { layerFileSha256 } from './core/findPathContent';
import { statLayerPath, type LayerPathStat } from './core/layerFiles';
import { resolveMerged } from './core/mergedPath';
import type { LayerContent } from './core/model';
import type { Store } from './core/store';
import { refOfArg, type LayerFileRef } from './fileCommands';
import type { TreeNode } from './imagesTreeProvider';
import { FindPathPick, nodeOfHit } from './findPathQuickPick';
import { imageByKey, imageName, mergedLayers } from './layerTargets';
import { layerFileUri, normalizeEntryPath } from './layerUri';
import { reportErrors } from './log';
import type { StoreService } from './storeService';

export interface FindPathApi {
  /** The open pick, or the last one (tests read its items and wait for its search). */
  readonly current: FindPathPick | undefined;
  /** What the last chosen hit did (opened or revealed): settles when done, rejects with its error. */
  readonly chosen: Promise<void>;
}

const sameNode = (a: TreeNode, b: TreeNode) =>
  a.kind === 'step' && b.kind === 'step' ? a.image.key === b.image.key && a.stepIndex === b.stepIndex : a.kind === 'container' && b.kind === 'container' && a.container.key === b.container.key;

/**
 * Reveals and selects `node`. A refresh of the tree while its rows are first
 * drawn (image rows refresh when their figures arrive) can drop the selection
 * just made: it is made again, a few times at most, until it holds.
 */
async function revealSelected(view: vscode.TreeView<TreeNode>, node: TreeNode): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await view.reveal(node, { select: true, focus: true, expand: false });
    await new Promise((r) => setTimeout(r, 300));
    if (view.selection.some((n) => sameNode(n, node))) return;
  }
}

/**
 * The layer copy a Layer Files row or an open file stands for (for a merged
 * path, the copy of the top layer holding it), or why it has no bytes of its
 * own to search for: deleted, a symlink (never followed), not a regular file.
 */
async function copyOfRef(store: Store, ref: LayerFileRef, signal: AbortSignal): Promise<{ content: LayerContent; path: string } | string> {
  const path = normalizeEntryPath(ref.path);
  let content: LayerContent | undefined;
  let stat: LayerPathStat;
  if (ref.merged && ref.imageKey !== undefined && ref.step !== undefined) {
    const image = imageByKey(store, ref.imageKey);
    const { contents } = mergedLayers(store, image, ref.step);
    const hit = await resolveMerged(contents, path, { signal });
    if (!hit) return `${path} does not exist in ${imageName(image)} as of step ${ref.step}.`;
    ({ stat } = hit);
    content = contents[hit.layerIndex];
  } else {
    content = store.layer(ref.layerKey)?.content;
    if (!content) throw new LayerError('not-found', `${path}: its layer is no longer in the configured roots, or has no files on disk`);
    stat = await statLayerPath(content, path, { signal });
  }
  if (stat.deleted || ref.status === 'deleted') return `${path} is deleted in this layer: it has no bytes to search for.`;
  if (stat.type === 'symlink') return `${path} is a symbolic link (to ${stat.target ?? '?'}): it is never followed. Search from the file it points to.`;
  if (stat.type !== 'file') return `${path} is not a regular file: only a file's bytes can be searched for.`;
  return { content, path };
}

/** The sha256 of the file a command was given, with a cancellable notification (a big file takes a while); undefined when cancelled or refused. */
async function digestOf(store: Store, ref: LayerFileRef): Promise<{ sha256: string; path: string } | undefined> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Reading ${normalizeEntryPath(ref.path)} for its sha256`, cancellable: true },
    async (_progress, token) => {
      const controller = new AbortController();
      token.onCancellationRequested(() => controller.abort());
      try {
        const copy = await copyOfRef(store, ref, controller.signal);
        if (typeof copy === 'string') return void vscode.window.showInformationMessage(copy);
        return { sha256: await layerFileSha256(copy.content, copy.path, controller.signal), path: copy.path };
      } catch (err) {
        if (err instanceof LayerError && err.code === 'cancelled') return undefined;
        throw err;
      }
    },
  );
}

export function registerFindPath(context: vscode.ExtensionContext, service: StoreService, imagesView: vscode.TreeView<TreeNode>): FindPathApi {
  let current: FindPathPick | undefined;
  let chosen: Promise<void> = Promise.resolve();

  const reveal = async (hit: FindHit) => {
    const node = nodeOfHit(hit);
    if (!node) return void vscode.window.showInformationMessage(`${hit.path}: its layer (${hit.layer.id}) belongs to no image or container.`);
    await vscode.commands.executeCommand('dockerLayers.showLayerFiles', node);
    await vscode.commands.executeCommand('dockerLayers.filterFiles', hit.path);
    // Last, so that nothing moves the selection afterwards; the view is shown first (it reveals only rows it has drawn).
    await vscode.commands.executeCommand('dockerLayers.images.focus');
    await revealSelected(imagesView, node);
  };

  const choose = (hit: FindHit, revealOnly: boolean): Promise<void> => {
    const opens = (hit.type === 'file' || hit.type === 'symlink') && hit.status !== 'deleted';
    chosen = (async () => {
      if (revealOnly || !opens) return reveal(hit);
      await vscode.commands.executeCommand('vscode.open', layerFileUri(hit.layer, hit.path), { preview: true });
    })();
    return chosen;
  };

  /** A new pick (the open one closes), searching `value` at once. */
  const open = (value: string, heading?: string): FindPathPick => {
    current?.dispose();
    const pick = new FindPathPick(service, choose);
    current = pick;
    pick.show(value, heading);
    return pick;
  };

  context.subscriptions.push(
    vscode.commands.registerCommand('dockerLayers.findPath', (value?: unknown) =>
      reportErrors('Find Path in Images', async () => void open(typeof value === 'string' ? value : '')),
    ),
    vscode.commands.registerCommand('dockerLayers.findSameContent', (arg?: unknown) =>
      reportErrors('Find Files with the Same Content', async () => {
        const ref = refOfArg(arg);
        if (!ref) return void vscode.window.showInformationMessage('Choose a file in the Layer Files view, or open a file of a layer (not a step’s JSON document), first.');
        const digest = await digestOf(await service.get(), ref);
        return digest && open(`sha256:${digest.sha256}`, `Files with the same content as ${digest.path}`);
      }),
    ),
    { dispose: () => current?.dispose() },
  );
  return {
    get current() {
      return current;
    },
    get chosen() {
      return chosen;
    },
  };
}
