// The Layer Files view's own index (pure): the filter language, and a listing's
// folders seen through a filter and a sort order.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { globToRegExp, parseFileFilter, type FileFilter } from '../../src/core/fileFilter';
import { FileListing, LayerEntryTree } from '../../src/core/fileListing';
import type { EntryStatus, EntryType, LayerEntry } from '../../src/core/layerEntry';

const entry = (path: string, type: EntryType, size = 0, status: EntryStatus = 'added'): LayerEntry => ({ path, status, type, size, mode: 0 });

const ENTRIES: LayerEntry[] = [
  entry('/bin', 'dir'),
  entry('/bin/busybox', 'file', 1_980_000),
  entry('/bin/sh', 'symlink'),
  entry('/etc', 'dir', 0, 'modified'),
  entry('/etc/app', 'dir', 0, 'opaque'),
  entry('/etc/app/c.conf', 'file', 4),
  entry('/etc/passwd', 'file', 63),
  entry('/etc/zz.conf', 'file', 10),
  entry('/data', 'dir', 0, 'modified'),
  entry('/data/old.txt', 'file', 0, 'deleted'),
  entry('/data/keep.txt', 'file', 12, 'modified'),
];

function listing(): FileListing<LayerEntry> {
  const l = new FileListing<LayerEntry>(new LayerEntryTree());
  for (const e of ENTRIES) l.add(e);
  return l;
}

const filter = (text: string): FileFilter => {
  const f = parseFileFilter(text);
  assert.ok(typeof f !== 'string', `${text}: ${f as string}`);
  return f;
};

/** Every listed path, depth first, as the view shows them. */
function shown(l: FileListing<LayerEntry>, dir = '/'): string[] {
  return l.children(dir).flatMap((e) => [e.path, ...(e.type === 'dir' ? shown(l, e.path) : [])]);
}

test('globs: * within a name, ** across folders, ? one character; no slash: the name only', () => {
  assert.ok(globToRegExp('/etc/**').test('/etc'));
  assert.ok(globToRegExp('/etc/**').test('/etc/app/c.conf'));
  assert.ok(!globToRegExp('/etc/**').test('/etcetera'));
  assert.ok(globToRegExp('/a/**/b.conf').test('/a/b.conf'));
  assert.ok(globToRegExp('/a/**/b.conf').test('/a/x/y/b.conf'));
  assert.ok(!globToRegExp('/a/*.conf').test('/a/x/b.conf'));
  assert.ok(globToRegExp('f?.txt').test('f1.txt'));
  const conf = filter('*.conf');
  assert.ok(conf.test(entry('/etc/app/c.conf', 'file')));
  assert.ok(!conf.test(entry('/etc/app', 'dir')));
  assert.ok(filter('etc/app/*').test(entry('/etc/app/c.conf', 'file')), 'a relative path glob is anchored at /');
});

test('size filters compare regular files only, in SI or binary units; terms combine', () => {
  assert.ok(filter('size>1MB').test(entry('/b', 'file', 1_000_001)));
  assert.ok(!filter('size>1MB').test(entry('/b', 'file', 1_000_000)));
  assert.ok(filter('size >= 1 MiB').test(entry('/b', 'file', 1024 * 1024)));
  assert.ok(filter('size<10').test(entry('/b', 'file', 9)));
  assert.ok(!filter('size<10').test(entry('/d', 'dir', 0)), 'a folder has no size to compare');
  assert.ok(filter('size=0').test(entry('/e', 'file', 0)));
  assert.ok(filter('/etc/** size>5B').test(entry('/etc/passwd', 'file', 63)));
  assert.ok(!filter('/etc/** size>5B').test(entry('/data/keep.txt', 'file', 63)));
  assert.equal(typeof parseFileFilter('size>1XB'), 'string');
  assert.equal(typeof parseFileFilter('size>'), 'string');
  assert.equal(typeof parseFileFilter('   '), 'string');
  assert.ok(filter('PASS').test(entry('/etc/passwd', 'file')), 'substrings ignore case');
});

test('a listing: folders first then names; by size, biggest first (folders by what they hold)', () => {
  const l = listing();
  assert.equal(l.count, ENTRIES.length);
  assert.equal(l.files, 7);
  assert.equal(l.bytes, 1_980_000 + 4 + 63 + 10 + 12);
  assert.deepEqual(l.children('/').map((e) => e.path), ['/bin', '/data', '/etc']);
  assert.deepEqual(l.children('/etc').map((e) => e.path), ['/etc/app', '/etc/passwd', '/etc/zz.conf']);
  assert.equal(l.folderSize('/etc'), 77);
  l.sort = 'size';
  assert.deepEqual(l.children('/').map((e) => e.path), ['/bin', '/etc', '/data']);
  assert.deepEqual(l.children('/etc').map((e) => e.path), ['/etc/passwd', '/etc/zz.conf', '/etc/app']);
});

test('a filter shows matches and the folders leading to them, also for entries streamed after it was set', () => {
  const l = new FileListing<LayerEntry>(new LayerEntryTree());
  l.setFilter(filter('*.conf'));
  for (const e of ENTRIES) l.add(e);
  assert.deepEqual(shown(l), ['/etc', '/etc/app', '/etc/app/c.conf', '/etc/zz.conf']);
  assert.equal(l.matches, 2);
  assert.ok(l.leadsToMatch('/etc/app'));
  assert.ok(!l.leadsToMatch('/bin'));
  l.setFilter(filter('size>1MB'));
  assert.deepEqual(shown(l), ['/bin', '/bin/busybox']);
  l.setFilter(undefined);
  assert.equal(shown(l).length, ENTRIES.length);
  assert.equal(l.matches, ENTRIES.length);
});

test('an entry below a folder the walk did not give makes that folder', () => {
  const l = new FileListing<LayerEntry>(new LayerEntryTree());
  l.add(entry('/deep/er/file', 'file', 3));
  assert.deepEqual(shown(l), ['/deep', '/deep/er', '/deep/er/file']);
  assert.equal(l.tree.get('/deep')?.status, 'modified');
  assert.equal(l.count, 3);
  assert.equal(l.files, 1);
});
