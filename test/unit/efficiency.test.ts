/**
 * dive's efficiency, wasted bytes and user wasted percent (src/core/efficiency.ts)
 * on real roots: dle/waste:1 and dle/app:1, whose figures follow from their
 * Dockerfiles (test/fixtures/images/) and dive's rules; dive-test:latest,
 * whose figures dive's own test asserts; dive's unit-test stack built as real
 * folders; and the CLI's CI thresholds and exit status.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import { efficiency, imageEfficiency, type ImageEfficiency } from '../../src/core/efficiency';
import { LayerError } from '../../src/core/errors';
import type { Image } from '../../src/core/model';
import { Store } from '../../src/core/store';
import { runCli } from './support/cli';
import { build, diffContent } from './support/layers';
import { projectRoot, repoRoot, sharedRoot, whyMissing } from './support/roots';

const rootfs = path.join(repoRoot, 'test', 'fixtures', 'images', 'base', 'rootfs');
const fileSize = (rel: string): number => fs.statSync(path.join(rootfs, rel)).size;

/** Bytes of every regular file below `dir` (the base image's COPY rootfs/ layer). */
function bytesBelow(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += bytesBelow(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

/** The step of `image` whose command contains `text`. */
function stepOf(image: Image, text: string): number {
  const i = image.steps.findIndex((s) => s.createdBy.includes(text));
  assert.ok(i >= 0, `a step of ${image.tags[0]} runs ${text}`);
  return i;
}

/**
 * The bytes of the base layer (`COPY busybox/ /`: Debian's static busybox and
 * nothing else, by base/Dockerfile), read off the layer's folder on disk.
 */
function busyboxBytes(store: Store, image: Image): number {
  const content = store.layer(image.steps[0].layerKey)?.content;
  assert.ok(content, 'the base layer has a folder');
  return fs.statSync(path.join(content.dir, 'bin', 'busybox')).size;
}

const roots = new Map<string, Store>();
async function open(root: string): Promise<Store> {
  let s = roots.get(root);
  if (!s) roots.set(root, (s = await Store.open([root])));
  return s;
}

for (const name of ['overlay2', 'vfs'] as const) {
  test(`dle/waste:1 on ${name}: /waste/big written 100,000 B, rewritten 50,000 B, deleted: 150,000 B wasted`, async (t) => {
    const root = projectRoot(name);
    if (!root) return t.skip(whyMissing(name));
    const store = await open(root.root);
    const image = store.findImage('dle/waste:1');
    const r = await imageEfficiency(store, image);

    // By construction (test/fixtures/images/waste/Dockerfile): the only path in
    // two or more layers is /waste/big, a leaf three times: 100,000 + 50,000 +
    // a whiteout of a file (dive counts 0). dive's wasted bytes are the whole
    // cumulative, first copy included.
    const big = [stepOf(image, 'head -c 100000'), stepOf(image, 'head -c 50000'), stepOf(image, 'rm /waste/big')];
    const withBytes = r.offenders.filter((o) => o.bytes > 0);
    assert.deepEqual(
      withBytes.map((o) => ({ path: o.path, count: o.count, bytes: o.bytes, steps: o.layers.map((l) => r.steps[l]), sizes: o.sizes })),
      [{ path: '/waste/big', count: 3, bytes: 150_000, steps: big, sizes: [100_000, 50_000, 0] }],
    );
    assert.equal(r.offenders[0].path, '/waste/big', 'biggest first');
    assert.equal(r.wastedBytes, 150_000);

    // user size: every layer above the base layer: rootfs/ (COPY), then 100,000 + 50,000 + 10,000 (/waste/kept).
    const user = bytesBelow(rootfs) + 100_000 + 50_000 + 10_000;
    assert.equal(r.userSizeBytes, user);
    assert.equal(r.sizeBytes, busyboxBytes(store, image) + user);
    assert.equal(r.userWastedPercent, 150_000 / user);
    // Every file is a leaf and nothing deletes a folder, so Σ cumulative = the
    // image's bytes; Σ smallest copies = that less /waste/big's 150,000 (its smallest copy is the whiteout's 0).
    assert.equal(r.score, (r.sizeBytes - 150_000) / r.sizeBytes);
  });

}

// dle/app:1 is in containerd's root too (overlayfs snapshots). The legacy root keeps no step commands
// (makeLegacyRoot.mjs), which this test finds the steps by: it is checked against overlay2 below.
for (const name of ['overlay2', 'vfs', 'containerd'] as const) {
  test(`dle/app:1 on ${name}: an overwritten and a deleted file waste their copies; a deleted folder counts what it deletes`, async (t) => {
    const root = projectRoot(name);
    if (!root) return t.skip(whyMissing(name));
    const store = await open(root.root);
    const image = store.findImage('dle/app:1');
    const r = await imageEfficiency(store, image);

    // test/fixtures/images/app1/Dockerfile: `echo overwritten > /data/keep.txt` (12 B),
    // `rm /data/old.txt` (a whiteout of a file: 0), `rm -rf /root/example` (a whiteout of
    // a folder: what it held, /root/example/x, a leaf of that layer only).
    const keep = fileSize('data/keep.txt');
    const old = fileSize('data/old.txt');
    const copy = image.steps.findIndex((s, i) => i > 0 && s.createdBy.includes('COPY')); // COPY rootfs/ /, after COPY busybox/ /
    const run = stepOf(image, 'echo created');
    const expected: [string, number, number, string][] = [
      ['/data/keep.txt', 2, keep + 12, `${copy},${run}`],
      ['/data/old.txt', 2, old, `${copy},${run}`],
    ];
    // `rm -rf /etc/app && mkdir /etc/app`: overlay2 records an opaque folder, whose marker
    // dive drops (a.conf and b.conf stay single copies); vfs keeps snapshots, and the
    // layer's changes (as Docker itself exports them from vfs) delete a.conf and b.conf
    // one by one: whiteouts of files, so each wastes its bytes.
    const replaced = stepOf(image, 'rm -rf /etc/app');
    if (name === 'vfs') for (const f of ['a.conf', 'b.conf']) expected.push([`/etc/app/${f}`, 2, fileSize(`etc/app/${f}`), `${copy},${replaced}`]);
    expected.sort((a, b) => b[2] - a[2] || (a[0] < b[0] ? -1 : 1));
    assert.deepEqual(
      r.offenders.filter((o) => o.bytes > 0).map((o) => [o.path, o.count, o.bytes, o.layers.map((l) => r.steps[l]).join(',')]),
      expected,
    );
    const wasted = expected.reduce((sum, e) => sum + e[2], 0);
    assert.equal(r.wastedBytes, wasted);
    // Added above the base layer: rootfs/, then "created\n", "overwritten\n", "new\n" (/etc/app/c.conf).
    const user = bytesBelow(rootfs) + 8 + 12 + 4;
    assert.equal(r.userSizeBytes, user);
    assert.equal(r.sizeBytes, busyboxBytes(store, image) + user);
    assert.equal(r.userWastedPercent, wasted / user);
    // Σ cumulative also holds the folder whiteout's bytes (x); smallest copies lose
    // keep.txt's larger copy and the whole size of each deleted file (its smallest is the whiteout's 0).
    const cumulative = r.sizeBytes + fileSize('root/example/x');
    const minimum = cumulative - (keep + 12 - Math.min(keep, 12)) - (wasted - keep - 12);
    assert.equal(r.score, minimum / cumulative);
  });
}

test('dle/app:1 in the legacy graph root (aufs .wh. files) has the figures of the overlay2 root it was made from', async (t) => {
  const legacy = projectRoot('legacy');
  const overlay2 = projectRoot('overlay2');
  if (!legacy || !overlay2) return t.skip(whyMissing(legacy ? 'overlay2' : 'legacy'));
  const figures = async (root: string) => {
    const store = await open(root);
    const r = await imageEfficiency(store, store.findImage('dle/app:1'));
    return { score: r.score, wasted: r.wastedBytes, size: r.sizeBytes, user: r.userSizeBytes, offenders: r.offenders.map((o) => [o.path, o.count, o.bytes]) };
  };
  assert.deepEqual(await figures(legacy.root), await figures(overlay2.root));
});

/**
 * dive's own figures for its test image: wagoodman/dive
 * dive/image/docker/image_archive_analysis_test.go (commit d6c6919, `Test_Analysis`,
 * "docker-image": .data/test-docker-image.tar, built from .data/Dockerfile.test-image).
 * The shared roots hold that same image `docker load`ed into Docker 20 (overlay2) and
 * imported into containerd 1.6 (unpacked folders, not tars) and dive's test tar itself (read in
 * place, as an archive root): the figures are equal
 * to the last digit. (Without counting a hard-linked file once per layer as a tar does,
 * busybox's ~400 applet links would make the base layer 422 MB and the score 0.99995.)
 */
const DIVE_TEST_IMAGE = { score: 0.9844212134184309, sizeBytes: 1220598, userSizeBytes: 66237, wastedBytes: 32025, userWastedPercent: 0.4834911001404049 };

/** dive's test archive itself (read in place, headers and all), as dive's test reads it. */
const DIVE_ARCHIVE = path.join(repoRoot, '..', 'shared', 'fixtures', 'archives', 'dive-test-docker-image.tar');

for (const name of ['docker20-overlay2', 'containerd16-moby', 'archive']) {
  test(`dive-test:latest on ${name}: the figures dive's own test asserts`, async (t) => {
    const root = name === 'archive' ? (fs.existsSync(DIVE_ARCHIVE) ? { root: DIVE_ARCHIVE } : undefined) : sharedRoot(name);
    if (!root) return t.skip(name === 'archive' ? `${DIVE_ARCHIVE} is missing` : whyMissing(name));
    const store = await open(root.root);
    const r = await imageEfficiency(store, store.findImage('dive-test:latest'));
    const { score, sizeBytes, userSizeBytes, wastedBytes, userWastedPercent } = r;
    assert.deepEqual({ score, sizeBytes, userSizeBytes, wastedBytes, userWastedPercent }, DIVE_TEST_IMAGE);
    // .data/Dockerfile.test-image: somefile1.txt copied then chmod'ed (2 copies), saved.txt
    // moved in then chmod +x'ed (2), somefile3.txt copied then moved away (a whiteout: 0).
    const readme = 6405;
    assert.deepEqual(
      r.offenders.map((o) => [o.path, o.count, o.bytes]),
      [
        ['/root/example/somefile1.txt', 2, 2 * readme],
        ['/root/saved.txt', 2, 2 * readme],
        ['/root/example/somefile3.txt', 2, readme],
      ],
    );
  });
}

test("dive's TestEfficiency stack as real folders: the folder whiteout counts what it deletes", async () => {
  // wagoodman/dive dive/filetree/efficiency_test.go TestEfficiency: expects score 0.75 and
  // one offender /etc/nginx/nginx.conf of 7,000 B. Its trees are made with AddPath, which
  // gives the folders no header (FileInfo{}, IsDir false), so the whiteout of /etc/nginx
  // finds "a file" and counts 0. In a real tar, and on disk, /etc/nginx is a folder and the
  // whiteout counts the 8,000 B below it (dive's own rule for folders), which the score
  // then holds on both sides: (2,000 + 3,000 + 10,000 + 8,000) / (7,000 + 3,000 + 10,000 + 8,000).
  const l0 = build('eff-l0', { 'etc/nginx/nginx.conf': 'a'.repeat(2000), 'etc/nginx/public': 'p'.repeat(3000) });
  const l1 = build('eff-l1', { 'etc/nginx/nginx.conf': 'b'.repeat(5000), 'etc/athing': 't'.repeat(10000) });
  const l2 = build('eff-l2', { 'etc/.wh.nginx': '' });
  const r = await efficiency([diffContent(l0, 'aufs'), diffContent(l1, 'aufs', [l0]), diffContent(l2, 'aufs', [l1, l0])]);
  assert.deepEqual(r.offenders.map((o) => [o.path, o.bytes]), [['/etc/nginx/nginx.conf', 7000]]);
  assert.equal(r.score, 23000 / 28000);
  assert.equal(r.wastedBytes, 7000);
  assert.deepEqual(r.layerBytes, [5000, 15000, 0]);
  assert.equal(r.userWastedPercent, 7000 / 15000);
});

test('a layer whose folder is missing fails with not-found, naming it', async () => {
  const missing = path.join(build('eff-gone-parent', {}), 'gone');
  await assert.rejects(efficiency([diffContent(missing, 'aufs')]), (err: unknown) => err instanceof LayerError && err.code === 'not-found' && err.message.includes(missing));
});

test("dive's TestEfficiency_ScratchImage: one empty file scores 1 with no offenders", async () => {
  const l0 = build('eff-scratch', { nothing: '' });
  const r = await efficiency([diffContent(l0, 'aufs'), diffContent(build('eff-empty1', {}), 'aufs', [l0])]);
  assert.equal(r.score, 1);
  assert.deepEqual(r.offenders, []);
  assert.equal(r.userWastedPercent, 0);
});

test('efficiency reports progress per layer and stops when cancelled', async (t) => {
  const root = projectRoot('overlay2');
  if (!root) return t.skip(whyMissing('overlay2'));
  const store = await open(root.root);
  const image = store.findImage('dle/waste:1');
  const seen: number[] = [];
  await imageEfficiency(store, image, { onProgress: (p) => seen.push(p.layer) });
  assert.deepEqual([...new Set(seen)], [...image.steps.keys()].filter((i) => image.steps[i].layerKey !== undefined).map((_, k) => k));
  const controller = new AbortController();
  const run = imageEfficiency(store, image, { signal: controller.signal, onProgress: (p) => p.layer === 2 && controller.abort() });
  await assert.rejects(run, (err: unknown) => err instanceof LayerError && err.code === 'cancelled');
});

// ---- the CLI: dive's CI rules and the exit status ----

const schema = JSON.parse(fs.readFileSync(path.join(repoRoot, 'schemas', 'efficiency.schema.json'), 'utf8'));
// The schema's examples run in schemas.test.ts (they exit 0); here a failing rule's document is checked too.
const validate = new Ajv2020({ strict: false }).compile(schema);

async function cli(root: string, ...args: string[]) {
  return runCli(['--root', root, 'efficiency', ...args]);
}

test('efficiency CLI: thresholds pass (0) and fail (1) as dive --ci compares them; bad values exit 2', async (t) => {
  const root = projectRoot('overlay2');
  if (!root) return t.skip(whyMissing('overlay2'));
  const r: ImageEfficiency = await imageEfficiency(await open(root.root), (await open(root.root)).findImage('dle/waste:1'));
  const cases: [string[], number][] = [
    [[], 0],
    [['--highest-wasted-bytes', '150000'], 0], // dive fails only above the threshold
    [['--highest-wasted-bytes', '149999'], 1],
    [['--highest-wasted-bytes', '150kB'], 0], // go-humanize: kB = 1,000
    [['--highest-wasted-bytes', '146KiB'], 1], // 149,504
    [['--highest-wasted-bytes', 'off'], 0], // dive's "disabled" spellings
    [['--lowest-efficiency', String(r.score)], 0],
    [['--lowest-efficiency', '0.93'], 1], // 0.92998…
    [['--highest-user-wasted-percent', '0.94'], 0],
    [['--highest-user-wasted-percent', '0.93'], 1], // 0.9366…
    [['--lowest-efficiency', '0.5', '--highest-user-wasted-percent', '0.5'], 1],
    [['--lowest-efficiency', '1.5'], 2],
    [['--highest-wasted-bytes', 'lots'], 2],
    [['--highest-user-wasted-percent', 'x'], 2],
  ];
  for (const [args, code] of cases) {
    const out = await cli(root.root, 'dle/waste:1', ...args);
    assert.equal(out.code, code, `efficiency dle/waste:1 ${args.join(' ')}: ${out.stderr}`);
    if (code === 1) assert.match(out.stderr, /dle\/waste:1 fails \d of \d efficiency rules?: /);
    if (code === 2) assert.match(out.stderr, /--(lowest-efficiency|highest-wasted-bytes|highest-user-wasted-percent) /);
  }
  assert.equal((await cli(root.root, 'no/such:image')).code, 1);
  assert.equal((await runCli(['--root', root.root, 'efficiency'])).code, 2);
});

test('efficiency CLI: the table lists /waste/big with its steps; a failing rule\'s --json follows the schema', async (t) => {
  const root = projectRoot('overlay2');
  if (!root) return t.skip(whyMissing('overlay2'));
  const text = await cli(root.root, 'dle/waste:1', '--highest-wasted-bytes', '20MB');
  assert.equal(text.code, 0);
  assert.match(text.stdout, /wasted bytes: +150000 bytes/);
  assert.match(text.stdout, /^3 +150kB +\d+,\d+,\d+ +\/waste\/big$/m);
  assert.match(text.stdout, /PASS {2}highestWastedBytes/);

  const failing = await cli(root.root, 'dle/waste:1', '--json', '--highest-wasted-bytes', '100kB', '--lowest-efficiency', 'disabled');
  assert.equal(failing.code, 1);
  const doc = JSON.parse(failing.stdout) as { command: string; pass: boolean; rules: unknown[]; offenders: { path: string }[] };
  assert.ok(validate(doc), JSON.stringify(validate.errors));
  assert.equal(doc.command, 'efficiency');
  assert.equal(doc.pass, false);
  assert.deepEqual(doc.rules, [{ rule: 'highestWastedBytes', threshold: 100_000, given: '100kB', status: 'fail' }]);
  assert.equal(doc.offenders[0].path, '/waste/big');

});
