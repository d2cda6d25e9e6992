/**
 * The hostile cases made for another user (`user` in the manifest: uid 65534,
 * an unreadable file, folder and image config), in a host that runs as that
 * user: `node scripts/testIntegration.mjs --user nobody` (as root; `npm test`
 * does this). Root reads everything whatever its mode, so in the root host they
 * are skipped. The host cannot read the whole root, so the read-only check is
 * taken by scripts/testIntegration.mjs, as root, before this host starts and
 * after it stops (rootSideFingerprints).
 *
 * Checked as a person sees it: the tree shows the images and their steps; the
 * unreadable config is named, with "permission denied", on its image; the
 * unreadable folder in Layer Files, the rest of the layer listed; the unreadable
 * file, opened in place, fails with a message naming it, in the editor and
 * from the file system; the Layer JSON editor of the image whose config cannot
 * be read says so (not a blank view); no unhandled rejection.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Image, Layer } from '../../src/core/model';
import type { Store } from '../../src/core/store';
import type { ExtensionApi } from '../../src/extension';
import type { TreeNode } from '../../src/imagesTreeProvider';
import type { FileNode, Load } from '../../src/layerFilesItems';
import { jsonDocUri, layerFileUri } from '../../src/layerUri';
import type { RenderReport } from '../../src/webview/protocol';
import { names, type HostileCase } from '../unit/support/hostile';
import { api, children, label, readHostileManifest, rootSideFingerprints, tooltipText, useRoots, waitFor, watchUnhandled } from './extensionApi';
import { after, before, suite, test } from './harness';
import { hasPage, inWebviews, inWorkbench } from './page';

const manifest = readHostileManifest();
const DENIED = 'permission denied';

/** Every row of the Images tree with its text (label, description, tooltip), depth first. */
async function rows(a: ExtensionApi, node?: TreeNode): Promise<{ node: TreeNode; text: string }[]> {
  const out: { node: TreeNode; text: string }[] = [];
  for (const child of await children(a, node)) {
    const item = a.imagesTree.getTreeItem(child);
    out.push({ node: child, text: `${label(item)} ${String(item.description ?? '')} ${tooltipText(item).replace(/\\(.)/g, '$1')}` }, ...(await rows(a, child)));
  }
  return out;
}

/** The text people see in the editor area and the notifications (an editor's error placeholder is drawn there). */
const editorText = () => inWorkbench(() => ['.part.editor', '.notifications-toasts'].map((s) => (document.querySelector(s) as HTMLElement | null)?.innerText ?? '').join('\n'));

/** Opens the Layer JSON editor as the image row's command does; resolves with what the view drew. */
async function openImageJson(a: ExtensionApi, image: Image): Promise<RenderReport> {
  const uri = jsonDocUri(image, image.steps.length - 1).toString();
  const drawn = new Promise<RenderReport>((resolve) => {
    const sub = a.layerJsonEditor.onDidRender((e) => {
      if (e.uri !== uri) return;
      sub.dispose();
      resolve(e.report);
    });
  });
  await vscode.commands.executeCommand('dockerLayers.openLayerJson', { kind: 'image', image } satisfies TreeNode);
  return waitFor(`the Layer JSON editor of ${image.tags[0] ?? image.id}`, () => Promise.race([drawn, new Promise<undefined>((r) => setTimeout(r, 200))]), 30_000);
}

/** The case's damaged items: the file, the folder (inside the layer: `/name`) and the image config (its hex id). */
function damagedItems(c: HostileCase): { file: string; dir: string; config: string } {
  const [file, dir, config] = c.damaged.map((d) => path.basename(d));
  return { file: `/${file}`, dir: `/${dir}`, config };
}

/** The case's root as the only root, and its step (`IMAGE@N` of its command) with that step's layer. */
async function caseRoot(a: ExtensionApi, c: HostileCase): Promise<{ store: Store; image: Image; stepIndex: number; layer: Layer }> {
  assert.ok(rootSideFingerprints.has(c.root), `${c.root} is fingerprinted as root before and after this host (run it with scripts/testIntegration.mjs --user, as root)`);
  const store = await useRoots(a, [c.root]);
  assert.ok(!store.roots[0].error, `the root itself is readable: ${store.roots[0].error?.message}`);
  const [ref, at] = c.command[1].split('@');
  const image = store.images.find((i) => i.tags.includes(ref));
  assert.ok(image, `${ref} is listed`);
  const stepIndex = Number(at);
  const layer = store.layer(image.steps[stepIndex].layerKey);
  assert.ok(layer, `${c.command[1]} has a layer`);
  return { store, image, stepIndex, layer };
}

