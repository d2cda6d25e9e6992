/**
 * Wiring only: the store service, the Images tree, the commands. What
 * activate() returns is the API the integration tests drive.
 */
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { ImagesTreeProvider, type TreeNode } from './imagesTreeProvider';
import { registerLayerFileSystem, type LayerFileSystemProvider } from './layerFileSystemProvider';
import { registerLayerFiles, type LayerFilesTreeProvider } from './layerFilesTreeProvider';
import { registerLayerJsonEditor, type LayerJsonEditorProvider } from './layerJsonEditorProvider';
import { log } from './log';
import { StoreService } from './storeService';

export const IMAGES_VIEW = 'dockerLayers.images';

export interface ExtensionApi {
  readonly service: StoreService;
  readonly imagesTree: ImagesTreeProvider;
  readonly imagesView: vscode.TreeView<TreeNode>;
  readonly fileSystem: LayerFileSystemProvider;
  readonly layerJsonEditor: LayerJsonEditorProvider;
  readonly layerFiles: LayerFilesTreeProvider;
}

export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const service = new StoreService(IMAGES_VIEW);
  const imagesTree = new ImagesTreeProvider(service);
  const imagesView = vscode.window.createTreeView(IMAGES_VIEW, { treeDataProvider: imagesTree, showCollapseAll: true });
  context.subscriptions.push(service, imagesTree, imagesView, log());
  context.subscriptions.push(
    service.onDidChange((store) => {
      const failed = store.roots.filter((r) => r.error);
      imagesView.message = failed.length && failed.length === store.roots.length ? failed.map((r) => r.error!.message).join('\n') : undefined;
    }),
  );
  registerCommands(context, service);
  const fileSystem = registerLayerFileSystem(context, service);
  const layerJsonEditor = registerLayerJsonEditor(context, service);
  const layerFiles = registerLayerFiles(context, service, imagesView);
  void service.get().catch(() => undefined);
  return { service, imagesTree, imagesView, fileSystem, layerJsonEditor, layerFiles };
}

export function deactivate(): void {
  // everything is disposed through context.subscriptions
}
