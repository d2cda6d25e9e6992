/**
 * The sample root shipped in the extension (media/sample-root.tar.gz, made by
 * test/fixtures/makeSample.sh with a real dockerd): extracted by
 * ensureSampleRoot as a normal user (via setpriv when the tests run as root),
 * then read with the CLI and compared with what that daemon answered
 * (test/fixtures/sample-truth/), as dockerTruth.test.ts does for the project's
 * roots. And hostile archives: nothing is written outside the target folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { ensureSampleRoot, SAMPLE_MARKER } from '../../src/sampleRoot';
import { cliJson, runCli } from './support/cli';
import { checkTruth, jsonl, readInspect, type FileJson, type ImageJson, type LsRow, type StepJson } from './support/dockerTruth';
import { repoRoot } from './support/roots';

const ARCHIVE = path.join(repoRoot, 'media', 'sample-root.tar.gz');
const TRUTH = path.join(repoRoot, 'test', 'fixtures', 'sample-truth');
const MAX_ARCHIVE_BYTES = 300 * 1024;

const inspectOf = (file: string) => readInspect(path.join(TRUTH, file));

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const NOBODY = 65534;
const canSetpriv = isRoot && spawnSync('setpriv', ['--version']).status === 0;
/** The compiled sampleRoot.js and CLI, for a child process run as another user. */
const compiledSampleRoot = path.resolve(__dirname, '..', '..', 'src', 'sampleRoot.js');
const compiledCli = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');

let work = '';
let root = '';
let extractedBy = -1;

