/**
 * Wiring only: the store service, the Images tree, the commands. What
 * activate() returns is the API the integration tests drive.
 */
import * as vscode from 'vscode';
import { registerArchiveCommands } from './archiveCommands';
import { registerCommands } from './commands';
import { registerComparison, type ComparisonApi } from './compareImagesCommands';
import { registerEfficiency, type EfficiencyApi } from './efficiencyCommands';
import { registerContainerCommands } from './containerCommands';
import { registerExportCommands } from './exportCommands';
import { registerFindPath, type FindPathApi } from './findPathCommands';
import { ImagesTreeProvider, type TreeNode } from './imagesTreeProvider';
import { registerLayerFileSystem, type LayerFileSystemProvider } from './layerFileSystemProvider';
import { registerLayerFiles, type LayerFilesTreeProvider } from './layerFilesTreeProvider';
import { registerLayerJsonEditor, type LayerJsonEditorProvider } from './layerJsonEditorProvider';
import { log } from './log';
import { registerPathHistoryCommands } from './pathHistoryCommands';
import { registerSharingCommands } from './sharingCommands';
import { StoreService, unreadableRoots } from './storeService';

export const IMAGES_VIEW = 'dockerLayers.images';

export interface ExtensionApi {
  readonly service: StoreService;
  readonly imagesTree: ImagesTreeProvider;
  readonly imagesView: vscode.TreeView<TreeNode>;
  readonly fileSystem: LayerFileSystemProvider;
  readonly layerJsonEditor: LayerJsonEditorProvider;
  readonly layerFiles: LayerFilesTreeProvider;
  readonly efficiency: EfficiencyApi;
  readonly comparison: ComparisonApi;
  readonly findPath: FindPathApi;
}

export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const service = new StoreService(IMAGES_VIEW);
  const imagesTree = new ImagesTreeProvider(service);
  const imagesView = vscode.window.createTreeView(IMAGES_VIEW, { treeDataProvider: imagesTree, showCollapseAll: true });
  context.subscriptions.push(service, imagesTree, imagesView, log());
  context.subscriptions.push(
    // A tree view's message hides its welcome view (and the welcome's buttons): when no root can be
    // read, the welcome view says why and the view's description names each root and its cause.
    service.onDidChange((store) => (imagesView.description = unreadableRoots(store))),
  );
  registerCommands(context, service);
  registerArchiveCommands(context, service, IMAGES_VIEW);
  const fileSystem = registerLayerFileSystem(context, service);
  const layerJsonEditor = registerLayerJsonEditor(context, service);
  const layerFiles = registerLayerFiles(context, service, imagesView);
  registerPathHistoryCommands(context, service);
  registerSharingCommands(context, service, imagesTree, imagesView);
  registerExportCommands(context, service);
  registerContainerCommands(context, service, imagesView);
  const efficiency = registerEfficiency(context, service, imagesTree);
  const comparison = registerComparison(context, service);
  const findPath = registerFindPath(context, service, imagesView);
  void service.get().catch(() => undefined);
  return { service, imagesTree, imagesView, fileSystem, layerJsonEditor, layerFiles, efficiency, comparison, findPath };
}

export function deactivate(): void {
  // everything is disposed through context.subscriptions
}
