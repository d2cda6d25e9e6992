/**
 * Shared and unique size of each image, as `docker system df -v` reports
 * SharedSize and UniqueSize: a layer is shared when more than one image uses
 * it; an image's shared size is the sum of the own sizes (DiffSize) of its
 * shared layers, and its unique size is its size minus that.
 *
 * Which images count decides what is shared. Docker 20.10 and older count the
 * images the listing shows (moby `daemon/images/images.go`: references are
 * counted inside the listing loop, so intermediate images of a classic build
 * count only with `-a`); Docker 23 and later count every image in the store,
 * intermediate ones included (moby af3e5568fc, "fix shared size computation
 * for filtered requests"). `scope` picks one: `listed` leaves intermediate
 * images out, `all` counts them, so `images` / `images -a` answer as the
 * daemon of either era answers `docker system df -v` / `docker images -a`.
 * Sharing never crosses a source: layers are keyed by source, as each daemon
 * has its own layer store. For containerd (Docker 29's store) layer sizes are
 * snapshot usage, as Docker 29 counts them; Docker 29 also adds the compressed
 * blobs two images share, which a layer view does not hold.
 */
import type { Image } from './model';
import type { Store } from './store';

/** Which images count as users of a layer: `listed` leaves out intermediate images, `all` counts them. */
export type SharingScope = 'listed' | 'all';

export interface ImageSharing {
  /** Bytes of its layers that another image in scope uses too (docker's SharedSize). */
  readonly sharedSize: number;
  /** Its size minus sharedSize (docker's UniqueSize). */
  readonly uniqueSize: number;
  /** How many of its layers another image uses too. */
  readonly sharedLayers: number;
  /** How many of its layers no other image uses. */
  readonly uniqueLayers: number;
}

/**
 * Sharing over one store and scope: the users of every layer counted once
 * (one pass over each image's layers), each image's figures on first ask.
 * Get it with sharingOf(store, scope): it is cached per store.
 */
export class LayerSharing {
  /** Images in scope using each layer, in the store's image order. */
  private readonly users = new Map<string, Image[]>();
  private readonly perImage = new Map<string, ImageSharing>();

  constructor(
    private readonly store: Store,
    readonly scope: SharingScope,
  ) {
    for (const image of store.images) {
      for (const key of image.layerKeys) {
        if (this.users.has(key)) continue;
        const users = store.imagesWithLayer(key);
        this.users.set(key, scope === 'all' ? users : users.filter((i) => !i.intermediate));
      }
    }
  }

  inScope(image: Image): boolean {
    return this.scope === 'all' || !image.intermediate;
  }

  /** The images in scope that use a layer (the image asked about included, when it is in scope). */
  imagesUsing(layerKey: string): Image[] {
    return this.users.get(layerKey)?.slice() ?? [];
  }

  /** The other images in scope that use a layer: who `image` shares it with. */
  sharedWith(layerKey: string, image: Image): Image[] {
    return (this.users.get(layerKey) ?? []).filter((i) => i.key !== image.key);
  }

  /** How many other images in scope use a layer of `image` (sharedWith's length, without the list). */
  othersUsing(layerKey: string, image: Image): number {
    // The image is among its own layers' users exactly when it is in scope.
    const users = this.users.get(layerKey)?.length ?? 0;
    return Math.max(0, users - (this.inScope(image) && image.layerKeys.includes(layerKey) ? 1 : 0));
  }

  /** An image's shared and unique size and layer counts. */
  of(image: Image): ImageSharing {
    let found = this.perImage.get(image.key);
    if (found) return found;
    let sharedSize = 0;
    let sharedLayers = 0;
    const keys = new Set(image.layerKeys);
    for (const key of keys) {
      if (this.othersUsing(key, image) === 0) continue;
      sharedLayers++;
      sharedSize += this.store.layer(key)?.size ?? 0;
    }
    found = { sharedSize, uniqueSize: Math.max(0, image.size - sharedSize), sharedLayers, uniqueLayers: keys.size - sharedLayers };
    this.perImage.set(image.key, found);
    return found;
  }
}

const cache = new WeakMap<Store, Partial<Record<SharingScope, LayerSharing>>>();

/** The sharing of a store in a scope, computed once per store (a store never changes after open). */
export function sharingOf(store: Store, scope: SharingScope): LayerSharing {
  let byScope = cache.get(store);
  if (!byScope) cache.set(store, (byScope = {}));
  return (byScope[scope] ??= new LayerSharing(store, scope));
}
