/**
 * The bbolt reader's salvage mode on copies of the project containerd root's
 * real meta.db (test/fixtures/makeRoots.sh), each with one page damaged in one
 * way, made here at test time (the original is never touched): a branch page,
 * a leaf page under it, an overflow count past the file, a page id past the
 * file, a cycle, the images bucket's page, the root page, and every page in
 * turn. Salvage must report the page and its bucket, read everything the
 * damage did not touch exactly as the undamaged file gives it, and never
 * throw or hang; strict mode must still throw LayerError 'corrupt'.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BoltBucket, BoltDb, type BoltProblem } from '../../src/core/bbolt';
import { LayerError } from '../../src/core/errors';
import { scratch } from './support/ctr';
import { projectRoot, sharedRoot, whyMissing, type TestRoot } from './support/roots';

const BRANCH = 0x01;
const LEAF = 0x02;

/** Every value below `b`, by its key path (`v1/moby/images/…/target/digest`), and every bucket (value `<bucket>`). */
function flatten(b: BoltBucket, out = new Map<string, string>()): Map<string, string> {
  for (const e of b.entries()) {
    const key = [...b.path, e.key.toString('latin1')].join('/');
    if (e.bucket) {
      out.set(key, '<bucket>');
      flatten(e.bucket, out);
    } else {
      out.set(key, e.value!.toString('hex'));
    }
  }
  return out;
}

interface Salvaged {
  entries: Map<string, string>;
  problems: BoltProblem[];
}

async function salvage(file: string): Promise<Salvaged> {
  const db = await BoltDb.open(file, { salvage: true });
  try {
    return { entries: flatten(db.root()), problems: db.problems };
  } finally {
    db.close();
  }
}

async function strictWalk(file: string): Promise<Map<string, string>> {
  const db = await BoltDb.open(file);
  try {
    return flatten(db.root());
  } finally {
    db.close();
  }
}

/** The meta fields this test needs, read without the reader under test. */
function rawMeta(buf: Buffer): { pageSize: number; root: number } {
  const pageSize = buf.readUInt32LE(24);
  const txid = (i: number) => buf.readBigUInt64LE(i * pageSize + 64);
  const current = txid(1) > txid(0) ? 1 : 0;
  return { pageSize, root: Number(buf.readBigUInt64LE(current * pageSize + 32)) };
}

/** Page header fields, read raw. */
const header = (buf: Buffer, pageSize: number, p: number) => ({
  id: buf.readBigUInt64LE(p * pageSize),
  flags: buf.readUInt16LE(p * pageSize + 8),
  count: buf.readUInt16LE(p * pageSize + 10),
});

/** Child page ids of branch page `p`, read raw (element i: pos u32, ksize u32, pgid u64). */
const children = (buf: Buffer, pageSize: number, p: number) =>
  Array.from({ length: header(buf, pageSize, p).count }, (_, i) => Number(buf.readBigUInt64LE(p * pageSize + 16 + i * 16 + 8)));

/**
 * The undamaged file, a scratch folder, and a writer of damaged copies; the
 * test is skipped when the project containerd root is not made.
 */
function setup(t: { skip: (m: string) => void; after: (fn: () => void) => void }, root: TestRoot | undefined = projectRoot('containerd')) {
  if (!root) return void t.skip(whyMissing('containerd'));
  const original = path.join(root.root, 'io.containerd.metadata.v1.bolt', 'meta.db');
  const good = readFileSync(original);
  const file = path.join(scratch(t, 'bbolt-salvage'), 'meta.db');
  const damaged = (edit: (b: Buffer) => void): string => {
    const b = Buffer.from(good);
    edit(b);
    writeFileSync(file, b);
    return file;
  };
  return { original, good, damaged, ...rawMeta(good) };
}

/** Entries of `all` that lie in bucket `path` or below it. */
const under = (all: Map<string, string>, bucket: readonly string[]) =>
  [...all.keys()].filter((k) => bucket.length === 0 || k.startsWith(bucket.join('/') + '/'));

/**
 * Everything outside the `buckets` is read as the undamaged file gives it;
 * inside them, only entries the undamaged file has, with the same values.
 */
