// The README's pictures, taken from the real product: the packaged extension
// in code-server. Run: npm run build && npm run package && node
// scripts/screenshots.mjs [NAME…] (default: all). Names: tree, layer-json, compare,
// layer-files (on the shipped sample root); comparison, wasted-space, find-path,
// find-content, path-history, archive (on the project's own overlay2 root,
// .cache/extracted/overlay2/root, which test/fixtures/makeRoots.sh makes when run
// as root: these shots need it, and stop with a message when it is missing).
// Look at each picture before committing it.
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { REPO, removeOnExit } from './vscodeHost.mjs';
import { withWorkbench } from './screenshot.mjs';

const require = createRequire(import.meta.url);
const { ensureSampleRoot } = require(path.join(REPO, 'dist-test', 'sampleRoot.js'));
const out = (name) => path.join(REPO, 'docs', 'images', name);

/** Drags the side bar's edge so it is `width` pixels wide: sizes and ages are not cut off. */
async function widenSideBar(page, width) {
  const bar = await page.locator('.part.sidebar').boundingBox();
  if (!bar) return;
  const y = bar.y + bar.height / 2;
  await page.mouse.move(bar.x + bar.width, y);
  await page.mouse.down();
  await page.mouse.move(bar.x + width, y, { steps: 8 });
  await page.mouse.up();
}

/** Drags the sash below the `index`th pane of the side bar by `dy` pixels (negative: up), to give the pane below it room. */
async function dragPaneSash(page, index, dy) {
  const sash = await page.locator('.part.sidebar .sash-container .monaco-sash.horizontal').nth(index).boundingBox();
  if (!sash) return;
  const x = sash.x + sash.width / 2;
  const y = sash.y + sash.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x, y + dy, { steps: 8 });
  await page.mouse.up();
}

const wanted = process.argv.slice(2);
const want = (name) => wanted.length === 0 || wanted.includes(name);

// The sample root is unpacked into a folder of this run, removed when it ends (however it ends).
const unpacked = mkdtempSync(path.join(os.tmpdir(), 'dle-shots-'));
removeOnExit(unpacked);
const sample = await ensureSampleRoot(path.join(REPO, 'media', 'sample-root.tar.gz'), unpacked);
/** The user settings of the shots on the shipped sample root. */
const sampleSettings = { 'dockerLayers.roots': [sample], 'workbench.colorTheme': 'Default Dark Modern' };

/** Opens the Docker Layers view container from the activity bar. */
async function showDockerLayers(page) {
  await page.click('.part.activitybar .action-label[aria-label="Docker Layers"]', { timeout: 30_000 });
}

if (want('tree')) await withWorkbench({ settings: sampleSettings }, async (page) => {
  await showDockerLayers(page);
  await widenSideBar(page, 720);
  const rows = page.locator('.part.sidebar .monaco-list-row');
  await rows.filter({ hasText: 'sample/app:1.0' }).first().waitFor({ timeout: 30_000 });
  await rows.filter({ hasText: 'sample/app:1.0' }).first().click();
  await rows.filter({ hasText: 'COPY' }).first().waitFor();
  await page.locator('.part.sidebar .monaco-list-row[aria-label^="Containers"]').click();
  await rows.filter({ hasText: 'sample-ctr' }).first().waitFor();
  // Hover a RUN-less metadata step so the tooltip with the full command shows.
  await rows.filter({ hasText: 'LABEL' }).last().hover();
  await page.waitForTimeout(1500);
  await shoot(page, 'tree');
});

// The Layer JSON editor: the LABEL step of sample/app:1.0, its changes from the ENV step below
// highlighted (only changes shown), the second change focused. A click on the step row opens it.
if (want('layer-json')) await withWorkbench({ settings: sampleSettings }, async (page) => {
  await showDockerLayers(page);
  const rows = page.locator('.part.sidebar .monaco-list-row');
  await rows.filter({ hasText: 'sample/app:1.0' }).first().waitFor({ timeout: 30_000 });
  await rows.filter({ hasText: 'sample/app:1.0' }).first().click();
  await rows.filter({ hasText: 'LABEL org.example' }).first().click();
  const frame = await webviewFrame(page, 'docker-layer-explorer');
  await frame.waitForSelector('body[data-rendered="document"]', { timeout: 30_000 });
  // Only the changed lines (unchanged runs folded), then the second change with Next Change.
  await frame.locator('button[aria-label="Show only changes"]').click();
  const next = frame.locator('button[aria-label="Next change"]');
  await next.click();
  await next.click();
  await frame.waitForSelector('.row.current');
  await page.mouse.move(0, 0);
  await page.waitForTimeout(600);
  await shoot(page, 'layer-json');
});

