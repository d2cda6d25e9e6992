/**
 * The digest of one layer file (layerFileSha256, what the editor's "Find Files
 * with the Same Content" searches for), on the real roots: it is the sha256
 * of the bytes the layer holds, the content search for it finds that very
 * copy, a symlink is refused (never followed), and a layer inside an image
 * archive is hashed from its blob.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { findPath, parsePathPattern, type FindHit, type PathPattern } from '../../src/core/findPath';
import { layerFileSha256 } from '../../src/core/findPathContent';
import { readLayerFile } from '../../src/core/layerFiles';
import { walkLayer } from '../../src/core/layerWalk';
import { Store } from '../../src/core/store';
import { PROJECT_ROOTS, projectRoot, repoRoot, whyMissing } from './support/roots';

async function hits(store: Store, text: string | undefined, sha256?: string): Promise<FindHit[]> {
  const out: FindHit[] = [];
  for await (const h of findPath(store, text === undefined ? undefined : (parsePathPattern(text) as PathPattern), { sha256 })) out.push(h);
  return out;
}

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

for (const name of PROJECT_ROOTS) {
  test(`${name}: each copy of /data/keep.txt hashes to its bytes, and a content search for it finds that copy; a symlink is refused`, async (t) => {
    const root = projectRoot(name);
    if (!root) return t.skip(whyMissing(name));
    const store = await Store.open([root.root]);
    const copies = (await hits(store, '/data/keep.txt')).filter((h) => h.type === 'file' && h.status !== 'deleted');
    assert.ok(copies.length >= 2, `${name}: dle/base:1 adds /data/keep.txt and dle/app:1 overwrites it`);
    const digests = new Set<string>();
    for (const copy of copies) {
      const content = copy.layer.content!;
      const read = await readLayerFile(content, copy.path);
      assert.equal(read.kind, 'file');
      const digest = await layerFileSha256(content, copy.path);
      assert.equal(digest, sha(read.kind === 'file' ? read.data : new Uint8Array()), `${name}: layer ${copy.layer.id}`);
      const found = await hits(store, undefined, digest);
      assert.ok(found.some((h) => h.layer.key === copy.layer.key && h.path === copy.path), `${name}: the search for ${digest} finds layer ${copy.layer.id}`);
      assert.ok(found.every((h) => h.sha256 === digest));
      digests.add(digest);
    }
    assert.ok(digests.size >= 2, 'the overwritten copy has other bytes');

    // dle/cmp:a's /cmp/link (to /data/keep.txt), on the roots that hold dle/cmp images.
    const link = (await hits(store, '/cmp/link')).find((h) => h.type === 'symlink');
    if (name === 'overlay2' || name === 'vfs') assert.ok(link, `${name}: /cmp/link is a symlink hit`);
    if (link) {
      await assert.rejects(layerFileSha256(link.layer.content!, link.path), (err: Error & { code?: string }) => err.code === 'unsupported');
    }
  });
}

test('an image archive: a layer file is hashed from its blob, as the content search hashes it', async (t) => {
  const archive = path.join(repoRoot, '..', 'shared', 'fixtures', 'archives', 'dive-test-docker-image.tar');
  if (!fs.existsSync(archive)) return t.skip(`${archive} is missing`);
  const store = await Store.open([archive]);
  const layer = store.images[0].layerKeys.map((k) => store.layer(k)!).find((l) => l.content?.tar);
  assert.ok(layer?.content, 'the archive has a layer with content');
  let file: string | undefined;
  for await (const e of walkLayer(layer.content)) {
    if (e.type === 'file' && e.status !== 'deleted') {
      file = e.path;
      break;
    }
  }
  assert.ok(file, 'the layer holds a regular file');
  const read = await readLayerFile(layer.content, file, { maxBytes: Number.MAX_SAFE_INTEGER });
  const digest = await layerFileSha256(layer.content, file);
  assert.equal(digest, sha(read.kind === 'file' ? read.data : new Uint8Array()));
  const found = await hits(store, undefined, digest);
  assert.ok(found.some((h) => h.layer.key === layer.key && h.path === file));
});
