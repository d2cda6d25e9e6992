/**
 * The bbolt reader on a real containerd 1.6.20 meta.db (../shared/fixtures),
 * checked against `ctr images ls` / `ctr snapshots ls` from the same daemon,
 * and on damaged copies of it: every damage must end in LayerError 'corrupt'
 * (in salvage mode: in problems, the walk going on), never a hang, a
 * RangeError or a wrong answer taken for a right one. bboltSalvage.test.ts
 * checks salvage mode's answers in detail.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BoltBucket, BoltDb } from '../../src/core/bbolt';
import { LayerError } from '../../src/core/errors';
import { assertMobyCtrTruth, ctrTable as table, scratch, type SkipCtx } from './support/ctr';
import { sharedRoot, whyMissing } from './support/roots';

/**
 * containerd16-moby's two bbolt files and its `ctr` truth folder, or undefined
 * (after t.skip with the reason) when the root is not extracted. A root that
 * is there without its truth is a broken extraction: that fails, not skips.
 */
function fixture(t: SkipCtx, needTruth = true): { metaDb: string; backendDb: string; truth: string } | undefined {
  const r = sharedRoot('containerd16-moby');
  if (!r) {
    t.skip(whyMissing('containerd16-moby'));
    return undefined;
  }
  if (needTruth) assertMobyCtrTruth(r.truth);
  return {
    metaDb: path.join(r.root, 'io.containerd.metadata.v1.bolt', 'meta.db'),
    backendDb: path.join(r.root, 'io.containerd.snapshotter.v1.overlayfs', 'metadata.db'),
    truth: r.truth,
  };
}

/** Reads every key, value and bucket below `b`, and looks each key up again. */
function walk(b: BoltBucket): number {
  let n = 0;
  for (const e of b.entries()) {
    n++;
    if (e.bucket) {
      assert.equal(b.get(e.key), undefined, 'get() of a bucket key is undefined');
      n += walk(e.bucket);
    } else {
      assert.deepEqual(b.get(e.key), e.value);
    }
  }
  return n;
}

async function openAndWalk(file: string): Promise<number> {
  const db = await BoltDb.open(file);
  try {
    return walk(db.root());
  } finally {
    db.close();
  }
}

/**
 * The same walk in salvage mode: it must finish without throwing (the meta
 * pages aside), every problem naming a page; resolves with the problem count.
 */
async function salvageWalk(file: string): Promise<number> {
  const db = await BoltDb.open(file, { salvage: true });
  try {
    walk(db.root());
    for (const p of db.problems) assert.match(p.message, /is corrupt: .*(page \d+|inline page)/, p.message);
    return db.problems.length;
  } finally {
    db.close();
  }
}

function isCorrupt(err: unknown): boolean {
  assert.ok(err instanceof LayerError, `expected a LayerError, got ${String(err)}`);
  assert.equal(err.code, 'corrupt', err.message);
  return true;
}

/** The raw meta fields this test needs, read without the reader under test. */
function rawMeta(buf: Buffer): { pageSize: number; root: number; current: number } {
  const pageSize = buf.readUInt32LE(24);
  const txid = (i: number) => buf.readBigUInt64LE(i * pageSize + 64);
  const current = txid(1) > txid(0) ? 1 : 0;
  return { pageSize, root: Number(buf.readBigUInt64LE(current * pageSize + 32)), current };
}

/** A deterministic byte stream (xorshift32). */
function noise(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x & 0xff;
  };
}

test('meta.db: the bucket tree holds the images and snapshots ctr listed', async (t) => {
  const fx = fixture(t);
  if (!fx) return;
  const db = await BoltDb.open(fx.metaDb);
  t.after(() => db.close());
  assert.equal(db.pageSize, 4096);
  assert.deepEqual(db.root().bucketNames(), ['v1']);
  assert.deepEqual(db.bucket(['v1'])?.bucketNames(), ['moby']);

  const images = db.bucket(['v1', 'moby', 'images']);
  assert.ok(images, 'v1/moby/images exists');
  const truth = table(path.join(fx.truth, 'images.txt'));
  assert.equal(truth.length, 3);
  assert.deepEqual(images.bucketNames(), truth.map((r) => r[0]).sort());
  for (const [ref, mediaType, digest] of truth) {
    const target: BoltBucket | undefined = images.bucket(ref)?.bucket('target');
    assert.ok(target, `${ref}/target`);
    assert.equal(target.getString('digest'), digest, ref);
    assert.equal(target.getString('mediatype'), mediaType, ref);
    assert.equal(db.bucket(['v1', 'moby', 'images', ref, 'target'])?.getString('digest'), digest);
  }

  const snaps = table(path.join(fx.truth, 'snapshots.txt'));
  const keys = db.bucket(['v1', 'moby', 'snapshots', 'overlayfs'])?.bucketNames() ?? [];
  assert.deepEqual(keys, snaps.map((r) => r[0]).sort());
  for (const row of snaps) {
    const parent = row.length === 3 ? row[1] : undefined;
    assert.equal(db.bucket(['v1', 'moby', 'snapshots', 'overlayfs', row[0]])?.getString('parent'), parent, row[0]);
  }

  assert.equal(images.get('no such key'), undefined);
  assert.equal(images.bucket('no such bucket'), undefined);
  assert.equal(db.bucket(['v1', 'nope', 'images']), undefined);
  assert.ok((await openAndWalk(fx.metaDb)) > 400, 'the whole tree walks');
});

