/**
 * Layer sharing as the Images tree shows it: counted among the images the
 * tree lists, so "shared with N images" never counts an image the user
 * cannot see (intermediate images count only while they are shown, as
 * `docker system df -v` of Docker 20.10 / Docker 23+ count them).
 */
import type { Image } from './core/model';
import { sharingOf, type LayerSharing } from './core/sharing';
import type { Store } from './core/store';
import { showIntermediate } from './settings';

export function treeSharing(store: Store): LayerSharing {
  return sharingOf(store, showIntermediate() ? 'all' : 'listed');
}

/** The other images in the tree that use a layer of `image`. */
export function imagesSharingLayer(store: Store, image: Image, layerKey: string): Image[] {
  return treeSharing(store).sharedWith(layerKey, image);
}

/** How many other images in the tree use a layer of `image`. */
export function countSharingLayer(store: Store, image: Image, layerKey: string): number {
  return treeSharing(store).othersUsing(layerKey, image);
}

/** `shared with 1 image`, `shared with 5 images`. */
export function sharedWithLabel(count: number): string {
  return `shared with ${count} image${count === 1 ? '' : 's'}`;
}
