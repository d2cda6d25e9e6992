// STUB — being written: the layer JSON custom editor with the parent diff.
import * as vscode from 'vscode';
import type { StoreService } from './storeService';

export class LayerJsonEditorProvider {}

export function registerLayerJsonEditor(_context: vscode.ExtensionContext, _service: StoreService): LayerJsonEditorProvider {
  return new LayerJsonEditorProvider();
}
