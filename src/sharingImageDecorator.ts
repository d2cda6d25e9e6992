/**
 * An image row's hover gets its shared and unique size, as `docker system df
 * -v` reports them, counted among the images the tree shows (sharingScope.ts).
 * Computed at once from the loaded model, so nothing ever has to refresh.
 */
import * as vscode from 'vscode';
import { humanSize } from './core/format';
import type { Image } from './core/model';
import type { ImageItemDecorator } from './imagesTreeProvider';
import { treeSharing } from './sharingScope';
import type { StoreService } from './storeService';

export class SharingImageDecorator implements ImageItemDecorator {
  /** Never fires: the figures are there with the store. */
  readonly onDidChange: vscode.Event<void> = () => ({ dispose: () => undefined });

  constructor(private readonly service: StoreService) {}

  decorate(item: vscode.TreeItem, image: Image): void {
    const store = this.service.current();
    if (!store || !(item.tooltip instanceof vscode.MarkdownString)) return;
    const s = treeSharing(store).of(image);
    item.tooltip.appendMarkdown(
      `\n\nshared ${humanSize(s.sharedSize)} (${s.sharedLayers} of ${s.sharedLayers + s.uniqueLayers} layers) · unique ${humanSize(s.uniqueSize)}, as docker system df -v counts them`,
    );
  }
}
