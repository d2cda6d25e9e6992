/**
 * The commands of the Layer Files view: show a layer's files, switch to the
 * merged filesystem, filter, sort, page through a very big folder. Every body
 * runs through reportErrors.
 */
import * as vscode from 'vscode';
import { parseFileFilter } from './core/fileFilter';
import type { TreeNode } from './imagesTreeProvider';
import type { LayerFilesTreeProvider } from './layerFilesTreeProvider';
import { reportErrors } from './log';

export function registerLayerFilesCommands(context: vscode.ExtensionContext, provider: LayerFilesTreeProvider): void {
  const add = (id: string, title: string, fn: (...args: any[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, (...args) => reportErrors(title, () => fn(...args))));

  add('dockerLayers.showLayerFiles', 'Show Layer Files', async (node?: TreeNode) => {
    const shown = node ? provider.show(node) : undefined;
    await vscode.commands.executeCommand('dockerLayers.layerFiles.focus');
    await shown;
  });
  add('dockerLayers.toggleMerged', 'Show Merged Filesystem', () => provider.setMerged(!provider.isMerged));
  add('dockerLayers.filterFiles', 'Filter Files', async (text?: unknown) => {
    const typed =
      typeof text === 'string'
        ? text
        : await vscode.window.showInputBox({
            title: 'Filter Layer Files',
            value: provider.filter,
            prompt: 'A part of a path, a glob (*.conf, /etc/**) or a size (size>1MB); several terms must all match. Empty: no filter.',
            validateInput: (v) => {
              const parsed = v.trim() ? parseFileFilter(v) : undefined;
              return typeof parsed === 'string' ? parsed : undefined;
            },
          });
    if (typed !== undefined) provider.setFilter(typed);
  });
  add('dockerLayers.clearFilesFilter', 'Clear Filter', () => provider.setFilter(undefined));
  add('dockerLayers.sortFiles', 'Sort Files', () => provider.setSort(provider.sortOrder === 'name' ? 'size' : 'name'));
  add('dockerLayers.layerFilesShowMore', 'Show More Files', (dir?: unknown) => typeof dir === 'string' && provider.showMore(dir));
}