/** Runs a Node snippet as uid/gid 65534 (nobody) and returns its stdout as JSON. */
function runAsNobody<T>(script: string, args: string[]): T {
  const r = spawnSync(
    'setpriv',
    ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', process.execPath, '-e', script, ...args],
    { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' } },
  );
  assert.equal(r.status, 0, `as nobody: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'dle-sample-test-'));
  const storage = path.join(work, 'storage');
  if (canSetpriv) {
    // Extract as nobody into a folder nobody owns: no root needed.
    fs.chownSync(work, NOBODY, NOBODY);
    const out = runAsNobody<{ root: string; notes: string[] }>(
      `const notes = [];
       require(process.argv[1]).ensureSampleRoot(process.argv[2], process.argv[3], { onNote: (m) => notes.push(m) })
         .then((root) => process.stdout.write(JSON.stringify({ root, notes })), (e) => { console.error(e); process.exit(1); });`,
      [compiledSampleRoot, ARCHIVE, storage],
    );
    root = out.root;
    assert.deepEqual(out.notes, [], 'the sample holds nothing a normal user cannot extract');
    extractedBy = NOBODY;
  } else {
    root = await ensureSampleRoot(ARCHIVE, storage);
    extractedBy = typeof process.getuid === 'function' ? process.getuid() : -1;
  }
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the shipped archive is small and its truth is there', () => {
  const size = fs.statSync(ARCHIVE).size;
  assert.ok(size > 1000 && size <= MAX_ARCHIVE_BYTES, `media/sample-root.tar.gz is ${size} bytes (at most ${MAX_ARCHIVE_BYTES})`);
  for (const f of ['images.jsonl', 'tags.txt', 'diff-sample-ctr.txt', 'container-sample-ctr.json']) {
    assert.ok(fs.existsSync(path.join(TRUTH, f)), `test/fixtures/sample-truth/${f}`);
  }
  assert.deepEqual(
    fs
      .readFileSync(path.join(TRUTH, 'tags.txt'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[0]),
    ['sample/app:1.0', 'sample/app:latest', 'sample/base:1'],
  );
  // The truth was recorded for this very archive (both come from one makeSample.sh run).
  const sha = createHash('sha256').update(fs.readFileSync(ARCHIVE)).digest('hex');
  assert.match(
    fs.readFileSync(path.join(TRUTH, 'README.txt'), 'utf8'),
    new RegExp(`^Archive sha256: ${sha}$`, 'm'),
    'test/fixtures/sample-truth/ belongs to media/sample-root.tar.gz: regenerate both with test/fixtures/makeSample.sh',
  );
});

test('extracted once, as a normal user, into sample-root-<sha256 prefix>/ with no special files', async () => {
  const dir = path.dirname(root);
  assert.match(path.basename(dir), /^sample-root-[0-9a-f]{12}$/);
  assert.equal(path.basename(root), 'root');
  assert.ok(fs.statSync(path.join(dir, SAMPLE_MARKER)).isFile(), 'completion marker');
  assert.deepEqual(
    fs.readdirSync(path.dirname(dir)).filter((n) => n.startsWith('.')),
    [],
    'no temporary folder is left beside it',
  );
  // Everything is the extracting user's, only files/folders/symlinks, no setuid or world-writable bits.
  const walk = (p: string): void => {
    const st = fs.lstatSync(p);
    if (extractedBy >= 0) assert.equal(st.uid, extractedBy, `${p} belongs to the extracting user`);
    assert.ok(st.isFile() || st.isDirectory() || st.isSymbolicLink(), `${p} is a file, folder or symlink`);
    if (!st.isSymbolicLink()) assert.equal(st.mode & 0o7022, 0, `${p} mode ${(st.mode & 0o7777).toString(8)}`);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
  };
  walk(dir);
  // A second call finds it complete and changes nothing.
  const marker = fs.statSync(path.join(dir, SAMPLE_MARKER)).mtimeMs;
  const again = await ensureSampleRoot(ARCHIVE, path.dirname(dir));
  assert.equal(again, root);
  assert.equal(fs.statSync(path.join(dir, SAMPLE_MARKER)).mtimeMs, marker);
});

test('a normal user can read the extracted sample with the CLI', { skip: canSetpriv ? false : isRoot ? 'needs setpriv' : 'the tests already run as a normal user' }, () => {
  const out = runAsNobody<{ code: number; stdout: string; stderr: string }>(
    `let stdout = '', stderr = '';
     require(process.argv[1]).run(['--root', process.argv[2], 'images', '--all', '--json'], { write: (t) => (stdout += t), warn: (t) => (stderr += t) })
       .then((code) => process.stdout.write(JSON.stringify({ code, stdout, stderr })));`,
    [compiledCli, root],
  );
  assert.equal(out.code, 0, out.stderr);
  const ids = (JSON.parse(out.stdout) as { images: ImageJson[] }).images.map((i) => i.id).sort();
  const truthIds = [...new Set(jsonl<LsRow>(path.join(TRUTH, 'images.jsonl')).map((l) => l.ID))].sort();
  assert.deepEqual(ids, truthIds);
});

test("images, tags, sizes, every history row and the container diff equal the daemon's answers", async (t) => {
  await checkTruth(t, root, TRUTH, { checkComments: true, exactHistoryCount: true, requiredContainers: ['sample-ctr'] });
  // And what `docker cp` did to the container, file by file.
  const r = ['--root', root];
  const { files } = await cliJson<{ files: FileJson[] }>([...r, 'files', 'sample-ctr']);
  const byPath = new Map(files.map((f) => [f.path, f]));
  assert.equal(byPath.get('/srv/app/work/note.txt')?.status, 'added', 'docker cp added note.txt');
  assert.equal(byPath.get('/data/keep.txt')?.status, 'modified', 'docker cp replaced keep.txt');
});

test('the loaded whiteout layer: /data/old.txt deleted, /etc/app replaced, /data/shadow-link a symlink to /etc/shadow', async () => {
  const r = ['--root', root];
  const base = inspectOf(`inspect-${(await cliJson<{ images: ImageJson[] }>([...r, 'images'])).images.find((i) => i.tags.includes('sample/base:1'))!.id.slice(7)}.json`);
  assert.equal(base.RootFS.Layers.length, 2, 'sample/base:1 has two layers');
  const { steps } = await cliJson<{ steps: StepJson[] }>([...r, 'layers', 'sample/base:1']);
  const step = steps.find((s) => s.diffId === base.RootFS.Layers[1]);
  assert.ok(step, 'the second layer is a step of sample/base:1');
  const { files } = await cliJson<{ files: FileJson[] }>([...r, 'files', `sample/base:1@${step.index}`]);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const want: [string, string, string, string?][] = [
    ['/data/old.txt', 'deleted', 'file'],
    ['/data/keep.txt', 'modified', 'file'],
    ['/data/shadow-link', 'added', 'symlink', '/etc/shadow'],
    ['/etc/app/a.conf', 'deleted', 'file'],
    ['/etc/app/b.conf', 'deleted', 'file'],
    ['/etc/app/c.conf', 'added', 'file'],
  ];
  for (const [p, status, type, target] of want) {
    const f = byPath.get(p);
    assert.ok(f, `${p} is listed in the layer's files: ${JSON.stringify(files)}`);
    assert.equal(f.status, status, `${p} status`);
    assert.equal(f.type, type, `${p} type`);
    if (target !== undefined) assert.equal(f.target, target, `${p} target`);
  }
  assert.ok(!files.some((f) => f.path.includes('.wh.')), 'no whiteout file is listed as a file');
  // The symlink is extracted as a symlink, pointing where the image says (not followed).
  const layer = (await cliJson<{ document: unknown }>([...r, 'json', 'sample/app:1.0'])).document as {
    config: { Labels: Record<string, string> };
  };
  assert.equal(layer.config.Labels['org.example.note'], '<b>html</b> & "quotes"');
  const links = findAll(root, (p, st) => st.isSymbolicLink() && p.endsWith(`${path.sep}data${path.sep}shadow-link`));
  assert.ok(links.length > 0);
  for (const l of links) assert.equal(fs.readlinkSync(l), '/etc/shadow');
});

