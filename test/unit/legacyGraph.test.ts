/**
 * The legacy graph layout (Docker ≤ 1.9): a captured real root from
 * ../shared/fixtures and the project's own legacy root made from real layers.
 * Expectations come from the root's own files (graph/<id>/json, the
 * repositories file) and the truth the fixture script recorded.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { legacyCreatedBy } from '../../src/core/readers/legacyGraph';
import { cliJson, runCli } from './support/cli';
import { projectRoot, sharedRoot, whyMissing } from './support/roots';

interface GraphJson {
  id: string;
  parent?: string;
  created: string;
  container_config?: { Cmd?: string[] };
}

function graph(root: string): Map<string, GraphJson> {
  const out = new Map<string, GraphJson>();
  for (const id of readdirSync(path.join(root, 'graph'))) {
    const file = path.join(root, 'graph', id, 'json');
    if (existsSync(file)) out.set(id, JSON.parse(readFileSync(file, 'utf8')));
  }
  return out;
}

function chainOf(g: Map<string, GraphJson>, top: string): string[] {
  const chain: string[] = [];
  for (let id: string | undefined = top; id; id = g.get(id)?.parent) chain.unshift(id);
  return chain;
}

test('shared dex-aufs.v1: images, steps, documents and containers of a captured legacy root', async (t) => {
  const r = sharedRoot('dex-aufs.v1');
  if (!r) return t.skip(whyMissing('dex-aufs.v1'));
  const root = ['--root', r.root];
  const g = graph(r.root);
  const repos = JSON.parse(readFileSync(path.join(r.root, 'repositories-aufs'), 'utf8')).Repositories as Record<string, Record<string, string>>;

  const { images } = await cliJson<{ images: { id: string; tags: string[]; layers: number }[] }>([...root, 'images', '--all']);
  assert.deepEqual(images.map((i) => i.id).sort(), [...g.keys()].sort(), 'every graph entry is an image');
  for (const [repo, tags] of Object.entries(repos)) {
    for (const [tag, id] of Object.entries(tags)) {
      const image = images.find((i) => i.id === id);
      assert.ok(image?.tags.includes(`${repo}:${tag}`), `${repo}:${tag} → ${id}`);

      const { steps } = await cliJson<{ steps: { id: string; createdBy: string; created: string; empty: boolean; size: number }[] }>([
        ...root,
        'layers',
        `${repo}:${tag}`,
      ]);
      const chain = chainOf(g, id);
      assert.deepEqual(steps.map((s) => s.id), chain, 'steps follow the parent links bottom to top');
      steps.forEach((s, i) => {
        const json = g.get(chain[i])!;
        assert.equal(s.createdBy, legacyCreatedBy(json.container_config?.Cmd));
        assert.equal(s.created, json.created);
        const layersize = Number(readFileSync(path.join(r.root, 'graph', chain[i], 'layersize'), 'utf8'));
        assert.equal(s.size, layersize);
        // A metadata-only step (CMD) changes no file: its aufs diff dir is empty.
        const diffEntries = readdirSync(path.join(r.root, 'aufs', 'diff', chain[i])).filter((n) => !n.startsWith('.wh..wh.'));
        assert.equal(s.empty, diffEntries.length === 0 && s.createdBy.includes('#(nop)'), `step ${i} empty`);
      });

      // The top step's document is graph/<id>/json verbatim.
      const doc = await runCli([...root, 'json', `${repo}:${tag}`]);
      assert.equal(doc.code, 0, doc.stderr);
      assert.equal(doc.stdout.trimEnd(), readFileSync(path.join(r.root, 'graph', id, 'json'), 'utf8').trimEnd());
      const meta = await cliJson<{ kind: string; path: string }>([...root, 'json', `${repo}:${tag}`]);
      assert.equal(meta.kind, 'legacy-json');

      // The parent diff of the CMD step shows config.Cmd changing.
      const diff = (await cliJson<{ changes: { path: string; change: string }[] }>([...root, 'diff', `${repo}:${tag}`])).changes;
      const top = g.get(id)!;
      const parent = g.get(top.parent!)!;
      assert.ok(diff.some((d) => d.path.startsWith('id')), 'the id differs from the parent');
      if (JSON.stringify((top as any).config?.Cmd) !== JSON.stringify((parent as any).config?.Cmd)) {
        // Either config.Cmd changes, or the parent had no config at all and config is added whole.
        assert.ok(diff.some((d) => d.path === 'config' || d.path.startsWith('config.Cmd')), 'config.Cmd change is reported');
      }
    }
  }

  // Containers: one per containers/<id>, with its name from config.json.
  const { containers } = await cliJson<{ containers: { id: string; name: string; imageId: string }[] }>([...root, 'containers']);
  const dirs = readdirSync(path.join(r.root, 'containers'));
  assert.deepEqual(containers.map((c) => c.id).sort(), dirs.sort());
  for (const c of containers) {
    const cfg = JSON.parse(readFileSync(path.join(r.root, 'containers', c.id, 'config.json'), 'utf8'));
    assert.equal(c.name, cfg.Name.replace(/^\//, ''));
    assert.equal(c.imageId, cfg.Image);
  }
});

test('project legacy root: tags and parent chains equal what the fixture script recorded', async (t) => {
  const r = projectRoot('legacy');
  if (!r) return t.skip(whyMissing('legacy'));
  const expected = JSON.parse(readFileSync(path.join(r.truth, 'expected.json'), 'utf8'));
  const root = ['--root', r.root];
  const { images } = await cliJson<{ images: { id: string; tags: string[] }[] }>([...root, 'images', '--all']);
  const tags: Record<string, { top?: string; id?: string; chain: string[] }> = expected.tags ?? expected;
  assert.ok(Object.keys(tags).length > 0, 'the truth names tags');
  for (const [tag, want] of Object.entries(tags)) {
    const top = want.top ?? want.id!;
    assert.ok(images.find((i) => i.id === top)?.tags.includes(tag), `${tag} → ${top}`);
    const { steps } = await cliJson<{ steps: { id: string }[] }>([...root, 'layers', tag]);
    assert.deepEqual(steps.map((s) => s.id), want.chain);
  }
  // Whiteouts in the aufs form are reported as deletions.
  const any = Object.keys(tags)[0];
  const { steps } = await cliJson<{ steps: { id: string }[] }>([...root, 'layers', any]);
  let deleted = 0;
  for (const s of steps) {
    const { files } = await cliJson<{ files: { status: string }[] }>([...root, 'files', s.id]);
    deleted += files.filter((f) => f.status === 'deleted').length;
  }
  assert.ok(deleted > 0, 'the legacy root carries whiteouts');
});
