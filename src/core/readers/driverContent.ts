/**
 * Where each storage driver keeps a layer's files, shared by the legacy and
 * content-addressed readers. `dirId` is the driver's directory name (a graph id
 * or a layerdb `cache-id`) and is validated before it becomes a path.
 */
import * as path from 'node:path';
import { LayerError } from '../errors';
import { childPath, isSafeName } from '../fsUtil';
import type { LayerContent } from '../model';

interface DriverShape {
  /** The driver's folder of layer folders, relative to the root. */
  base: readonly string[];
  /** The folder inside a layer's folder that holds its files, if any. */
  leaf?: string;
  form: 'diff' | 'snapshot';
  whiteouts: 'aufs' | 'overlay';
}

const DRIVERS: Record<string, DriverShape> = {
  overlay2: { base: ['overlay2'], leaf: 'diff', form: 'diff', whiteouts: 'overlay' },
  aufs: { base: ['aufs', 'diff'], form: 'diff', whiteouts: 'aufs' },
  // overlay (v1) commits each image layer as a full hard-linked copy in `root/`.
  overlay: { base: ['overlay'], leaf: 'root', form: 'snapshot', whiteouts: 'overlay' },
  vfs: { base: ['vfs', 'dir'], form: 'snapshot', whiteouts: 'aufs' },
  btrfs: { base: ['btrfs', 'subvolumes'], form: 'snapshot', whiteouts: 'aufs' },
  zfs: { base: ['zfs', 'graph'], form: 'snapshot', whiteouts: 'aufs' },
};

/** `<root>/<driver's base>` by driver shape and root: joined once, not once per layer. */
const baseDirs = new Map<DriverShape, Map<string, string>>();

/** A layer's content folder: `<root>/<base>/<dirId>[/<leaf>]`, as path.join would make it. */
function layerDir(shape: DriverShape, root: string, dirId: string): string {
  let byRoot = baseDirs.get(shape);
  if (!byRoot) baseDirs.set(shape, (byRoot = new Map()));
  let base = byRoot.get(root);
  if (base === undefined) {
    base = path.join(root, ...shape.base);
    byRoot.set(root, base);
  }
  // A safe name joins as plain concatenation; childPath throws for any other.
  const dir = isSafeName(dirId) && !base.endsWith(path.sep) ? base + path.sep + dirId : childPath(base, dirId);
  return shape.leaf ? dir + path.sep + shape.leaf : dir;
}

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
  const shape = Object.hasOwn(DRIVERS, driver) ? DRIVERS[driver] : undefined;
  if (!shape) {
    throw new LayerError('unsupported', `storage driver "${driver}" is not supported (readable: ${KNOWN_DRIVERS.join(', ')})`, root);
  }
  const dir = layerDir(shape, root, dirId);
  if (shape.form === 'snapshot') {
    return { dir, form: 'snapshot', parentDir: lower?.dir, whiteouts: shape.whiteouts, lowerDirs: [] };
  }
  return {
    dir,
    form: 'diff',
    whiteouts: shape.whiteouts,
    // concat allocates the exact length (a spread may leave spare capacity in each of thousands of lists).
    lowerDirs: lower ? [lower.dir].concat(lower.lowerDirs) : [],
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