function findAll(dir: string, pick: (p: string, st: fs.Stats) => boolean): string[] {
  const out: string[] = [];
  for (const n of fs.readdirSync(dir)) {
    const p = path.join(dir, n);
    const st = fs.lstatSync(p);
    if (pick(p, st)) out.push(p);
    if (st.isDirectory()) out.push(...findAll(p, pick));
  }
  return out;
}

// ---------------------------------------------------------------- archives made here

interface Item {
  header: Parameters<tar.Pack['entry']>[0];
  body?: string;
}

async function makeTarGz(file: string, items: Item[]): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createGzip(), fs.createWriteStream(file));
  for (const it of items) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (it.body !== undefined) pack.entry(it.header, it.body, cb);
      else pack.entry(it.header, cb);
    });
  }
  pack.finalize();
  await done;
}

/** Every path under dir (relative), symlinks not followed. */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string, rel: string) => {
    for (const n of fs.readdirSync(p).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      const st = fs.lstatSync(path.join(p, n));
      if (st.isDirectory()) walk(path.join(p, n), r);
    }
  };
  walk(dir, '');
  return out;
}

const unique = `dle-sample-escape-${process.pid}-${Date.now().toString(36)}`;
const file = (name: string, body = 'x\n'): Item => ({ header: { name, type: 'file', mode: 0o644 }, body });
const dir = (name: string): Item => ({ header: { name, type: 'directory', mode: 0o755 } });
const symlink = (name: string, linkname: string): Item => ({ header: { name, type: 'symlink', linkname } });
const hardlink = (name: string, linkname: string): Item => ({ header: { name, type: 'link', linkname } });