/** The inner frame of the visible webview of an extension (code-server: pre/index.html > pre/fake.html). */
async function webviewFrame(page, extension, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const frame = page.frames().find((f) => /pre\/fake\.html/.test(f.url())
      && /pre\/index\.html/.test(f.parentFrame()?.url() ?? '') && f.parentFrame().url().includes(`extensionId=${extension}`));
    if (frame) return frame;
    await page.waitForTimeout(100);
  }
  throw new Error(`no webview of ${extension} appeared within ${timeout} ms`);
}

// Compare with Parent on a LABEL step: the native diff editor over two read-only
// docker-layer: documents (sorted keys, so only what the step changed differs).
if (want('compare')) await withWorkbench({ settings: sampleSettings }, async (page) => {
  await showDockerLayers(page);
  const rows = page.locator('.part.sidebar .monaco-list-row');
  await rows.filter({ hasText: 'sample/app:1.0' }).first().waitFor({ timeout: 30_000 });
  await rows.filter({ hasText: 'sample/app:1.0' }).first().click();
  const step = rows.filter({ hasText: 'LABEL org.example.note' }).first();
  await step.waitFor();
  await step.hover();
  await step.locator('.action-label[aria-label="Compare with Parent"]').click();
  await page.waitForSelector('.monaco-diff-editor .line-insert', { timeout: 30_000 });
  await page.mouse.move(5, 5); // no hover highlight or tooltip over the picture
  await page.waitForTimeout(1000);
  await shoot(page, 'compare');
});

// The Layer Files view: sample/base:1's whiteout step ("ADD changes.tar", aufs whiteouts) listed
// with its badges (A added, M modified, D deleted) under the Images view. A click on the step
// selects it (the files follow the selection) and opens its JSON, which the picture leaves out.
if (want('layer-files')) await withWorkbench({ settings: sampleSettings }, async (page) => {
  await showDockerLayers(page);
  await widenSideBar(page, 880);
  const rows = page.locator('.part.sidebar .monaco-list-row');
  await rows.filter({ hasText: 'sample/base:1' }).first().waitFor({ timeout: 30_000 });
  await dragPaneSash(page, 0, -280); // the Layer Files view gets the room the Images rows leave empty
  await rows.filter({ hasText: 'sample/base:1' }).first().click();
  const step = rows.filter({ hasText: 'ADD changes.tar' }).first();
  await step.waitFor();
  await step.click();
  // The listing opens its folders (a small layer); decorations come 5-100 ms after the rows.
  await rows.filter({ hasText: 'c.conf' }).first().waitFor({ timeout: 30_000 });
  await page.waitForTimeout(600);
  const side = await page.locator('.part.sidebar').boundingBox();
  await page.mouse.move(side ? side.x + 300 : 300, 320); // an empty part of the Images view: no hover highlight, no tooltip
  await page.waitForTimeout(400);
  await shoot(page, 'layer-files', await sideBarClip(page));
});

// The shots below read the project's own overlay2 root (images whose differences and waste are
// known by construction: test/fixtures/images), made by test/fixtures/makeRoots.sh as root.
const OVERLAY2 = path.join(REPO, '.cache', 'extracted', 'overlay2', 'root');
const overlay2Settings = (more = {}) => {
  if (!existsSync(path.join(OVERLAY2, 'image', 'overlay2'))) {
    throw new Error(`${OVERLAY2} is missing: run test/fixtures/makeRoots.sh (as root) first`);
  }
  return { 'dockerLayers.roots': [OVERLAY2], 'workbench.colorTheme': 'Default Dark Modern', ...more };
};

const QUICK_INPUT = '.quick-input-widget .quick-input-box input';