test('metadata.db of the overlayfs snapshotter walks, one committed key per ctr snapshot', async (t) => {
  const fx = fixture(t);
  if (!fx) return;
  const db = await BoltDb.open(fx.backendDb);
  t.after(() => db.close());
  const snaps = db.bucket(['v1', 'snapshots']);
  assert.ok(snaps);
  const names = snaps.bucketNames();
  const truth = table(path.join(fx.truth, 'snapshots.txt')).map((r) => r[0]);
  assert.deepEqual(names.map((n) => n.replace(/^moby\/\d+\//, '')).sort(), [...truth].sort());
  for (const n of names) assert.deepEqual(snaps.bucket(n)?.get('kind'), Buffer.from([3]), `${n} is committed`);
  await openAndWalk(fx.backendDb);
});

test('a damaged meta.db fails with LayerError corrupt', async (t) => {
  const fx = fixture(t, false);
  if (!fx) return;
  const dir = scratch(t, 'bbolt-test');
  const good = readFileSync(fx.metaDb);
  const { pageSize, root, current } = rawMeta(good);
  const file = path.join(dir, 'meta.db');
  const write = (edit: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    edit(b);
    writeFileSync(file, b);
  };

  await t.test('the root page overwritten with noise', async () => {
    const next = noise(7);
    write((b) => {
      for (let i = 0; i < pageSize; i++) b[root * pageSize + i] = next();
    });
    await assert.rejects(openAndWalk(file), isCorrupt);
  });

  await t.test('the root page claiming a huge element count', async () => {
    write((b) => b.writeUInt16LE(0xffff, root * pageSize + 10));
    await assert.rejects(openAndWalk(file), isCorrupt);
  });

  await t.test('both meta pages broken', async () => {
    write((b) => {
      b[16 + 20] ^= 0xff;
      b[pageSize + 16 + 20] ^= 0xff;
    });
    await assert.rejects(BoltDb.open(file), isCorrupt);
  });

  await t.test('the newer meta page broken: the older one is used', async () => {
    write((b) => (b[current * pageSize + 16 + 40] ^= 0x01));
    assert.equal(await openAndWalk(file), await openAndWalk(fx.metaDb));
  });

  await t.test('a nested bucket rooted at the root page (a cycle)', async () => {
    // The root page is a leaf whose first element is bucket `v1`: point its root back at the root page.
    const at = root * pageSize;
    assert.equal(good.readUInt16LE(at + 8), 0x02, 'root page is a leaf');
    const pos = good.readUInt32LE(at + 16 + 4);
    const ksize = good.readUInt32LE(at + 16 + 8);
    assert.equal(good.toString('utf8', at + 16 + pos, at + 16 + pos + ksize), 'v1');
    write((b) => b.writeBigUInt64LE(BigInt(root), at + 16 + pos + ksize));
    await assert.rejects(openAndWalk(file), isCorrupt);
  });

  await t.test('a branch page pointing at itself (a cycle)', async () => {
    let caught = 0;
    for (let p = 2; p * pageSize < good.length; p++) {
      if (good.readUInt16LE(p * pageSize + 8) !== 0x01) continue;
      write((b) => b.writeBigUInt64LE(BigInt(p), p * pageSize + 16 + 8));
      await openAndWalk(file).catch((err) => isCorrupt(err) && caught++);
    }
    assert.ok(caught > 0, 'at least one live branch page was damaged');
  });

  await t.test('each page in turn overwritten, and random bytes flipped', { timeout: 120_000 }, async () => {
    const copy = path.join(dir, 'copy.db');
    copyFileSync(fx.metaDb, copy);
    let caught = 0;
    let salvaged = 0;
    for (let p = 2; p * pageSize < good.length; p++) {
      const next = noise(p);
      write((b) => {
        for (let i = 0; i < pageSize; i++) b[p * pageSize + i] = next();
      });
      await openAndWalk(file).catch((err) => isCorrupt(err) && caught++);
      salvaged += await salvageWalk(file);
    }
    const next = noise(2024);
    for (let round = 0; round < 150; round++) {
      write((b) => {
        for (let k = 0; k < 8; k++) {
          const page = 2 + ((next() << 8) | next()) % (good.length / pageSize - 2);
          b[page * pageSize + (((next() << 8) | next()) % 256)] = next();
        }
      });
      await openAndWalk(file).catch((err) => isCorrupt(err) && caught++);
      salvaged += await salvageWalk(file);
    }
    assert.ok(caught > 0);
    assert.ok(salvaged > 0, 'salvage mode reported the damage instead of throwing');
    assert.deepEqual(readFileSync(copy), good, 'the reader never writes');
  });
});
