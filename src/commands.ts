/**
 * The commands of the Images view. Every body runs through reportErrors, so a
 * failure is logged and shown, never an unhandled rejection.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TreeNode } from './imagesTreeProvider';
import { log, reportErrors } from './log';
import { ensureSampleRoot } from './sampleRoot';
import { configuredRoots, setConfiguredRoots, setShowIntermediate, showIntermediate } from './settings';
import type { StoreService } from './storeService';

export function registerCommands(context: vscode.ExtensionContext, service: StoreService): void {
  const add = (id: string, fn: (...args: any[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, (...args) => reportErrors(titleOf(id), () => fn(...args))));

  add('dockerLayers.refresh', () => service.reload());

  add('dockerLayers.chooseRoot', async () => {
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      openLabel: 'Read This Root',
      title: 'Choose a Docker storage root (read-only)',
    });
    const folder = picked?.[0];
    if (!folder) return;
    if (folder.scheme !== 'file') throw new Error('a Docker root must be a folder on this machine');
    const roots = configuredRoots();
    if (!roots.includes(folder.fsPath)) await setConfiguredRoots([...roots, folder.fsPath]);
    else await service.reload();
  });

  add('dockerLayers.openSampleRoot', async () => {
    const archive = vscode.Uri.joinPath(context.extensionUri, 'media', 'sample-root.tar.gz').fsPath;
    const root = await ensureSampleRoot(archive, context.globalStorageUri.fsPath);
    log().info(`sample root at ${root}`);
    await service.addSessionRoot(root);
  });

  add('dockerLayers.removeRoot', async (node?: TreeNode) => {
    if (node?.kind !== 'root') return;
    const root = node.status.root;
    if (service.removeSessionRoot(root)) return;
    const roots = configuredRoots();
    const kept = roots.filter((r) => path.resolve(r) !== root);
    await setConfiguredRoots(kept);
  });

  add('dockerLayers.toggleIntermediate', () => setShowIntermediate(!showIntermediate()));

  add('dockerLayers.copyId', async (node?: TreeNode) => {
    const store = service.current();
    const id =
      node?.kind === 'image'
        ? node.image.id
        : node?.kind === 'container'
          ? node.container.id
          : node?.kind === 'step'
            ? store?.layer(node.image.steps[node.stepIndex].layerKey)?.id ?? node.image.steps[node.stepIndex].imageId
            : undefined;
    if (id) await vscode.env.clipboard.writeText(id);
  });

  add('dockerLayers.copyStep', async (node?: TreeNode) => {
    if (node?.kind === 'step') await vscode.env.clipboard.writeText(node.image.steps[node.stepIndex].createdBy);
  });

  add('dockerLayers.showLog', () => log().show());
}

function titleOf(id: string): string {
  return id.replace('dockerLayers.', '').replace(/([A-Z])/g, ' $1').toLowerCase();
}