/** The view pane of the side bar whose header says `name` (Images, Layer Files, Comparison, Wasted Space). */
const pane = (page, name) => page.locator('.part.sidebar .pane').filter({ has: page.locator('.pane-header h3.title', { hasText: new RegExp(`^${name}`, 'i') }) });

/** Collapses a view pane of the side bar (a click on its header), when it is expanded. */
async function collapsePane(page, name) {
  const header = pane(page, name).locator('.pane-header').first();
  if ((await header.getAttribute('aria-expanded')) === 'true') await header.click();
}

/** Runs a command from the palette by its full title ("Docker Layers: …"). */
async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator(QUICK_INPUT);
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
}

/** Right-clicks `row` and chooses `item` in its context menu. */
async function contextMenu(page, row, item) {
  await row.click({ button: 'right' });
  const entry = page.getByRole('menuitem', { name: item });
  await entry.waitFor({ timeout: 15_000 });
  await entry.click();
}

/** Waits until no notification toast (a progress that has ended lingers a moment) is shown. */
async function noToasts(page) {
  await page.waitForFunction(() => document.querySelectorAll('.notifications-toasts .notification-toast-container').length === 0, null, { timeout: 30_000 }).catch(() => {});
}

/** The activity bar and the side bar only. */
async function sideBarClip(page) {
  const side = await page.locator('.part.sidebar').boundingBox();
  return side ? { x: 0, y: side.y, width: Math.ceil(side.x + side.width + 1), height: 900 - side.y } : undefined;
}

/** The Quick Pick (or input box) and a margin of the workbench around it. */
async function quickInputClip(page) {
  const box = await page.locator('.quick-input-widget').boundingBox();
  if (!box) return undefined;
  const x = Math.max(0, Math.floor(box.x - 48));
  return { x, y: 0, width: Math.ceil(box.width + 96), height: Math.ceil(box.y + box.height + 48) };
}

/** Writes docs/images/<name>.png: the whole page, or `clip` of it. */
async function shoot(page, name, clip) {
  await page.screenshot({ path: out(`${name}.png`), clip });
  console.log(`wrote ${out(`${name}.png`)}`);
}

/** Once the overlay2 root is read (dle/waste:1 listed), closes the side bar: the Quick Pick is the picture; the tree behind it would be cut. */
async function paletteWithoutSideBar(page) {
  await showDockerLayers(page);
  await pane(page, 'Images').locator('.monaco-list-row', { hasText: 'dle/waste:1' }).first().waitFor({ timeout: 30_000 });
  await runCommand(page, 'View: Close Primary Side Bar');
}

/** The Quick Pick shot: the pointer moved off it (no hover highlight), then its clip. */
async function shootQuickInput(page, name) {
  await page.mouse.move(1300, 860);
  await page.waitForTimeout(1000);
  await shoot(page, name, await quickInputClip(page));
}

// Compare Image with… from dle/cmp:a's context menu, dle/cmp:b chosen in the Quick Pick: the
// Comparison view lists every path added, removed or changed with its badge and size delta, and a
// click on /cmp/file.txt opens it in the diff editor (same size, other bytes). Side by side even
// where the editor is under 900 px wide.
if (want('comparison')) await withWorkbench({ settings: overlay2Settings({ 'diffEditor.useInlineViewWhenSpaceIsLimited': false }) }, async (page) => {
  await showDockerLayers(page);
  await widenSideBar(page, 620);
  const images = pane(page, 'Images').locator('.monaco-list-row');
  const cmpA = images.filter({ hasText: 'dle/cmp:a' }).first();
  await cmpA.waitFor({ timeout: 30_000 });
  await collapsePane(page, 'Layer Files');
  await contextMenu(page, cmpA, 'Compare Image with…');
  await page.locator('.quick-input-title', { hasText: 'Compare dle/cmp:a with' }).waitFor({ timeout: 15_000 });
  await page.keyboard.type('dle/cmp:b');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'dle/cmp:b' }).first().waitFor();
  await page.keyboard.press('Enter');
  const rows = pane(page, 'Comparison').locator('.monaco-list-row');
  const file = rows.filter({ hasText: 'file.txt' }).first();
  await file.waitFor({ timeout: 60_000 });
  await page.waitForSelector('.monaco-diff-editor', { timeout: 30_000 });
  await collapsePane(page, 'Images'); // the Comparison view gets the side bar
  await page.waitForTimeout(500);
  await file.click();
  await page.locator('.tabs-container .tab', { hasText: 'file.txt' }).first().waitFor({ timeout: 30_000 });
  await page.waitForSelector('.monaco-diff-editor .char-insert, .monaco-diff-editor .line-insert', { timeout: 30_000 });
  await noToasts(page);
  await page.mouse.move(1100, 700); // the editor's empty part: no hover highlight or tooltip
  await page.waitForTimeout(1000);
  await shoot(page, 'comparison');
});

