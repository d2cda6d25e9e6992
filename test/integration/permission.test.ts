/**
 * Docker's root is readable by root only; most people run VS Code as
 * themselves. These tests need an extension host that gets EACCES on the
 * project's overlay2 root (made by dockerd: `drwx--x--- root root`, as
 * /var/lib/docker is). Root reads every folder whatever its mode, so they run
 * only in a host started as another user:
 *
 *   node scripts/testIntegration.mjs --user nobody --grep Permission
 *
 * (as root; `npm test` does this after the main run, with the hostile cases made
 * for that user: hostileUnreadable.test.ts). Then: the welcome view
 * explains the case and offers the ways out, its buttons work, and the CLI
 * says the same.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ensureSampleRoot } from '../../src/sampleRoot';
import { configuredRoots } from '../../src/settings';
import { EXTENSION_ID, api, children, escapeRegExp, label, testRoots, useRoots, waitFor } from './extensionApi';
import { after, before, suite, test } from './harness';
import { click, fill, hasPage, inWorkbench, press } from './page';

const unprivileged = process.getuid?.() !== 0;
const options = { skip: !unprivileged || !hasPage, timeout: 60_000 };
const SIDEBAR = '.part.sidebar';
const BUTTON = `${SIDEBAR} .welcome-view-content .monaco-button`;

const sidebarText = () => inWorkbench((sel) => document.querySelector(sel)?.textContent ?? '', SIDEBAR);

suite('Permission (unprivileged host)', () => {
  let rootOnly: string;
  const temp: string[] = [];

  before(async () => {
    if (!unprivileged) return;
    if (!testRoots.overlay2) throw new Error('the overlay2 project root was not made (run makeRoots.sh as root)');
    rootOnly = testRoots.overlay2;
  });

  after(async () => {
    if (!unprivileged) return;
    await useRoots(await api(), undefined);
    for (const dir of temp) rmSync(dir, { recursive: true, force: true });
  });

  /** Back to the one root-only root: the permission state, the welcome view showing. */
  async function permissionState(): Promise<void> {
    const a = await api();
    for (const r of a.service.roots) if (a.service.isSessionRoot(r)) a.service.removeSessionRoot(r);
    const store = await useRoots(a, [rootOnly]);
    assert.equal(store.roots[0].error?.code, 'permission-denied', `${rootOnly} cannot be read by uid ${process.getuid?.()}`);
    assert.equal(a.service.state, 'permission');
    await vscode.commands.executeCommand('workbench.view.extension.dockerLayers');
  }

  test('the welcome view says why, names the folder and offers the ways out', async () => {
    await permissionState();
    const a = await api();
    assert.deepEqual(await children(a), [], 'an empty tree, so the welcome view shows');
    assert.ok(!a.imagesView.message, 'no message: it would hide the welcome view');
    assert.equal(a.imagesView.description, `${rootOnly}: permission denied`);
    let last = '';
    const text = await waitFor('the welcome view', async () => {
      last = await sidebarText();
      return last.includes('Permission denied') ? last : undefined;
    }).catch((err: Error) => assert.fail(`${err.message}; the side bar says: ${last.slice(0, 1500)}`));
    const title = await inWorkbench((sel) => Array.from(document.querySelectorAll(sel)).map((e) => e.textContent ?? '').join('\n'), `${SIDEBAR} .pane-header`);
    assert.ok(title.includes(`${rootOnly}: permission denied`), `the view's title names the folder: ${title}`);
    assert.match(text, /readable by root only, and VS Code runs as another user/);
    assert.match(text, /run VS Code, or its remote server, as a user who can read the root/);
    assert.match(text, /copy the root somewhere you can read and choose the copy/);
    const buttons = await inWorkbench((sel) => Array.from(document.querySelectorAll(sel)).map((b) => b.textContent?.trim() ?? ''), BUTTON);
    assert.deepEqual(buttons, ['Choose Folder…', 'Open Sample Root']);
  }, options);

  test('Open Sample Root in the welcome view shows the sample', async () => {
    await permissionState();
    const a = await api();
    await waitFor('the welcome buttons', async () => (await sidebarText()).includes('Open Sample Root'));
    const loaded = new Promise<void>((resolve) => {
      const sub = a.service.onDidChange((s) => {
        if (s.roots.some((r) => !r.error)) {
          sub.dispose();
          resolve();
        }
      });
    });
    await click(BUTTON, 'Open Sample Root');
    await loaded;
    assert.equal(a.service.state, 'ok');
    const rows = await waitFor('the sample images in the tree', async () => {
      const t = await sidebarText();
      return t.includes('sample/app') ? t : undefined;
    });
    assert.ok(!rows.includes('Permission denied:'), 'the welcome view is gone');
    const roots = (await children(a)).map((n) => label(a.imagesTree.getTreeItem(n)));
    assert.ok(roots.includes(path.resolve(rootOnly)), 'the unreadable root is still listed, with its error');
  }, options);

  test('Choose Folder… in the welcome view takes a copy the user can read', async () => {
    await permissionState();
    const a = await api();
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dle-copy-'));
    temp.push(dir);
    const copy = await ensureSampleRoot(path.join(ext.extensionPath, 'media', 'sample-root.tar.gz'), dir);
    await waitFor('the welcome buttons', async () => (await sidebarText()).includes('Choose Folder'));
    await click(BUTTON, 'Choose Folder');
    // code-server's own folder dialog: a quick input holding a path.
    const INPUT = '.quick-input-widget .quick-input-box input';
    await waitFor('the folder dialog', () => inWorkbench((sel) => Boolean(document.querySelector(sel)), INPUT));
    await fill(INPUT, `${copy}/`);
    // Enter on a typed folder opens it in the dialog; Enter again takes it ("Read This Root").
    const dialog = () => inWorkbench((sel) => {
      const widget = document.querySelector('.quick-input-widget') as HTMLElement | null;
      return `${widget?.style.display ?? ''} ${(document.querySelector(sel) as HTMLInputElement | null)?.value ?? ''} ${widget?.textContent ?? ''}`.slice(0, 400);
    }, INPUT);
    const seen: string[] = [];
    for (let i = 0; i < 3 && !configuredRoots().includes(copy); i++) {
      seen.push(await dialog());
      await press('Enter');
      await waitFor('the chosen folder in settings', async () => configuredRoots().includes(copy), 3000).catch(() => undefined);
    }
    assert.deepEqual(configuredRoots(), [rootOnly, copy], `the copy is added to the user settings; the dialog said: ${seen.join(' | ')}`);
    const store = await waitFor('the copy read', async () => {
      const s = a.service.current();
      return s?.roots.some((r) => r.root === path.resolve(copy) && !r.error) ? s : undefined;
    });
    assert.ok(store.images.length > 0, 'its images are listed');
    assert.equal(a.service.state, 'ok');
  }, options);

  test('the CLI explains the same and exits 2', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const r = spawnSync(process.execPath, [path.join(ext.extensionPath, 'dist', 'cli.js'), '--root', rootOnly, 'images'], {
      encoding: 'utf8',
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      timeout: 20_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`${escapeRegExp(rootOnly)}: permission denied \\(running as \\S+ \\(uid ${process.getuid?.()}\\)\\)`));
    assert.match(r.stderr, /readable by root only/);
    assert.match(r.stderr, /sudo docker-layers/);
    assert.match(r.stderr, /copy the root somewhere you can read and pass --root DIR/);
  }, options);
});
