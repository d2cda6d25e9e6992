/**
 * Layer sharing in the real host: each step's "shared with N images" in the
 * Images tree, against what `docker image inspect` of the daemon that made the
 * root says (two images share the layer at position k exactly when their first
 * k+1 diff ids agree), with and without intermediate images shown; and Show
 * Images Sharing This Layer: its Quick Pick, and the chosen image revealed and
 * selected in the tree.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Image } from '../../src/core/model';
import type { ExtensionApi } from '../../src/extension';
import type { TreeNode } from '../../src/imagesTreeProvider';
import { expectedOthers } from '../unit/support/sharingTruth';
import { api, children, sleep } from './extensionApi';
import { after, suite, test } from './harness';

const inputs: { overlay2?: string; dockerTruth?: { overlay2?: string } } = JSON.parse(process.env.DLE_TEST_ROOTS ?? '{}');
const COMMAND = 'dockerLayers.showImagesSharingLayer';
type ImageNode = Extract<TreeNode, { kind: 'image' }>;
type StepNode = Extract<TreeNode, { kind: 'step' }>;

async function useOverlay2(a: ExtensionApi, withIntermediate: boolean): Promise<ImageNode[]> {
  const root = inputs.overlay2;
  if (!root) throw new Error('the overlay2 project root was not made (run as root)');
  const config = vscode.workspace.getConfiguration('dockerLayers');
  await config.update('showIntermediateImages', withIntermediate, vscode.ConfigurationTarget.Global);
  await config.update('roots', [root], vscode.ConfigurationTarget.Global);
  await a.service.reload();
  const [rootNode] = await children(a);
  return (await children(a, rootNode)).filter((n): n is ImageNode => n.kind === 'image');
}

const sharedCount = (description: unknown) => Number(/shared with (\d+) images?$/.exec(String(description))?.[1] ?? 0);

/** Runs the command on a step and accepts the Quick Pick's first item once it shows. */
async function runAndAcceptFirst(node: StepNode): Promise<Image | undefined> {
  let settled = false;
  const result = Promise.resolve(vscode.commands.executeCommand<Image | undefined>(COMMAND, node)).finally(() => (settled = true));
  for (let waited = 0; !settled && waited < 10_000; waited += 200) {
    await sleep(200);
    if (!settled) await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
  }
  return result;
}

suite('Shared layers', () => {
  after(async () => {
    const config = vscode.workspace.getConfiguration('dockerLayers');
    await config.update('showIntermediateImages', undefined, vscode.ConfigurationTarget.Global);
    await config.update('roots', undefined, vscode.ConfigurationTarget.Global);
  });

  for (const withIntermediate of [false, true]) {
    test(`each step says how many ${withIntermediate ? 'images (intermediate ones shown)' : 'listed images'} share its layer, as docker image inspect implies`, async () => {
      const truth = inputs.dockerTruth?.overlay2;
      if (!truth) throw new Error('the overlay2 truth was not recorded');
      const a = await api();
      const images = await useOverlay2(a, withIntermediate);
      const expected = expectedOthers(truth, withIntermediate);
      assert.deepEqual(images.map((n) => n.image.id).sort(), [...expected.keys()].sort(), 'the tree lists the images in scope');
      let shared = 0;
      for (const node of images) {
        const others = expected.get(node.image.id)!;
        // The image's hover: how many of its layers it shares, and its shared and unique size.
        const hover = (a.imagesTree.getTreeItem(node).tooltip as vscode.MarkdownString).value;
        assert.ok(hover.includes(`(${others.filter((n) => n > 0).length} of ${others.length} layers)`), hover);
        assert.match(hover, /shared \S+ .* · unique \S+, as docker system df -v counts them/);
        const steps = (await children(a, node)) as StepNode[];
        const layerSteps = steps.filter((s) => !node.image.steps[s.stepIndex].empty);
        assert.equal(layerSteps.length, others.length, 'one layer step per diff id');
        layerSteps.forEach((s, k) => {
          const item = a.imagesTree.getTreeItem(s);
          assert.equal(sharedCount(item.description), others[k], `${node.image.tags[0] ?? node.image.id} step ${s.stepIndex}: "${item.description}"`);
          assert.equal(item.contextValue, others[k] > 0 ? 'layer.shared' : 'layer', 'the command is offered on shared layers only');
          if (others[k] > 0) shared++;
        });
      }
      assert.ok(shared > 0, 'some layers are shared');
    });
  }

  test('Show Images Sharing This Layer lists the other images and reveals the chosen one', async () => {
    const a = await api();
    const images = await useOverlay2(a, false);
    const base = images.find((n) => n.image.tags.includes('dle/base:1'));
    assert.ok(base, 'dle/base:1 is listed');
    const bottom = ((await children(a, base)) as StepNode[])[0];
    const layerKey = base.image.steps[bottom.stepIndex].layerKey!;
    const users = images.filter((n) => n.image.key !== base.image.key && n.image.layerKeys.includes(layerKey)).map((n) => n.image.key);
    assert.ok(users.length >= 5, 'every dle image is built FROM dle/base:1');
    assert.equal(sharedCount(a.imagesTree.getTreeItem(bottom).description), users.length);

    const revealed = await runAndAcceptFirst(bottom);
    assert.ok(revealed, 'an image was chosen');
    assert.ok(users.includes(revealed.key), `the chosen image ${revealed.tags[0]} uses the layer and is not dle/base:1`);
    for (let waited = 0; a.imagesView.selection[0]?.kind !== 'image' && waited < 5000; waited += 100) await sleep(100);
    const selected = a.imagesView.selection[0];
    assert.equal(selected?.kind, 'image', 'an image is selected in the tree');
    assert.equal((selected as ImageNode).image.key, revealed.key, 'the chosen image is the one selected');
  });

  test('on a layer no other image uses, the command says so and opens no picker', async () => {
    const a = await api();
    const images = await useOverlay2(a, false);
    const app2 = images.find((n) => n.image.tags.includes('dle/app:2'));
    assert.ok(app2, 'dle/app:2 is listed');
    const steps = (await children(a, app2)) as StepNode[];
    const own = steps.filter((s) => a.imagesTree.getTreeItem(s).contextValue === 'layer');
    assert.ok(own.length > 0, 'dle/app:2 has a layer of its own (its last RUN)');
    const started = Date.now();
    const result = await vscode.commands.executeCommand(COMMAND, own[own.length - 1]);
    assert.equal(result, undefined);
    assert.ok(Date.now() - started < 5000, 'it answers at once, without waiting on a picker');
  });
});