// Show Wasted Space on dle/waste:1 (its row in the Images tree has its score and wasted bytes,
// computed in the background): the Wasted Space view with the summary and /waste/big, opened on
// its three copies (100 kB, 50 kB, then the deletion).
if (want('wasted-space')) await withWorkbench({ settings: overlay2Settings() }, async (page) => {
  await showDockerLayers(page);
  await widenSideBar(page, 800);
  const images = pane(page, 'Images').locator('.monaco-list-row');
  const waste = images.filter({ hasText: 'dle/waste:1' }).first();
  await waste.waitFor({ timeout: 30_000 });
  await collapsePane(page, 'Layer Files');
  await images.filter({ hasText: /dle\/waste:1.*wasted/ }).first().waitFor({ timeout: 60_000 });
  await contextMenu(page, waste, 'Show Wasted Space');
  const rows = pane(page, 'Wasted Space').locator('.monaco-list-row');
  const big = rows.filter({ hasText: '/waste/big' }).first();
  await big.waitFor({ timeout: 60_000 });
  await big.locator('.monaco-tl-twistie').click(); // the row itself runs Show Path History
  await rows.filter({ hasText: 'rm /waste/big' }).first().waitFor();
  await noToasts(page);
  const side = await page.locator('.part.sidebar').boundingBox();
  await page.mouse.move(side ? side.x + side.width - 40 : 700, 880); // below the rows: no hover highlight, no tooltip
  await page.waitForTimeout(1000);
  await shoot(page, 'wasted-space', await sideBarClip(page));
});

/** Find Path in Images… from the palette, `text` typed; shot as `name` once the title matches `done` (the search has ended). */
const shootFindPick = (name, text, done) =>
  withWorkbench({ settings: overlay2Settings() }, async (page) => {
    await paletteWithoutSideBar(page);
    await runCommand(page, 'Docker Layers: Find Path in Images…');
    await page.locator('.quick-input-title', { hasText: 'Find Path in Images' }).waitFor({ timeout: 15_000 });
    await page.keyboard.type(text);
    await page.locator('.quick-input-title', { hasText: done }).waitFor({ timeout: 60_000 });
    await shootQuickInput(page, name);
  });

// Find Path in Images… from the palette, /data/keep.txt typed: its three hits (added by dle/base:1's
// COPY, modified by dle/app's RUN, and by the container dle-ctr), each with its images and step.
if (want('find-path')) await shootFindPick('find-path', '/data/keep.txt', /keep\.txt: 3 hits, .* searched/);

// Find Path in Images… by content: sha256 of dle/base:1's /data/keep.txt (its bytes from the fixture's own
// rootfs): every layer that carries exactly those bytes, whatever the path.
if (want('find-content')) {
  const digest = createHash('sha256').update(readFileSync(path.join(REPO, 'test', 'fixtures', 'images', 'base', 'rootfs', 'data', 'keep.txt'))).digest('hex');
  await shootFindPick('find-content', `sha256:${digest}`, /hits?, .* searched/);
}

