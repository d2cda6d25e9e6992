/**
 * The "Find Path in Images…" command (palette and the Images view's title):
 * opens the search Quick Pick (findPathQuickPick.ts) and acts on the chosen
 * hit: a file or symlink opens in place, read-only, from its own layer; a
 * folder, a deletion, an opaque folder (or the item's Reveal button) selects
 * the layer's step in the Images tree and lists it in Layer Files, filtered to
 * the path.
 */
import * as vscode from 'vscode';
import type { FindHit } from './core/findPath';
import type { TreeNode } from './imagesTreeProvider';
import { FindPathPick, nodeOfHit } from './findPathQuickPick';
import { layerFileUri } from './layerUri';
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

  context.subscriptions.push(
    vscode.commands.registerCommand('dockerLayers.findPath', (value?: unknown) =>
      reportErrors('Find Path in Images', async () => {
        current?.dispose();
        const pick = new FindPathPick(service, choose);
        current = pick;
        pick.show(typeof value === 'string' ? value : '');
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
