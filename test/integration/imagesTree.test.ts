/**
 * The Images tree inside a real VS Code, on the project's own real roots,
 * against what the Docker daemon that made them answered.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { humanSize, shortStep, truncate } from '../../src/core/format';
import type { ExtensionApi } from '../../src/extension';
import type { TreeNode } from '../../src/imagesTreeProvider';
import { sleep } from './extensionApi';
import { after, suite, test } from './harness';

interface TestRoots {
  overlay2?: string;
  vfs?: string;
  containerd?: string;
  legacy?: string;
  truth?: Record<string, string>;
}

const roots: TestRoots = JSON.parse(process.env.DLE_TEST_ROOTS ?? '{}');
const EXTENSION_ID = 'docker-layer-explorer.docker-layer-explorer';

async function api(): Promise<ExtensionApi> {
  const ext = vscode.extensions.getExtension<ExtensionApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  return ext.activate();
}

/** Sets the roots in user settings and waits for the store to load exactly them. */
async function useRoots(a: ExtensionApi, list: string[], intermediate = true): Promise<void> {
  const config = vscode.workspace.getConfiguration('dockerLayers');
  await config.update('showIntermediateImages', intermediate, vscode.ConfigurationTarget.Global);
  await config.update('roots', list, vscode.ConfigurationTarget.Global);
  const store = await a.service.reload();
  assert.deepEqual(
    store.roots.map((r) => r.root),
    list.map((r) => path.resolve(r)),
  );
}


async function children(a: ExtensionApi, node?: TreeNode): Promise<TreeNode[]> {
  return (await a.imagesTree.getChildren(node)) ?? [];
}

const label = (item: vscode.TreeItem) => (typeof item.label === 'string' ? item.label : item.label?.label ?? '');

const jsonl = <T>(file: string): T[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);

