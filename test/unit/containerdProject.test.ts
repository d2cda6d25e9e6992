/**
 * The project's own containerd root (test/fixtures/makeRoots.sh: a private
 * containerd, namespace `moby`, after `ctr images import --snapshotter overlayfs`
 * of `docker save dle/base:1 dle/app:1 dle/app:2` from the overlay2 daemon):
 *
 * 1. read through the Store, checked against what `ctr` answered (images.txt,
 *    content.txt, snapshots.txt) and against the root's own blobs and meta.db,
 *    read here without the containerd reader;
 * 2. checked against the project's overlay2 root through the CLI: the two
 *    layouts hold the same images, so ids, diff ids, history and every
 *    layer's files must agree.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BoltDb } from '../../src/core/bbolt';
import type { Image, Layer } from '../../src/core/model';
import { canReadTrustedXattrs } from '../../src/core/opaque';
import { Store } from '../../src/core/store';
import { cliJson } from './support/cli';
import { blobFile, ctrTable as table } from './support/ctr';
import { projectRoot, whyMissing } from './support/roots';

/** The tags the containerd root was imported from (makeRoots.sh, truth/README.txt). */
const SAVED_TAGS = ['dle/base:1', 'dle/app:1', 'dle/app:2'];

const sha256 = (data: string | Buffer) => 'sha256:' + createHash('sha256').update(data).digest('hex');

/** Chain ids computed here, not by the reader (LAYOUTS.md §2). */
function chainIdsOf(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length ? sha256(`${out[out.length - 1]} ${d}`) : d);
  return out;
}

/** `ctr content ls`: digest → labels (the last tab-separated column, `k=v,k=v`). */
function contentLabels(file: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
    if (!line.trim()) continue;
    const cols = line.split('\t');
    const labels = new Map<string, string>();
    const last = cols[cols.length - 1].trim();
    if (last !== '' && last !== '-') {
      for (const kv of last.split(',')) {
        const eq = kv.indexOf('=');
        labels.set(kv.slice(0, eq), kv.slice(eq + 1));
      }
    }
    out.set(cols[0].trim(), labels);
  }
  return out;
}

function layersOf(store: Store, image: Image): Layer[] {
  return image.layerKeys.map((k) => {
    const l = store.layer(k);
    assert.ok(l, `layer ${k} of ${image.tags[0]} is in the store`);
    return l;
  });
}

function hasGetfattr(): boolean {
  return spawnSync('getfattr', ['--version']).status === 0;
}

