/**
 * `docker-layers history IMAGE PATH`: every step of an image that added,
 * changed or deleted a path, bottom to top (core/pathHistory.ts). Exit 1 when
 * no step touched it.
 */
import { LayerError } from '../core/errors';
import { humanSize, printable, shortStep, table, truncate } from '../core/format';
import { formatMode } from '../core/layerEntry';
import { CHANGE_LETTER, imageOfContainer, imagePathHistory, type StepVersion } from '../core/pathHistory';
import { shortId, type Container, type Image } from '../core/model';
import type { Store } from '../core/store';
import { UsageError } from './args';
import type { Command } from './commands';
import { jsonDocument } from './jsonOutput';

function versionJson(v: StepVersion) {
  return {
    step: v.step,
    container: v.container ? v.container.name : null,
    layer: v.layerRef.id,
    change: v.change,
    type: v.type,
    size: v.size,
    mode: v.mode ? formatMode(v.mode) : null,
    target: v.target ?? null,
    via: v.via ?? null,
    createdBy: v.createdBy,
  };
}

/** An image, or a container: its image's steps and then its own read-write layer. */
function imageOrContainer(store: Store, ref: string): { image: Image; container?: Container } {
  try {
    return { image: store.findImage(ref) };
  } catch (err) {
    if (!(err instanceof LayerError) || err.code !== 'not-found') throw err;
    let container: Container;
    try {
      container = store.findContainer(ref);
    } catch {
      throw err; // neither: say what the image lookup said
    }
    const image = imageOfContainer(store, container);
    if (!image) throw new LayerError('not-found', `the image of container ${container.name} (${container.imageRef ?? container.imageId ?? '?'}) is not in the roots`);
    return { image, container };
  }
}

export const history: Command = async (store, args, out, signal) => {
  const [ref, path] = args.positional;
  if (path === undefined) throw new UsageError('history needs an IMAGE and a PATH');
  const { image, container } = imageOrContainer(store, ref);
  const problems: string[] = [];
  const versions: StepVersion[] = [];
  for await (const v of imagePathHistory(store, image, path, { signal, container, onProblem: (step, p) => problems.push(`step ${step}: ${p.path}: ${p.message}`) })) {
    versions.push(v);
  }
  if (args.json) {
    out.write(jsonDocument('history', { image: image.id, path: '/' + path.split('/').filter((s) => s && s !== '.').join('/'), versions: versions.map(versionJson), problems }));
  } else if (versions.length) {
    const width = args.noTrunc ? Infinity : 60;
    const rows = versions.map((v) => [
      v.container ? 'ctr' : String(v.step),
      args.noTrunc ? v.layerRef.id : shortId(v.layerRef.id),
      CHANGE_LETTER[v.change],
      v.change === 'deleted' ? '-' : humanSize(v.size),
      v.mode ? formatMode(v.mode) : '-',
      printable(truncate(shortStep(v.createdBy), width) + (v.via ? `  (deleted with ${v.via})` : v.target !== undefined ? `  (-> ${v.target})` : '')),
    ]);
    out.write(table(['STEP', 'LAYER', 'CHANGE', 'SIZE', 'MODE', 'COMMAND'], rows) + '\n');
  }
  for (const p of problems.slice(0, 20)) out.warn(printable(p));
  if (versions.length === 0) throw new LayerError('not-found', `no step of ${image.tags[0] ?? shortId(image.id)} adds, changes or deletes ${path}`, path);
};
