// STUB — being written: the read-only docker-layer: file system (see layerUri.ts).
import * as vscode from 'vscode';
import type { StoreService } from './storeService';

export class LayerFileSystemProvider {}

export function registerLayerFileSystem(_context: vscode.ExtensionContext, _service: StoreService): LayerFileSystemProvider {
  return new LayerFileSystemProvider();
}
