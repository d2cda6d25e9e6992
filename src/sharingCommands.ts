/**
 * Show Images Sharing This Layer: on a step of the Images tree, a Quick Pick
 * of the other images that use the step's layer; the chosen one is revealed
 * and selected in the tree. Resolves to the revealed image (for tests).
 */
import * as vscode from 'vscode';
import { humanSize, printable } from './core/format';
import { shortId, type Image } from './core/model';
import type { ImagesTreeProvider, TreeNode } from './imagesTreeProvider';
import { reportErrors } from './log';
import { SharingImageDecorator } from './sharingImageDecorator';
import { imagesSharingLayer, sharedWithLabel } from './sharingScope';
import type { StoreService } from './storeService';

export const SHOW_SHARING_COMMAND = 'dockerLayers.showImagesSharingLayer';
const TITLE = 'Show Images Sharing This Layer';

interface ImagePick extends vscode.QuickPickItem {
  readonly image: Image;
}

/** The command, and the shared / unique size in image rows' hovers. */
export function registerSharingCommands(
  context: vscode.ExtensionContext,
  service: StoreService,
  tree: ImagesTreeProvider,
  view: vscode.TreeView<TreeNode>,
): void {
  tree.addImageDecorator(new SharingImageDecorator(service));
  context.subscriptions.push(
    vscode.commands.registerCommand(SHOW_SHARING_COMMAND, (node?: TreeNode) => reportErrors(TITLE, () => showImagesSharing(service, view, node))),
  );
}

async function showImagesSharing(service: StoreService, view: vscode.TreeView<TreeNode>, node: TreeNode | undefined): Promise<Image | undefined> {
  if (node?.kind !== 'step') return undefined;
  const store = await service.get();
  // The node may come from before a reload: look its image up in the current store.
  const image = store.images.find((i) => i.key === node.image.key);
  const layer = store.layer(image?.steps[node.stepIndex]?.layerKey);
  if (!image || !layer) {
    void vscode.window.showInformationMessage(`Step ${node.stepIndex} of ${nameOf(node.image)} has no layer: it changes no file, so no image shares it.`);
    return undefined;
  }
  const others = imagesSharingLayer(store, image, layer.key);
  if (others.length === 0) {
    void vscode.window.showInformationMessage(`No other image uses layer ${shortId(layer.id)} (step ${node.stepIndex} of ${nameOf(image)}).`);
    return undefined;
  }
  const picks: ImagePick[] = others.map((i) => ({
    label: safe(nameOf(i)),
    description: `${shortId(i.id)} · ${humanSize(i.size)}`,
    detail: i.tags.length > 1 ? safe(`also ${i.tags.slice(1).join(', ')}`) : undefined,
    image: i,
  }));
  const pick = await vscode.window.showQuickPick(picks, {
    title: `Layer ${shortId(layer.id)} (${humanSize(layer.size)}) of ${safe(nameOf(image))}: ${sharedWithLabel(others.length)}`,
    placeHolder: 'Choose an image to reveal it in the Images view',
    matchOnDescription: true,
  });
  if (!pick) return undefined;
  await view.reveal({ kind: 'image', image: pick.image }, { select: true, focus: true, expand: true });
  return pick.image;
}

function nameOf(image: Image): string {
  return image.tags[0] ?? image.digests[0] ?? `<none> ${shortId(image.id)}`;
}

/** Names from disk in a Quick Pick: no control characters, and no `$(icon)` syntax the picker would render. */
function safe(text: string): string {
  return printable(text).replace(/\$\(/g, '$\u200b(');
}