// Show Path History… from the palette: dle/waste:1, then /waste/big: the Quick Pick of its three
// versions (added in step 5, rewritten in step 6, deleted in step 7), each with its command.
if (want('path-history')) await withWorkbench({ settings: overlay2Settings() }, async (page) => {
  await paletteWithoutSideBar(page);
  await runCommand(page, 'Docker Layers: Show Path History…');
  await page.locator('.quick-input-title', { hasText: 'Path History: which image?' }).waitFor({ timeout: 15_000 });
  await page.keyboard.type('dle/waste:1');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'dle/waste:1' }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-title', { hasText: 'Path History in dle/waste:1' }).waitFor({ timeout: 15_000 });
  await page.keyboard.type('/waste/big');
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-title', { hasText: 'History of /waste/big: 3 versions' }).waitFor({ timeout: 60_000 });
  await noToasts(page);
  await shootQuickInput(page, 'path-history');
});

// Open Image Archive… from the palette, the archive's path typed into the open dialog: dive's test
// image (a docker save tar) becomes a root of the Images tree, read in place. Its steps listed,
// the `mv` step selected: Layer Files shows the file it deletes (a .wh. entry) and the one it adds.
const DIVE_TAR = path.join(REPO, '..', 'shared', 'fixtures', 'archives', 'dive-test-docker-image.tar');
if (want('archive')) await withWorkbench({ settings: overlay2Settings() }, async (page) => {
  const dive = existsSync(DIVE_TAR);
  const archive = dive ? DIVE_TAR : path.join(REPO, '.cache', 'roots', 'save-docker20.tar');
  if (!existsSync(archive)) throw new Error(`${archive} is missing: run test/fixtures/makeRoots.sh (as root) first`);
  await showDockerLayers(page);
  await widenSideBar(page, 880);
  const images = pane(page, 'Images').locator('.monaco-list-row');
  await images.filter({ hasText: 'dle/waste:1' }).first().waitFor({ timeout: 30_000 });
  await runCommand(page, 'Docker Layers: Open Image Archive…');
  // The simple file dialog: its input holds a folder; the archive's path replaces it.
  const input = page.locator(QUICK_INPUT);
  await input.waitFor({ state: 'visible' });
  await page.waitForTimeout(500);
  await input.fill(archive);
  await page.waitForTimeout(800);
  await page.keyboard.press('Enter');
  const root = images.filter({ hasText: path.basename(archive) }).first();
  await root.waitFor({ timeout: 60_000 });
  // The overlay2 root folded away: the archive's rows are the picture.
  const first = images.filter({ hasText: OVERLAY2 }).first();
  if ((await first.getAttribute('aria-expanded')) === 'true') await first.locator('.monaco-tl-twistie').click();
  const tag = dive ? 'dive-test:latest' : 'dle/app:2';
  const image = images.filter({ hasText: tag }).first();
  await image.waitFor({ timeout: 30_000 });
  if ((await image.getAttribute('aria-expanded')) !== 'true') await image.locator('.monaco-tl-twistie').click();
  const step = images.filter({ hasText: dive ? 'mv /root/example/somefile3.txt' : 'echo two > /app/version.txt' }).first();
  await step.waitFor({ timeout: 30_000 });
  // The image row refreshes when its efficiency arrives, which can drop a selection made just before.
  await images.filter({ hasText: new RegExp(`${tag}.*wasted`) }).first().waitFor({ timeout: 60_000 });
  await page.waitForTimeout(800);
  const listed = pane(page, 'Layer Files').locator('.monaco-list-row', { hasText: dive ? 'somefile3.txt' : 'version.txt' }).first();
  for (let attempt = 0; ; attempt++) {
    await step.click();
    try {
      await listed.waitFor({ timeout: 10_000 });
      break;
    } catch (err) {
      if (attempt === 2) {
        await page.screenshot({ path: path.join(os.tmpdir(), 'dle-archive-failed.png') });
        throw err;
      }
    }
  }
  // The step's JSON opened beside (the Layer JSON picture shows that editor): closed, the side bar is the picture.
  await webviewFrame(page, 'docker-layer-explorer').then((frame) => frame.waitForSelector('body[data-rendered="document"]', { timeout: 30_000 }));
  await runCommand(page, 'View: Close All Editors');
  await noToasts(page);
  const side = await page.locator('.part.sidebar').boundingBox();
  await page.mouse.move(side ? side.x + side.width - 40 : 800, 570); // below the Images rows: no hover highlight, no tooltip
  await page.waitForTimeout(1000);
  await shoot(page, 'archive', await sideBarClip(page));
});