suite('Images tree', () => {
  after(async () => {
    await vscode.workspace.getConfiguration('dockerLayers').update('roots', undefined, vscode.ConfigurationTarget.Global);
  });

  for (const name of ['overlay2', 'vfs'] as const) {
    test(`${name} root: images, tags and every history step equal the daemon's answers`, async () => {
      const root = roots[name];
      const truth = roots.truth?.[name];
      if (!root || !truth) throw new Error(`the ${name} project root was not made (run as root)`);
      const a = await api();
      await useRoots(a, [root]);
      const top = await children(a);
      assert.equal(top.length, 1);
      const rootItem = a.imagesTree.getTreeItem(top[0]);
      assert.equal(label(rootItem), path.resolve(root));
      const nodes = await children(a, top[0]);
      const imageNodes = nodes.filter((n): n is Extract<TreeNode, { kind: 'image' }> => n.kind === 'image');

      const ls = jsonl<{ ID: string }>(path.join(truth, 'images.jsonl'));
      assert.deepEqual([...new Set(imageNodes.map((n) => n.image.id))].sort(), [...new Set(ls.map((l) => l.ID))].sort());

      for (const node of imageNodes) {
        const hex = node.image.id.slice(7);
        const inspect = JSON.parse(readFileSync(path.join(truth, `inspect-${hex}.json`), 'utf8'))[0];
        const item = a.imagesTree.getTreeItem(node);
        const tags: string[] = [...(inspect.RepoTags ?? [])].sort();
        assert.equal(label(item), tags[0] ?? '<none>');
        assert.ok(String(item.description).includes(hex.slice(0, 12)), 'short id in the description');
        assert.ok(String(item.description).includes(humanSize(inspect.Size)), 'size in the description');
        const tooltip = (item.tooltip as vscode.MarkdownString).value;
        for (const t of tags.slice(1)) assert.ok(tooltip.includes(t), `tooltip names ${t}`);

        const history = jsonl<{ CreatedBy: string; Size: string }>(path.join(truth, `history-${hex}.jsonl`)).reverse();
        const steps = await children(a, node);
        assert.equal(steps.length, history.length, `${tags[0] ?? hex}: one tree row per docker history row`);
        steps.forEach((s, i) => {
          const si = a.imagesTree.getTreeItem(s);
          assert.ok(label(si).startsWith(`${i}  `), 'rows are numbered bottom to top');
          assert.ok(label(si).includes(truncate(shortStep(history[i].CreatedBy), 80).slice(0, 40)), `row ${i} shows its step`);
          assert.ok(((si.tooltip as vscode.MarkdownString).value).includes(history[i].CreatedBy.slice(0, 60)), 'full step in the tooltip');
          const empty = si.description === 'empty';
          // The size leads the description; "· shared with N images" may follow (test/integration/sharing.test.ts).
          assert.equal(empty ? '0B' : String(si.description).split(' · ')[0], history[i].Size, `row ${i} size`);
        });
      }

      const containers = nodes.find((n) => n.kind === 'containers');
      assert.ok(containers, 'a Containers node');
      const names = (await children(a, containers)).map((c) => label(a.imagesTree.getTreeItem(c)));
      for (const f of readdirSync(truth).filter((x) => x.startsWith('container-'))) {
        assert.ok(names.includes(f.slice('container-'.length, -'.json'.length)), `container ${f} is listed`);
      }
    });
  }

  test('a missing root and a folder that is no Docker root leave the tree empty for the welcome view', async () => {
    const a = await api();
    await useRoots(a, ['/nonexistent/dle-root']);
    assert.equal(a.service.state, 'missing');
    assert.deepEqual(await children(a), []);
    assert.ok(!a.imagesView.message, 'no message: it would hide the welcome view and its buttons');
    assert.equal(a.imagesView.description, '/nonexistent/dle-root: does not exist');

    const empty = mkdtempSync(path.join(os.tmpdir(), 'dle-notroot-'));
    try {
      await useRoots(a, [empty]);
      assert.equal(a.service.state, 'notRoot');
      assert.deepEqual(await children(a), []);
      assert.equal(a.imagesView.description, `${path.resolve(empty)}: not a Docker root`);
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  test('an image added on disk appears: by the watcher, and by Refresh', async () => {
    const source = roots.overlay2;
    if (!source) throw new Error('the overlay2 project root was not made (run as root)');
    const work = mkdtempSync(path.join(os.tmpdir(), 'dle-refresh-'));
    try {
      // Our own copy of a real root, with one tagged image taken out.
      execFileSync('cp', ['-a', source, path.join(work, 'root')]);
      const root = path.join(work, 'root');
      const db = path.join(root, 'image', 'overlay2');
      const repos = JSON.parse(readFileSync(path.join(db, 'repositories.json'), 'utf8'));
      const [repo, tag] = ['dle/app', 'dle/app:2'];
      const id: string = repos.Repositories[repo][tag];
      assert.ok(id, `${tag} is in the copy`);
      const config = path.join(db, 'imagedb', 'content', 'sha256', id.slice(7));
      const aside = path.join(work, 'config');
      renameSync(config, aside);
      const reposText = readFileSync(path.join(db, 'repositories.json'), 'utf8');
      const without = structuredClone(repos);
      for (const k of Object.keys(without.Repositories[repo])) if (without.Repositories[repo][k] === id) delete without.Repositories[repo][k];
      writeFileSync(path.join(db, 'repositories.json'), JSON.stringify(without));

      const a = await api();
      await useRoots(a, [root]);
      const ids = async () => (await children(a, (await children(a))[0])).flatMap((n) => (n.kind === 'image' ? [n.image.id] : []));
      assert.ok(!(await ids()).includes(id), 'the image is gone from the copy');

      const changed = new Promise<void>((resolve) => {
        const d = a.service.onDidChange((s) => {
          if (s.images.some((i) => i.id === id)) {
            d.dispose();
            resolve();
          }
        });
      });
      renameSync(aside, config);
      writeFileSync(path.join(db, 'repositories.json'), reposText);
      await Promise.race([changed, sleep(10000).then(() => assert.fail('the watcher did not pick up the new image'))]);
      assert.ok((await ids()).includes(id), 'the tree shows the image again');

      await vscode.commands.executeCommand('dockerLayers.refresh');
      assert.ok((await ids()).includes(id), 'still there after Refresh');
      assert.ok(existsSync(config));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
