/**
 * Where each storage driver keeps a layer's files, shared by the legacy and
 * content-addressed readers. `dirId` is the driver's directory name (a graph id
 * or a layerdb `cache-id`) and is validated before it becomes a path.
 */
import * as path from 'node:path';
import { LayerError } from '../errors';
import { childPath } from '../fsUtil';
import type { LayerContent } from '../model';

interface DriverShape {
  /** Content folder of a layer, relative to the root. */
  dir(root: string, dirId: string): string;
  form: 'diff' | 'snapshot';
  whiteouts: 'aufs' | 'overlay';
}

const DRIVERS: Record<string, DriverShape> = {
  overlay2: { dir: (r, id) => path.join(childPath(path.join(r, 'overlay2'), id), 'diff'), form: 'diff', whiteouts: 'overlay' },
  aufs: { dir: (r, id) => childPath(path.join(r, 'aufs', 'diff'), id), form: 'diff', whiteouts: 'aufs' },
  // overlay (v1) commits each image layer as a full hard-linked copy in `root/`.
  overlay: { dir: (r, id) => path.join(childPath(path.join(r, 'overlay'), id), 'root'), form: 'snapshot', whiteouts: 'overlay' },
  vfs: { dir: (r, id) => childPath(path.join(r, 'vfs', 'dir'), id), form: 'snapshot', whiteouts: 'aufs' },
  btrfs: { dir: (r, id) => childPath(path.join(r, 'btrfs', 'subvolumes'), id), form: 'snapshot', whiteouts: 'aufs' },
  zfs: { dir: (r, id) => childPath(path.join(r, 'zfs', 'graph'), id), form: 'snapshot', whiteouts: 'aufs' },
};

export const KNOWN_DRIVERS = Object.keys(DRIVERS);

export function isKnownDriver(driver: string): boolean {
  return driver in DRIVERS;
}

/**
 * The content of a layer. `lower` is the content of the layer below it (or
 * undefined for a base layer): it gives the lower folders of a diff layer and
 * the parent snapshot of a snapshot layer.
 */
export function driverContent(root: string, driver: string, dirId: string, lower: LayerContent | undefined): LayerContent {
  const shape = DRIVERS[driver];
  if (!shape) {
    throw new LayerError('unsupported', `storage driver "${driver}" is not supported (readable: ${KNOWN_DRIVERS.join(', ')})`, root);
  }
  const dir = shape.dir(root, dirId);
  if (shape.form === 'snapshot') {
    return { dir, form: 'snapshot', parentDir: lower?.dir, whiteouts: shape.whiteouts, lowerDirs: [] };
  }
  return {
    dir,
    form: 'diff',
    whiteouts: shape.whiteouts,
    lowerDirs: lower ? [lower.dir, ...lower.lowerDirs] : [],
  };
}

/** A container's read-write layer over `lower` (its init layer or image top). */
export function rwContent(root: string, driver: string, mountId: string, lower: LayerContent | undefined): LayerContent {
  if (driver === 'overlay') {
    // overlay (v1) containers keep their changes in `upper/` over the image's `root/`.
    const dir = path.join(childPath(path.join(root, 'overlay'), mountId), 'upper');
    return { dir, form: 'diff', whiteouts: 'overlay', lowerDirs: lower ? [lower.dir] : [] };
  }
  return driverContent(root, driver, mountId, lower);
}
