/**
 * `docker-layers export LAYER PATH DEST [--merged]`: copies a file or folder
 * of a layer's own content (or, with --merged, of the image as of that step)
 * to DEST on the host, never into a Docker root (core/export.ts).
 */
import { LayerError } from '../core/errors';
import { exportPath, type ExportSource } from '../core/export';
import { humanSize, printable } from '../core/format';
import { imageStack } from '../core/pathHistory';
import type { LayerContent } from '../core/model';
import type { Store } from '../core/store';
import { DEFAULT_ROOTS, UsageError, type CliArgs } from './args';
import type { Command } from './commands';
import { jsonDocument } from './jsonOutput';

/** The layer's own content, a container's read-write layer, or (--merged) the step and all below it. */
function sourceOf(store: Store, args: CliArgs, ref: string): ExportSource {
  const merged = args.flags.has('merged');
  let container;
  try {
    container = store.findContainer(ref);
  } catch (err) {
    if ((err as LayerError).code !== 'not-found') throw err;
  }
  if (container && !merged) {
    if (!container.layer?.content) throw new LayerError('not-found', `container ${container.name} has no read-write layer on disk`);
    return { kind: 'layer', content: container.layer.content };
  }
  const step = store.resolveStep(ref);
  if (merged) {
    const { contents, steps } = imageStack(store, step.image, step.stepIndex);
    const missing = steps.find((_, i) => !contents[i]);
    if (missing !== undefined) throw new LayerError('not-found', `step ${missing} of ${ref} has no layer folder on disk`);
    return { kind: 'merged', layers: (contents as LayerContent[]).slice().reverse() };
  }
  const layer = store.layer(step.image.steps[step.stepIndex].layerKey);
  if (!layer) throw new LayerError('not-found', `step ${step.stepIndex} of ${ref} is an empty step: it has no files (use --merged for the image as of that step)`);
  if (!layer.content) throw new LayerError('not-found', `the layer of step ${step.stepIndex} of ${ref} has no folder on disk`);
  return { kind: 'layer', content: layer.content };
}

export const exportCommand: Command = async (store, args, out, signal) => {
  const [ref, path, dest] = args.positional;
  if (dest === undefined) throw new UsageError('export needs a LAYER, a PATH and a DEST');
  const source = sourceOf(store, args, ref);
  // This run's roots and always the default ones: a --root elsewhere must not make /var/lib/docker writable.
  const forbidden = [...new Set([...store.roots.map((r) => r.root), ...DEFAULT_ROOTS])];
  const dryRun = args.flags.has('dry-run');
  const result = await exportPath(source, path, dest, { forbidden, signal, dryRun });
  if (args.json) {
    const { dest: written, files, dirs, symlinks, bytes, skipped } = result;
    out.write(jsonDocument('export', { path: '/' + path.split('/').filter((s) => s && s !== '.').join('/'), merged: source.kind === 'merged', dest: written, dryRun, files, dirs, symlinks, bytes, skipped }));
    return;
  }
  const what = `${result.files} files (${humanSize(result.bytes)}), ${result.dirs} folders, ${result.symlinks} symbolic links`;
  out.write(`${dryRun ? 'would export' : 'exported'} ${printable(path)} to ${printable(result.dest)}: ${what}\n`);
  for (const s of result.skipped.slice(0, 20)) out.warn(`skipped ${printable(s.path)}: ${printable(s.reason)}`);
  if (result.skipped.length > 20) out.warn(`… and ${result.skipped.length - 20} more skipped`);
};
