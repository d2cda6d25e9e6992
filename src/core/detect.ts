/**
 * Which layouts a storage root holds. A root can hold several: a legacy
 * `graph/` left by an upgrade next to `image/overlay2/`, two drivers' image
 * stores, or Docker's own containerd store.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { LayerError, fromFsError } from './errors';
import { isDir, listDir } from './fsUtil';
import type { Source } from './model';
import { detectArchive } from './readers/archive';
import { detectContainerd } from './readers/containerd';

const LEGACY_DRIVERS = ['aufs', 'overlay', 'vfs', 'btrfs', 'zfs', 'devicemapper'];

export async function detectLayouts(root: string): Promise<Source[]> {
  const abs = path.resolve(root);
  let stat;
  try {
    stat = await fsp.stat(abs);
  } catch (err) {
    throw fromFsError(err, abs);
  }
  if (!stat.isDirectory()) {
    // A file: an image archive (`docker save`, an OCI layout in a tar), read in place.
    const archive = stat.isFile() ? detectArchive(abs, true) : undefined;
    if (archive) return [archive];
    throw new LayerError('not-a-root', `${abs} is neither a folder nor an image archive (a docker save or OCI-layout tar)`, abs);
  }
  let entries: string[];
  try {
    entries = await fsp.readdir(abs);
  } catch (err) {
    throw fromFsError(err, abs, 'list');
  }

  const sources: Source[] = [];
  const make = (kind: Source['kind'], dir: string, driver: string, label: string, namespace?: string): Source => ({
    key: `${abs}#${kind}:${namespace ? namespace + '/' : ''}${driver}`,
    root: abs,
    kind,
    dir,
    driver,
    namespace,
    label,
  });

  if (entries.includes('graph') && (await isDir(path.join(abs, 'graph')))) {
    const repoFile = entries.find((e) => e.startsWith('repositories-'));
    const driver = repoFile?.slice('repositories-'.length) ?? LEGACY_DRIVERS.find((d) => entries.includes(d)) ?? 'aufs';
    sources.push(make('legacy-graph', path.join(abs, 'graph'), driver, `graph (${driver})`));
  }

  if (entries.includes('image')) {
    for (const driver of await listDir(path.join(abs, 'image'))) {
      const dir = path.join(abs, 'image', driver);
      if ((await listDir(path.join(dir, 'imagedb', 'content', 'sha256'))).length > 0) {
        sources.push(make('image-db', dir, driver, `image/${driver}`));
      }
    }
  }

  const ctd = await detectContainerd(abs);
  if (ctd) {
    for (const ns of ctd.namespaces) {
      sources.push(make('containerd', ctd.dir, 'overlayfs', `containerd ${ns}/overlayfs`, ns));
    }
  }

  const oci = sources.length === 0 ? detectArchive(abs, false) : undefined;
  if (oci) sources.push(oci);

  if (sources.length === 0) {
    throw new LayerError(
      'not-a-root',
      `${abs} holds no Docker storage layout (looked for graph/, image/<driver>/imagedb/, containerd's meta.db and an OCI layout's oci-layout + index.json). ` +
        'Point at a Docker data root such as /var/lib/docker or /var/lib/containerd.',
      abs,
    );
  }
  return sources;
}