test('hostile archives: nothing is written outside the target folder, and no half-made folder stays', async (t) => {
  const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'dle-sample-hostile-'));
  t.after(() => fs.rmSync(sandbox, { recursive: true, force: true }));
  const outside = path.join(sandbox, 'outside');
  fs.mkdirSync(outside);
  // Places a broken extractor would write to.
  const victims = [
    path.join(sandbox, 'escape'),
    path.join(sandbox, unique),
    path.join('/', unique),
    path.join('/tmp', unique),
    path.join(outside, 'file'),
    path.join(outside, unique),
  ];
  const cases: [string, Item[]][] = [
    ['brief: ../escape, /abs, link -> /tmp, link/file', [
      dir('root/'),
      file('../escape'),
      file(`/${unique}`),
      symlink('link', '/tmp'),
      file(`link/${unique}`),
    ]],
    ['../ after a good entry', [dir('root/'), file('root/ok.txt'), file(`root/../../${unique}`)]],
    ['absolute path', [dir('root/'), file(`/${unique}`)]],
    ['.. inside the name', [dir('root/'), file(`root/a/../../../${unique}`)]],
    ['a file under a symlink to /tmp', [dir('root/'), symlink('root/link', '/tmp'), file(`root/link/${unique}`)]],
    ['a file under a symlink to a sibling folder', [dir('root/'), symlink('root/out', '../../outside'), file('root/out/file')]],
    ['a folder under a symlink', [dir('root/'), symlink('root/out', outside), dir(`root/out/${unique}/`)]],
    ['a symlink under a symlink', [dir('root/'), symlink('root/out', outside), symlink(`root/out/${unique}`, '/etc/passwd')]],
    ['a symlink replaced by a folder', [dir('root/'), symlink('root/d', outside), dir('root/d/'), file('root/d/file')]],
    ['a file replaced by a symlink', [dir('root/'), file('root/f'), symlink('root/f', outside)]],
    ['a file under a file', [dir('root/'), file('root/f'), file('root/f/x')]],
    ['a hard link out of the folder', [dir('root/'), hardlink('root/h', '../../../../etc/passwd')]],
    ['a hard link to an absolute path', [dir('root/'), hardlink('root/h', '/etc/passwd')]],
    ['a hard link to a symlink', [dir('root/'), symlink('root/s', '/etc/passwd'), hardlink('root/h', 'root/s')]],
    ['a hard link to a file not yet extracted', [dir('root/'), hardlink('root/h', 'root/later'), file('root/later')]],
  ];
  for (const [name, items] of cases) {
    await t.test(name, async () => {
      const archive = path.join(sandbox, 'hostile.tar.gz');
      const storage = path.join(sandbox, 'storage');
      try {
        await makeTarGz(archive, items);
        await assert.rejects(ensureSampleRoot(archive, storage), /absolute|climbs out|under|twice|hard link|outside/);
        assert.deepEqual(listTree(outside), [], 'the folder outside stays empty');
        for (const v of victims) assert.ok(!fs.existsSync(v), `${v} was not written`);
        assert.deepEqual(fs.existsSync(storage) ? fs.readdirSync(storage) : [], [], 'no folder (final or temporary) is left');
        assert.deepEqual(listTree(sandbox).sort(), ['hostile.tar.gz', 'outside', ...(fs.existsSync(storage) ? ['storage'] : [])].sort());
      } finally {
        // Leave the next case a clean slate even when this one failed.
        for (const v of [...victims, archive, storage]) fs.rmSync(v, { recursive: true, force: true });
        for (const n of fs.readdirSync(outside)) fs.rmSync(path.join(outside, n), { recursive: true, force: true });
      }
    });
  }
});