function assertOnlyBucketLost(got: Map<string, string>, want: Map<string, string>, ...buckets: (readonly string[])[]): void {
  const inside = new Set(buckets.flatMap((b) => under(want, b)));
  for (const [k, v] of want) if (!inside.has(k)) assert.equal(got.get(k), v, `${k} is still read`);
  for (const [k, v] of got) assert.equal(v, want.get(k), `${k} is what the undamaged file holds`);
}

/**
 * A live branch page of a nested bucket (found by damaging each branch page
 * and seeing the strict walk fail), with its bucket; undefined when the file
 * has none (a small meta.db can hold every bucket in leaf pages: the project
 * root's has one or none, depending on the build).
 */
async function liveBranch(s: NonNullable<ReturnType<typeof setup>>): Promise<{ pgid: number; bucket: readonly string[] } | undefined> {
  for (let p = 2; (p + 1) * s.pageSize <= s.good.length; p++) {
    const h = header(s.good, s.pageSize, p);
    if (h.id !== BigInt(p) || h.flags !== BRANCH || p === s.root) continue;
    const file = s.damaged((b) => b.writeUInt16LE(0x4e4a, p * s.pageSize + 8));
    const { problems } = await salvage(file);
    if (problems.length) return { pgid: p, bucket: problems[0].path };
  }
  return undefined;
}

/** The first meta.db with a live branch page: the project containerd root's, else the shared containerd 1.6 fixture's. */
async function withBranch(t: Parameters<typeof setup>[0]) {
  for (const root of [projectRoot('containerd'), sharedRoot('containerd16-moby')]) {
    if (!root) continue;
    const s = setup(t, root)!;
    const branch = await liveBranch(s);
    if (branch) return { s, branch };
  }
  return void t.skip('no meta.db at hand has a branch page below the root (the shared fixtures are not beside the repo)');
}

test('salvage mode on the undamaged meta.db reads exactly what strict mode reads, with no problem', async (t) => {
  const s = setup(t);
  if (!s) return;
  const strict = await strictWalk(s.original);
  const salvaged = await salvage(s.original);
  assert.deepEqual(salvaged.problems, []);
  assert.deepEqual(salvaged.entries, strict);
  assert.ok(under(strict, ['v1', 'moby', 'images']).length > 0 && under(strict, ['v1', 'moby', 'snapshots']).length > 0);
});

test('one damaged page: reported with its bucket, the rest of the tree read', async (t) => {
  const found = await withBranch(t);
  if (!found) return;
  const { s, branch } = found;
  const want = await strictWalk(s.original);
  const kids = children(s.good, s.pageSize, branch.pgid);
  assert.ok(kids.length >= 2, `branch page ${branch.pgid} has ${kids.length} children`);
  const leaf = kids[0];
  assert.equal(header(s.good, s.pageSize, leaf).flags, LEAF, `page ${leaf} is a leaf`);
  const inBucket = under(want, branch.bucket).length;

  /** Salvages a damaged copy: one problem, on `pgid` in the branch's bucket, saying `why`; strict mode throws. */
  const check = async (edit: (b: Buffer) => void, pgid: number, why: RegExp, siblingsKept: boolean) => {
    const file = s.damaged(edit);
    const got = await salvage(file);
    assert.equal(got.problems.length, 1, got.problems.map((p) => p.message).join('\n'));
    const [p] = got.problems;
    assert.deepEqual([p.pgid, p.path], [pgid, branch.bucket]);
    assert.match(p.reason, why);
    assert.ok(p.reason.includes(`bucket ${branch.bucket.join('/')}`), p.reason);
    assert.ok(p.message.includes(file) && p.message.includes(p.reason), p.message);
    assertOnlyBucketLost(got.entries, want, branch.bucket);
    const kept = under(got.entries, branch.bucket).length;
    if (siblingsKept) assert.ok(kept > 0 && kept < inBucket, `the sibling pages are read: ${kept} of ${inBucket}`);
    else assert.equal(kept, 0);
    await assert.rejects(strictWalk(file), (err: unknown) => err instanceof LayerError && err.code === 'corrupt');
  };

  await t.test('a branch page with junk flags: its bucket reads as empty', () =>
    check((b) => b.writeUInt16LE(0x4e4a, branch.pgid * s.pageSize + 8), branch.pgid, /flags 0x4e4a are not a branch or leaf page/, false));
  await t.test('a branch page claiming more elements than fit', () =>
    check((b) => b.writeUInt16LE(0xffff, branch.pgid * s.pageSize + 10), branch.pgid, /elements do not fit/, false));
  await t.test('a leaf page under it overwritten: its siblings are read', () =>
    check((b) => b.fill(0x5a, leaf * s.pageSize, (leaf + 1) * s.pageSize), leaf, new RegExp(`page ${leaf} says it is page`), true));
  await t.test("a leaf page's element offset past the page", () =>
    check((b) => b.writeUInt32LE(0x7fffffff, leaf * s.pageSize + 16 + 4), leaf, /lies outside the page/, true));
  await t.test('a leaf page whose overflow runs past the file', () =>
    check((b) => b.writeUInt32LE(0xffffffff, leaf * s.pageSize + 12), leaf, /overflows past the last page/, true));
  await t.test('a branch element pointing at a page past the file', () =>
    check((b) => b.writeBigUInt64LE(1_000_000n, branch.pgid * s.pageSize + 16 + 8), 1_000_000, /page 1000000 is out of range/, true));
  await t.test('a branch element pointing back at its own page (a cycle)', () =>
    check((b) => b.writeBigUInt64LE(BigInt(branch.pgid), branch.pgid * s.pageSize + 16 + 8), branch.pgid, /reached twice \(cycle\)/, true));
});