test('project containerd: images, targets, chain ids, snapshots and content equal what ctr listed', async (t) => {
  const r = projectRoot('containerd');
  if (!r) return t.skip(whyMissing('containerd'));
  const store = await Store.open([r.root]);
  assert.deepEqual(
    store.roots.map((s) => s.error?.message),
    [undefined],
  );
  assert.deepEqual(
    store.sources.map((s) => [s.kind, s.namespace, s.driver]),
    [['containerd', 'moby', 'overlayfs']],
  );
  assert.deepEqual(store.problems, []);
  assert.deepEqual(store.containers, []);

  // Images: exactly the names `ctr -n moby images ls` listed.
  const truth = table(path.join(r.truth, 'images.txt'));
  assert.equal(truth.length, 3);
  assert.deepEqual(store.images.flatMap((i) => i.tags).sort(), truth.map((row) => row[0]).sort());

  // Targets as meta.db records them (read with the bbolt reader only, not the containerd reader).
  const db = await BoltDb.open(path.join(r.root, 'io.containerd.metadata.v1.bolt', 'meta.db'));
  const targets = new Map<string, { digest?: string; mediatype?: string }>();
  try {
    const images = db.bucket(['v1', 'moby', 'images']);
    assert.ok(images, 'v1/moby/images');
    for (const name of images.bucketNames()) {
      const target = images.bucket(name)?.bucket('target');
      targets.set(name, { digest: target?.getString('digest'), mediatype: target?.getString('mediatype') });
    }
  } finally {
    db.close();
  }

  const labels = contentLabels(path.join(r.truth, 'content.txt'));
  const snapshots = table(path.join(r.truth, 'snapshots.txt'));
  const layerIds = new Set<string>();

  for (const row of truth) {
    const [ref, mediaType, digest] = row;
    const platform = row[row.length - 2];
    await t.test(ref, () => {
      assert.deepEqual(targets.get(ref), { digest, mediatype: mediaType }, `meta.db target of ${ref} is what ctr listed`);
      const image = store.images.find((i) => i.tags.includes(ref));
      assert.ok(image, ref);
      assert.deepEqual(image.problems, []);
      assert.equal(`${image.platform.os}/${image.platform.architecture}`, platform);

      // The target is the manifest (its bytes hash to the digest ctr listed) whose config is the image id.
      const manifestText = readFileSync(blobFile(r.root, digest));
      assert.equal(sha256(manifestText), digest, 'manifest blob matches its digest');
      const manifest = JSON.parse(manifestText.toString('utf8'));
      assert.equal(image.id, manifest.config.digest, 'image id = config digest of the target manifest');
      const configText = readFileSync(blobFile(r.root, image.id));
      assert.equal(sha256(configText), image.id, 'config blob matches its digest');
      const config = JSON.parse(configText.toString('utf8'));

      // containerd's own gc labels (ctr content ls) name the same config and layer blobs.
      const ml = labels.get(digest);
      assert.ok(ml, `content.txt lists the manifest ${digest}`);
      assert.equal(ml.get('containerd.io/gc.ref.content.config'), image.id);
      const layerBlobs: string[] = manifest.layers.map((l: { digest: string }) => l.digest);
      assert.deepEqual(
        layerBlobs.map((_, i) => ml.get(`containerd.io/gc.ref.content.l.${i}`)),
        layerBlobs,
      );

      // Layers: diff ids as the config and the blobs' `uncompressed` labels say; ids are their chain ids.
      const layers = layersOf(store, image);
      const diffIds: string[] = config.rootfs.diff_ids;
      assert.deepEqual(layers.map((l) => l.diffId), diffIds);
      assert.deepEqual(
        layerBlobs.map((b) => labels.get(b)?.get('containerd.io/uncompressed')),
        diffIds,
        'each layer blob uncompresses to its diff id',
      );
      const chains = chainIdsOf(diffIds);
      assert.deepEqual(layers.map((l) => l.id), chains);
      layers.forEach((l, i) => assert.equal(l.parentId, i ? chains[i - 1] : undefined, `parent of layer ${i}`));
      // The unpacked image's snapshot, as containerd labels the config, is the top chain id.
      assert.equal(labels.get(image.id)?.get('containerd.io/gc.ref.snapshot.overlayfs'), chains[chains.length - 1]);

      // Every layer's content folder exists: the overlayfs snapshot of its chain id.
      for (const l of layers) {
        assert.deepEqual(l.problems, [], l.id);
        assert.ok(l.content, `${l.id} has content`);
        assert.match(l.content.dir, /\/io\.containerd\.snapshotter\.v1\.overlayfs\/snapshots\/\d+\/fs$/);
        assert.ok(statSync(l.content.dir).isDirectory(), l.content.dir);
        layerIds.add(l.id);
      }

      // Steps: one per history entry, the non-empty ones taking the layers in order.
      assert.ok(image.steps.length > 0);
      assert.deepEqual(
        image.steps.map((s) => [s.createdBy, s.empty]),
        config.history.map((h: { created_by: string; empty_layer?: boolean }) => [h.created_by, h.empty_layer === true]),
      );
      assert.deepEqual(image.steps.filter((s) => !s.empty).map((s) => s.layerKey), image.layerKeys);
    });
  }

  // Committed snapshots (ctr snapshots ls) are exactly the layers' chain ids, with the same parents.
  assert.ok(snapshots.every((row) => row[row.length - 1] === 'Committed'), 'no active snapshot (no container)');
  assert.deepEqual([...layerIds].sort(), snapshots.map((row) => row[0]).sort());
  const containerdLayers = store.layers.filter((l) => l.source.kind === 'containerd');
  assert.equal(containerdLayers.length, snapshots.length, 'one layer per snapshot, none other');
  for (const row of snapshots) {
    const layer = containerdLayers.find((l) => l.id === row[0]);
    assert.equal(layer?.parentId, row.length === 3 ? row[1] : undefined, `parent of snapshot ${row[0]}`);
  }
  const dirs = containerdLayers.map((l) => l.content?.dir);
  assert.equal(new Set(dirs).size, dirs.length, 'every layer has its own snapshot folder');
});

