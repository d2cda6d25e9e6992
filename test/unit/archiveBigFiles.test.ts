// A file bigger than the open limit (layerFiles.ts DEFAULT_MAX_BYTES, 64 MB)
// inside an image archive is compared and hashed in chunks, from a plain and
// from a gzip layer, never held whole: OCI layouts made here with the system
// tar and gzip, the bytes known by construction.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { compareFiles, comparePoint } from '../../src/core/compare';
import { layerFileSha256 } from '../../src/core/findPathContent';
import { DEFAULT_MAX_BYTES, readLayerFile } from '../../src/core/layerFiles';
import { Store } from '../../src/core/store';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'archive-big-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sha256 = (b: Buffer | string): string => crypto.createHash('sha256').update(b).digest('hex');
const BIG = DEFAULT_MAX_BYTES + 3 * 1024 * 1024 + 7;

/** The bytes of /big: a repeating pattern (so that chunk boundaries matter), its last byte `last`. */
function bigBytes(last: number): Buffer {
  const b = Buffer.alloc(BIG);
  for (let i = 0; i < BIG; i += 4096) b.writeUInt32BE(i, i);
  b[BIG - 1] = last;
  return b;
}

/** An OCI layout folder `name` with one layer holding /big (and /small), gzip-compressed or not. */
function ociWith(name: string, big: Buffer, gzip: boolean): string {
  const files = path.join(tmp, `${name}-files`);
  fs.mkdirSync(files);
  fs.writeFileSync(path.join(files, 'big'), big);
  fs.writeFileSync(path.join(files, 'small'), 'same');
  const layer = execFileSync('tar', ['--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', '-', '-C', files, 'big', 'small'], { maxBuffer: 1 << 28 });
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (data: Buffer | string) => {
    const hex = sha256(data);
    fs.writeFileSync(path.join(dir, 'blobs', 'sha256', hex), data);
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
  };
  const blob = gzip ? zlib.gzipSync(layer, { level: 1 }) : layer;
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layer)}`] },
    history: [{ created_by: `COPY big small / # ${name}` }],
  });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) },
    layers: [{ mediaType: `application/vnd.oci.image.layer.v1.tar${gzip ? '+gzip' : ''}`, ...put(blob) }],
  });
  const top = { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...put(manifest), annotations: { 'org.opencontainers.image.ref.name': name } };
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [top] }));
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return dir;
}

test('a file over the open limit in an archive: compared and hashed in chunks, plain and gzip alike', async () => {
  const same = bigBytes(0x41);
  const other = bigBytes(0x42);
  const roots = [ociWith('plain', same, false), ociWith('gzip', same, true), ociWith('gzip-other', other, true)];
  const store = await Store.open(roots);
  assert.deepEqual(store.problems, []);
  const top = (root: string) => {
    const image = store.images.find((i) => i.source.root === root);
    assert.ok(image, `an image in ${root}`);
    return comparePoint(store, image, image.steps.length - 1);
  };
  const [plain, gzip, gzipOther] = roots.map(top);

  // Opening it whole is refused, as for a file on disk.
  const content = store.layer(plain.layers[0].key)!.content!;
  await assert.rejects(readLayerFile(content, '/big'), /limit/);

  const equal = await compareFiles(plain, gzip, { ignoreMtime: true });
  assert.deepEqual(equal.changes, [], 'the same bytes, one side decompressed in stream-sized chunks');
  assert.deepEqual(equal.problems, []);
  assert.equal(equal.contentCompared, 2, '/big and /small read on both sides');

  const differ = await compareFiles(plain, gzipOther, { ignoreMtime: true });
  assert.deepEqual(
    differ.changes.map((c) => `${c.path} ${c.change} ${c.aspects.join(',')}`),
    ['/big changed content'],
    'only the last byte differs',
  );
  assert.deepEqual(differ.problems, []);

  for (const [point, bytes] of [[plain, same], [gzip, same], [gzipOther, other]] as const) {
    const layer = store.layer(point.layers[0].key)!.content!;
    assert.equal(await layerFileSha256(layer, '/big', undefined), sha256(bytes), `${point.label}: the digest of /big`);
  }
});