test("the images bucket's page lost: the other buckets of the namespace are whole", async (t) => {
  const s = setup(t);
  if (!s) return;
  const want = await strictWalk(s.original);
  const images = ['v1', 'moby', 'images'];
  // The live page holding the image names: the one whose loss the reader reports against the images bucket.
  const name = Buffer.from('docker.io/dle/app:1');
  let found = false;
  for (let p = 2; (p + 1) * s.pageSize <= s.good.length && !found; p++) {
    if (s.good.subarray(p * s.pageSize, (p + 1) * s.pageSize).indexOf(name) < 0) continue;
    const got = await salvage(s.damaged((b) => b.write('JUNKJUNKJUNKJUNK', p * s.pageSize, 'latin1')));
    if (!got.problems.some((x) => x.pgid === p && x.path.join('/') === images.join('/'))) continue;
    found = true;
    assert.deepEqual(got.problems.map((x) => [x.pgid, x.path.join('/')]), [[p, images.join('/')]]);
    assertOnlyBucketLost(got.entries, want, images);
    assert.equal(got.entries.get(images.join('/')), '<bucket>', 'the bucket keeps its name in its parent');
    for (const bucket of [['v1', 'moby', 'snapshots'], ['v1', 'moby', 'content']]) {
      assert.deepEqual(under(got.entries, bucket), under(want, bucket), bucket.join('/'));
    }
  }
  assert.ok(found, 'a live page holds the image names');
});

test('the root page lost: one problem on the root bucket, nothing read, no throw', async (t) => {
  const s = setup(t);
  if (!s) return;
  const got = await salvage(s.damaged((b) => b.fill(0xa5, s.root * s.pageSize, (s.root + 1) * s.pageSize)));
  assert.deepEqual(got.problems.map((p) => [p.pgid, p.path]), [[s.root, []]]);
  assert.match(got.problems[0].reason, /^root bucket: page \d+ says it is page/);
  assert.equal(got.entries.size, 0);
});

test('every page in turn overwritten with junk: salvage never throws, reports what it lost, keeps the rest exact', { timeout: 120_000 }, async (t) => {
  const s = setup(t);
  if (!s) return;
  const want = await strictWalk(s.original);
  let damagedLive = 0;
  for (let p = 2; (p + 1) * s.pageSize <= s.good.length; p++) {
    const got = await salvage(s.damaged((b) => b.fill(0x5a, p * s.pageSize, (p + 1) * s.pageSize)));
    if (got.problems.length === 0) {
      assert.deepEqual(got.entries, want, `page ${p} is not live: nothing changes`);
      continue;
    }
    damagedLive++;
    assert.ok(got.problems.every((x) => x.pgid === p), `page ${p}: ${got.problems.map((x) => x.message).join('; ')}`);
    assertOnlyBucketLost(got.entries, want, ...got.problems.map((x) => x.path));
  }
  assert.ok(damagedLive >= 10, `${damagedLive} live pages damaged`);
  assert.deepEqual(readFileSync(s.original), s.good, 'the original is never written');
});
