/**
 * The parent diff of each metadata step of a locally built image: what each
 * Dockerfile instruction (read from the daemon's own history text) must change
 * in the layer's JSON document, and nothing the step did not do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shortStep } from '../../src/core/format';
import { cliJson } from './support/cli';
import { projectRoot, sharedRoot, whyMissing, type TestRoot } from './support/roots';

interface Change {
  path: string;
  pointer: string;
  change: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

/** The config key (under /config) each instruction sets. */
const KEY: Record<string, string> = {
  ENV: 'Env',
  CMD: 'Cmd',
  ENTRYPOINT: 'Entrypoint',
  USER: 'User',
  WORKDIR: 'WorkingDir',
  LABEL: 'Labels',
  EXPOSE: 'ExposedPorts',
};

const CASES: [string, () => TestRoot | undefined, string][] = [
  ['project overlay2', () => projectRoot('overlay2'), 'dle/app:1'],
  ['project vfs', () => projectRoot('vfs'), 'dle/app:1'],
  ['shared docker20-overlay2', () => sharedRoot('docker20-overlay2'), 'fixture/app:1.0'],
];

for (const [name, get, image] of CASES) {
  test(`${name}: each step's parent diff shows exactly what its instruction set`, async (t) => {
    const r = get();
    if (!r) return t.skip(whyMissing(name.split(' ')[1]));
    const root = ['--root', r.root];
    const { steps } = await cliJson<{ steps: { index: number; createdBy: string; imageId: string | null }[] }>([...root, 'layers', image]);
    let checked = 0;
    for (const s of steps) {
      // Compare like with like: both this step and the one below have an image config of their own.
      if (s.index === 0 || !s.imageId || !steps[s.index - 1].imageId) continue;
      const doc = await cliJson<{ kind: string }>([...root, 'json', `${image}@${s.index}`]);
      assert.equal(doc.kind, 'image-config', `step ${s.index} of a local build has its own image config`);
      const { changes } = await cliJson<{ changes: Change[] }>([...root, 'diff', `${image}@${s.index}`]);
      const instruction = shortStep(s.createdBy).split(/\s/)[0].toUpperCase();
      // Every step appends one history entry.
      assert.ok(changes.some((c) => c.pointer.startsWith('/history/') && c.change === 'added'), `step ${s.index}: history grows`);
      const key = KEY[instruction];
      // The classic builder records the parent image in config.Image at every step.
      const configChanges = changes.filter((c) => c.pointer.startsWith('/config/') && c.pointer !== '/config/Image');
      if (key) {
        assert.ok(configChanges.length > 0, `step ${s.index} (${instruction}) changes the config`);
        // ENTRYPOINT also resets a CMD inherited from the base image, and the shell form of
        // CMD / ENTRYPOINT sets ArgsEscaped (Dockerfile reference; moby's dispatchers).
        const allowed = instruction === 'ENTRYPOINT' ? [key, 'Cmd', 'ArgsEscaped'] : instruction === 'CMD' ? [key, 'ArgsEscaped'] : [key];
        for (const c of configChanges) {
          assert.ok(
            allowed.some((k) => c.pointer.startsWith(`/config/${k}`)),
            `step ${s.index} (${instruction}) changes only config.${allowed.join('/')}, not ${c.path}`,
          );
        }
        if (instruction === 'ENV') {
          const added = configChanges.filter((c) => c.change === 'added').map((c) => c.after);
          for (const kv of shortStep(s.createdBy).slice(4).trim().split(/\s+/)) assert.ok(added.includes(kv), `ENV adds ${kv}`);
        }
        if (instruction === 'WORKDIR' || instruction === 'USER') {
          const value = shortStep(s.createdBy).slice(instruction.length).trim();
          assert.ok(configChanges.some((c) => c.after === value), `${instruction} sets ${value}`);
        }
        checked++;
      } else if (instruction === 'RUN' || instruction === 'COPY' || instruction === 'ADD') {
        assert.ok(changes.some((c) => c.pointer.startsWith('/rootfs/diff_ids/')), `step ${s.index} (${instruction}) adds a layer`);
        assert.equal(configChanges.length, 0, `step ${s.index} (${instruction}) leaves the config alone`);
      }
    }
    assert.ok(checked >= 3, `at least three metadata steps checked (got ${checked})`);
  });
}
