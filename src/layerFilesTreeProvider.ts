// STUB — being written: the Layer Files view.
import * as vscode from 'vscode';
import type { TreeNode } from './imagesTreeProvider';
import type { StoreService } from './storeService';

export class LayerFilesTreeProvider {}

export function registerLayerFiles(
  _context: vscode.ExtensionContext,
  _service: StoreService,
  _imagesView: vscode.TreeView<TreeNode>,
): LayerFilesTreeProvider {
  return new LayerFilesTreeProvider();
}