test('benign quirks: devices and FIFOs are skipped with a note, modes are tamed, links kept as links', async (t) => {
  const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'dle-sample-quirks-'));
  t.after(() => fs.rmSync(sandbox, { recursive: true, force: true }));
  const archive = path.join(sandbox, 'quirks.tar.gz');
  const mtime = new Date('2021-02-03T04:05:06Z');
  await makeTarGz(archive, [
    { header: { name: './', type: 'directory', mode: 0o755 } },
    { header: { name: './root/', type: 'directory', mode: 0o777, mtime } },
    { header: { name: './root/ro/', type: 'directory', mode: 0o555, mtime } },
    { header: { name: './root/ro/suid', type: 'file', mode: 0o4777, mtime }, body: 'suid\n' },
    { header: { name: './root/wo', type: 'file', mode: 0o222, mtime }, body: 'write only\n' },
    { header: { name: './root/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 } },
    { header: { name: './root/wh', type: 'character-device', mode: 0o000, devmajor: 0, devminor: 0 } },
    { header: { name: './root/fifo', type: 'fifo', mode: 0o644 } },
    { header: { name: './root/abs-link', type: 'symlink', linkname: '/etc/shadow', mtime } },
    { header: { name: './root/up-link', type: 'symlink', linkname: '../../../../etc/passwd', mtime } },
    { header: { name: './root/hard', type: 'link', linkname: 'root/ro/suid' } },
  ]);
  const notes: string[] = [];
  const storage = path.join(sandbox, 'storage');
  const dataRoot = await ensureSampleRoot(archive, storage, { onNote: (m) => notes.push(m) });
  assert.equal(notes.length, 3, notes.join('\n'));
  assert.ok(notes.some((n) => n.includes('root/null')) && notes.some((n) => n.includes('root/fifo')));
  assert.deepEqual(listTree(dataRoot), ['abs-link', 'hard', 'ro', 'ro/suid', 'up-link', 'wo']);
  const mode = (p: string) => fs.lstatSync(path.join(dataRoot, p)).mode & 0o7777;
  assert.equal(fs.lstatSync(dataRoot).mode & 0o7777, 0o755, 'folder 0777 -> 0755');
  assert.equal(mode('ro'), 0o755, 'folder 0555 -> owner-writable 0755');
  assert.equal(mode('ro/suid'), 0o755, 'file 04777 -> 0755');
  assert.equal(mode('wo'), 0o600, 'file 0222 -> owner read/write only');
  assert.equal(fs.readlinkSync(path.join(dataRoot, 'abs-link')), '/etc/shadow');
  assert.equal(fs.readlinkSync(path.join(dataRoot, 'up-link')), '../../../../etc/passwd');
  assert.equal(fs.statSync(path.join(dataRoot, 'hard')).ino, fs.statSync(path.join(dataRoot, 'ro', 'suid')).ino);
  assert.equal(fs.lstatSync(path.join(dataRoot, 'ro', 'suid')).mtimeMs, mtime.getTime(), 'file mtime kept');
  assert.equal(fs.lstatSync(path.join(dataRoot, 'ro')).mtimeMs, mtime.getTime(), 'folder mtime kept');
  assert.equal(fs.lstatSync(path.join(dataRoot, 'abs-link')).mtimeMs, mtime.getTime(), 'symlink mtime kept');
  // Two calls at once share one extraction; nothing but the final folder remains.
  const storage2 = path.join(sandbox, 'storage2');
  const [a, b] = await Promise.all([ensureSampleRoot(archive, storage2), ensureSampleRoot(archive, storage2)]);
  assert.equal(a, b);
  assert.deepEqual(fs.readdirSync(storage2), [path.basename(path.dirname(a))]);
  // An archive without root/ is refused, and leaves nothing.
  const bare = path.join(sandbox, 'bare.tar.gz');
  await makeTarGz(bare, [file('other.txt')]);
  await assert.rejects(ensureSampleRoot(bare, path.join(sandbox, 'storage3')), /no root\/ folder/);
  assert.deepEqual(fs.readdirSync(path.join(sandbox, 'storage3')), []);
  // Not a gzip at all.
  const junk = path.join(sandbox, 'junk.tar.gz');
  fs.writeFileSync(junk, 'not an archive');
  await assert.rejects(ensureSampleRoot(junk, path.join(sandbox, 'storage4')));
  assert.deepEqual(fs.readdirSync(path.join(sandbox, 'storage4')), []);
});

test('runCli is usable on the sample for every command', async () => {
  for (const args of [['images'], ['layers', 'sample/app:1.0'], ['json', 'sample/app:1.0@0'], ['diff', 'sample/app:1.0'], ['files', 'sample/app:1.0@0'], ['containers']]) {
    const r = await runCli(['--root', root, ...args]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stdout.length > 0, args.join(' '));
  }
});