suite('Unreadable items (a host run as the case user)', () => {
  let a: ExtensionApi;
  let watch: { stop(): string[] };

  before(async () => {
    a = await api();
    watch = watchUnhandled();
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await useRoots(a, undefined);
    assert.deepEqual(watch.stop(), [], 'no unhandled rejection or uncaught error');
  });

  if (typeof manifest === 'string') {
    test.skip(manifest, () => undefined);
    return;
  }

  for (const c of manifest.cases.filter((x) => x.user)) {
    const options = { skip: process.getuid?.() !== c.user?.uid, timeout: 60_000 };
    const { file, dir, config } = damagedItems(c);

    test(`${c.name}: the tree and Layer Files name each unreadable item, and list the rest`, async () => {
      const { image, stepIndex } = await caseRoot(a, c);
      // The tree: every image of the case, each with its steps; the unreadable config named on its row.
      const tree = await rows(a);
      for (const ref of c.images) {
        const row = tree.find((r) => r.node.kind === 'image' && r.node.image.tags.includes(ref));
        assert.ok(row?.node.kind === 'image', `${ref} is in the tree`);
        const steps = await children(a, row.node);
        assert.equal(steps.length, row.node.image.steps.length, `${ref}: its ${row.node.image.steps.length} steps are listed`);
        assert.ok(steps.every((s) => s.kind === 'step'));
      }
      const configRow = tree.find((r) => names(r.text, config) && r.text.includes(DENIED));
      assert.ok(configRow, `a row names the config ${config} with "${DENIED}":\n${tree.map((r) => r.text.slice(0, 160)).join('\n')}`);
      console.log(`    ${c.name}: ${configRow.text.replace(/\s+/g, ' ').slice(0, 200)}`);

      // Layer Files: the unreadable folder named with its cause; every entry listed, the unreadable ones too.
      const load = await listed(a, image, stepIndex);
      assert.equal(load.error, undefined, 'the listing completes');
      const missing = ['/data', '/data/passwd-link', '/data/shadow-link', dir, file].filter((p) => !load.listing?.tree.get(p));
      assert.deepEqual(missing, [], 'every entry of the layer is listed');
      assert.ok(load.problems.some((p) => p.includes(dir) && p.includes(DENIED)), `a problem names ${dir} with "${DENIED}": ${load.problems.join(' | ')}`);
      // (overlay2 adds one: the opaque xattrs only root can read.)
      assert.match(a.layerFiles.view?.message ?? '', /\d items? could not be read/);
    }, options);

    test(`${c.name}: the unreadable file opened in place says why`, async () => {
      const { image, stepIndex, layer } = await caseRoot(a, c);
      const load = await listed(a, image, stepIndex);
      const entry = load.listing!.tree.get(file)!;
      const node: FileNode = { kind: 'file', gen: load.gen, entry, path: file, type: entry.type, layerKey: layer.key, imageKey: image.key };
      await vscode.commands.executeCommand('dockerLayers.openLayerFile', node);
      await assert.rejects(Promise.resolve(vscode.workspace.fs.readFile(layerFileUri(layer, file))), (err: unknown) => {
        assert.ok(err instanceof vscode.FileSystemError, `a FileSystemError, not ${String(err)}`);
        assert.equal(err.code, 'NoPermissions', err.message);
        assert.ok(err.message.includes(file) && err.message.includes(DENIED), err.message);
        return true;
      });
      if (hasPage) {
        // What people see: the editor area or a notification names the file and the cause.
        let last = '';
        await waitFor('the cause on screen', async () => {
          last = await editorText();
          return last.includes(DENIED) && last.includes(file);
        }).catch((err: Error) => assert.fail(`${err.message}; the editor area and notifications show: ${last.replace(/\s+/g, ' ').slice(0, 400)}`));
      }
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    }, options);

    test(`${c.name}: the Layer JSON editor of the image whose config is unreadable says why`, async () => {
      const { store } = await caseRoot(a, c);
      const unreadable = store.images.find((i) => names(i.id, config));
      assert.ok(unreadable, `the image ${config} is listed, with its problem`);
      const report = await openImageJson(a, unreadable);
      assert.equal(report.state, 'error', 'an error state, not a blank view');
      assert.ok(report.error?.includes(DENIED) && names(report.error, config), `it names ${config} with "${DENIED}": ${report.error}`);
      if (hasPage) {
        const [view] = await waitFor('the editor webview', async () => {
          const frames = await inWebviews(() => document.body.innerText);
          return frames.length === 1 && frames[0].includes(DENIED) ? frames : undefined;
        });
        console.log(`    ${c.name}: the Layer JSON editor says: ${view.replace(/\s+/g, ' ').slice(0, 200)}`);
      }
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    }, options);
  }
});

/** The step's layer listed in the Layer Files view (its listing is what the view's rows are made of). */
async function listed(a: ExtensionApi, image: Image, stepIndex: number): Promise<Load> {
  await a.layerFiles.show({ kind: 'step', image, stepIndex });
  await a.layerFiles.idle();
  return a.layerFiles.load!;
}