interface ImageJson {
  id: string;
  tags: string[];
  problems: string[];
}
interface StepJson {
  index: number;
  id: string | null;
  diffId: string | null;
  parent: string | null;
  createdBy: string;
  created: string | null;
  empty: boolean;
}
interface FileJson {
  path: string;
  status: string;
  type: string;
  size: number;
  target?: string;
}
interface DocJson {
  kind: string;
  imageId: string;
  document: unknown;
}

test('project containerd and overlay2 roots agree: ids, diff ids, history and every layer\'s files', async (t) => {
  const c = projectRoot('containerd');
  if (!c) return t.skip(whyMissing('containerd'));
  const o = projectRoot('overlay2');
  if (!o) return t.skip(whyMissing('overlay2'));
  const onC = (...args: string[]) => ['--root', c.root, ...args];
  const onO = (...args: string[]) => ['--root', o.root, ...args];
  const imagesC = (await cliJson<{ images: ImageJson[] }>(onC('images', '--all'))).images;
  const imagesO = (await cliJson<{ images: ImageJson[] }>(onO('images', '--all'))).images;
  // containerd names every image in full; the import kept the saved tags and nothing else.
  assert.deepEqual(imagesC.flatMap((i) => i.tags).sort(), SAVED_TAGS.map((tag) => `docker.io/${tag}`).sort());

  const seen: FileJson[] = [];
  for (const tag of SAVED_TAGS) {
    await t.test(tag, async (tt) => {
      const ic = imagesC.find((i) => i.tags.includes(`docker.io/${tag}`));
      const io = imagesO.find((i) => i.tags.includes(tag));
      assert.ok(ic && io, `${tag} is on both roots`);
      assert.deepEqual([ic.problems, io.problems], [[], []]);
      assert.equal(ic.id, io.id, 'image id (config digest)');

      // The top step's document is the same config, byte for byte the same JSON.
      const [dc, dO] = await Promise.all([cliJson<DocJson>(onC('json', tag)), cliJson<DocJson>(onO('json', tag))]);
      assert.deepEqual([dc.kind, dc.imageId], ['image-config', io.id]);
      assert.deepEqual([dO.kind, dO.imageId], ['image-config', io.id]);
      assert.deepEqual(dc.document, dO.document);

      // History steps: the short name resolves on containerd; same steps, layers and diff ids.
      const steps = (args: string[]) => cliJson<{ steps: StepJson[] }>(args).then((d) => d.steps);
      const [sc, so] = await Promise.all([steps(onC('layers', tag)), steps(onO('layers', tag))]);
      const shape = (s: StepJson) => ({
        index: s.index,
        createdBy: s.createdBy,
        created: s.created,
        empty: s.empty,
        id: s.id,
        diffId: s.diffId,
        parent: s.parent,
      });
      assert.ok(sc.length > 0);
      assert.deepEqual(sc.map(shape), so.map(shape));
      // …and the diff ids are those the overlay2 daemon reported (docker image inspect).
      const inspect = JSON.parse(readFileSync(path.join(o.truth, `inspect-${io.id.slice(7)}.json`), 'utf8'))[0];
      assert.deepEqual(sc.filter((s) => !s.empty).map((s) => s.diffId), inspect.RootFS.Layers);

      // Files: each non-empty step's own changes, read from an overlay2 diff folder on one
      // side and a containerd overlayfs snapshot on the other: the same entries in the same order.
      for (const s of so.filter((x) => !x.empty)) {
        const ref = `${tag}@${s.index}`;
        const files = (args: string[]) => cliJson<{ files: FileJson[] }>(args).then((d) => d.files);
        const [fc, fo] = await Promise.all([files(onC('files', ref)), files(onO('files', ref))]);
        assert.ok(fo.length > 0, `${ref} changes something`);
        assert.deepEqual(fc, fo, `files ${ref}`);
        seen.push(...fo);
      }
      tt.diagnostic(`${sc.filter((s) => !s.empty).length} layers compared`);
    });
  }

  // The comparison covered deletions (0/0 devices on both sides) and, where xattrs can be read, an opaque folder.
  const marks = (status: string) => [...new Set(seen.filter((f) => f.status === status).map((f) => `${f.path} ${f.type}`))].sort();
  assert.deepEqual(marks('deleted'), ['/data/old.txt file', '/root/example dir']);
  if (hasGetfattr() && canReadTrustedXattrs()) {
    assert.deepEqual(marks('opaque'), ['/etc/app dir']);
  } else {
    t.diagnostic('getfattr or CAP_SYS_ADMIN missing: opaque folders are not told apart on either root');
  }
});
