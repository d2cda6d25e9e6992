/**
 * dive's efficiency inside a real VS Code, on the project's real overlay2 root:
 * the Images tree's image rows show the core's figures once the background has
 * them, and Show Wasted Space opens the Wasted Space view on dle/waste:1 with
 * /waste/big, whose copies open as of their steps and whose versions open in
 * Show Path History.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { imageEfficiency, scoreText, type ImageEfficiency } from '../../src/core/efficiency';
import { countOf, humanSize } from '../../src/core/format';
import type { Image } from '../../src/core/model';
import type { Store } from '../../src/core/store';
import type { WastedNode } from '../../src/efficiencyTreeProvider';
import type { ExtensionApi } from '../../src/extension';
import type { PathHistoryResult } from '../../src/pathHistoryCommands';
import { mergedFileUri } from '../../src/layerUri';
import { label, onOverlay2, waitFor } from './extensionApi';
import { before, suite, test } from './harness';

function imageTagged(store: Store, tag: string): Image {
  const image = store.images.find((i) => i.tags.includes(tag));
  assert.ok(image, `${tag} is in the store`);
  return image;
}

suite('Efficiency', () => {
  let a: ExtensionApi;
  let store: Store;

  before(async () => {
    ({ a, store } = await onOverlay2());
  });

  test("image rows show the core's score and wasted bytes, computed in the background", async () => {
    for (const tag of ['dle/waste:1', 'dle/app:1']) {
      const image = imageTagged(store, tag);
      const node = { kind: 'image', image } as const;
      // Asking for the row (synchronous: it never waits) queues the image for the background.
      a.imagesTree.getTreeItem(node);
      await waitFor(`${tag}'s efficiency computed in the background`, async () => a.efficiency.cache.peek(store, image)?.kind === 'ready', 15_000);
      const expected: ImageEfficiency = await imageEfficiency(store, image);
      const item = a.imagesTree.getTreeItem(node);
      const description = String(item.description);
      assert.ok(description.includes(`${scoreText(expected.score)} efficient`), `${tag}: ${description}`);
      assert.ok(description.includes(`${humanSize(expected.wastedBytes)} wasted`), `${tag}: ${description}`);
      const tooltip = (item.tooltip as vscode.MarkdownString).value;
      assert.ok(tooltip.includes(`(${expected.wastedBytes} bytes) in ${countOf(expected.offenders.length, 'file')}`), tooltip);
    }
  });

  test('Show Wasted Space opens the report of dle/waste:1 and lists /waste/big first, with its three copies', async () => {
    const image = imageTagged(store, 'dle/waste:1');
    const expected = await imageEfficiency(store, image);
    const result = await vscode.commands.executeCommand<ImageEfficiency | undefined>('dockerLayers.showWastedSpace', { kind: 'image', image });
    assert.ok(result, 'the command returned the figures');
    assert.equal(result.wastedBytes, 150_000);
    assert.deepEqual({ score: result.score, wasted: result.wastedBytes, offenders: result.offenders.length }, { score: expected.score, wasted: expected.wastedBytes, offenders: expected.offenders.length });

    // The view is shown (focused by the command) with the summary and the offenders, biggest first.
    await waitFor('the Wasted Space view becomes visible', async () => a.efficiency.wastedSpaceView.visible, 5_000);
    const rows = a.efficiency.wastedSpace.getChildren();
    const items = rows.map((n) => a.efficiency.wastedSpace.getTreeItem(n));
    assert.equal(label(items[0]), `dle/waste:1: ${scoreText(expected.score)} efficient`);
    assert.match(String(items[0].description), /^150kB wasted · /);
    assert.equal(label(items[1]), '/waste/big');
    assert.equal(items[1].description, '150kB · 3 copies');

    // Its copies: 100,000 B, 50,000 B, then the whiteout, each in its step.
    const big = rows[1] as Extract<WastedNode, { kind: 'offender' }>;
    const copies = a.efficiency.wastedSpace.getChildren(big).map((n) => ({ node: n as Extract<WastedNode, { kind: 'copy' }>, item: a.efficiency.wastedSpace.getTreeItem(n) }));
    const steps = [/head -c 100000/, /head -c 50000/, /rm \/waste\/big/].map((re) => image.steps.findIndex((s) => re.test(s.createdBy)));
    assert.deepEqual(copies.map((c) => label(c.item)), steps.map((s) => `step ${s}`));
    assert.deepEqual(copies.map((c) => c.node.size), [100_000, 50_000, 0]);
    assert.match(String(copies[2].item.description), /^deleted · /);
    assert.equal(copies[2].item.command, undefined, 'a deletion has no content to open');

    // A copy opens that version, read-only, as of its step.
    const open = copies[1].item.command!;
    assert.equal(open.command, 'vscode.open');
    const uri = open.arguments![0] as vscode.Uri;
    assert.equal(uri.toString(), mergedFileUri(image, steps[1], '/waste/big').toString());
    assert.equal((await vscode.workspace.fs.readFile(uri)).length, 50_000);
    await vscode.commands.executeCommand(open.command, ...open.arguments!);

    // The file opens its versions (Show Path History), here the first two compared.
    const history = items[1].command!;
    assert.equal(history.command, 'dockerLayers.showPathHistory');
    const shown = await vscode.commands.executeCommand<PathHistoryResult | undefined>(history.command, ...history.arguments!, { steps: [steps[0], steps[1]] });
    assert.ok(shown, 'Show Path History ran');
    assert.deepEqual(shown.versions.map((v) => v.step), steps);
    assert.deepEqual(shown.shown, [steps[0], steps[1]]);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
