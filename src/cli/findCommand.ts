/**
 * `docker-layers find PATTERN [--image IMAGE] [--sha256 HEX]`: which layers
 * of which images hold a path (core/findPath.ts). Hits print as they are
 * found, one line each (or one JSON item each). grep-style exit status: 0
 * something found, 1 nothing found, 2 nothing found and some layer could not
 * be searched (the answer is incomplete), or bad arguments.
 */
import { LayerError } from '../core/errors';
import { findPath, namedUses, parsePathPattern, type FindHit, type FindProgress, type LayerUse } from '../core/findPath';
import { parseSha256 } from '../core/findPathContent';
import { humanSize, printable, shortStep, truncate } from '../core/format';
import { shortId } from '../core/model';
import { UsageError, optionValue, type CliArgs } from './args';
import { warnProblems, type Command } from './commands';
import { JsonListWriter } from './jsonOutput';

const STATUS = { added: 'A', modified: 'M', deleted: 'D', opaque: 'O' } as const;

const useName = (u: LayerUse) => `${u.image.tags[0] ?? shortId(u.image.id)}@${u.stepIndex}`;

function hitLine(h: FindHit, args: CliArgs): string {
  const link = h.target !== undefined ? ` -> ${printable(h.target)}` : '';
  const uses = namedUses(h.uses, args.all);
  const where = h.container
    ? `container ${h.container.name || shortId(h.container.id)}`
    : uses.length === 0
      ? 'no image'
      : uses.slice(0, 3).map(useName).join(', ') + (uses.length > 3 ? ` (+${uses.length - 3})` : '');
  const step = uses[0] && !h.container ? `  ${printable(args.noTrunc ? uses[0].createdBy : truncate(shortStep(uses[0].createdBy), 60))}` : '';
  const layer = args.noTrunc ? h.layer.id : shortId(h.layer.id);
  return `${STATUS[h.status]} ${h.type.padEnd(7)} ${humanSize(h.size).padStart(7)}  ${printable(h.path)}${link}  ${printable(where)}  ${layer}${step}`;
}

function hitJson(h: FindHit) {
  return {
    path: h.path,
    status: h.status,
    type: h.type,
    size: h.size,
    ...(h.target !== undefined ? { target: h.target } : {}),
    ...(h.sha256 !== undefined ? { sha256: h.sha256 } : {}),
    layer: { id: h.layer.id, diffId: h.layer.diffId ?? null, source: h.layer.source.label, root: h.layer.source.root },
    images: h.uses.map((u) => ({ id: u.image.id, tags: u.image.tags, intermediate: u.image.intermediate === true, step: u.stepIndex, createdBy: u.createdBy })),
    container: h.container ? { id: h.container.id, name: h.container.name } : null,
  };
}

function summary(p: FindProgress): string {
  const searched = `${p.hits} hit${p.hits === 1 ? '' : 's'}; searched ${p.layersDone - p.layersFailed} of ${p.layersTotal} layers in ${Math.round(p.elapsedMs)} ms (${p.layersSkipped} had nothing to walk, ${p.entries} entries walked)`;
  const h = p.hashed;
  if (!h) return searched;
  return `${searched}; hashed ${h.files} files (${humanSize(h.bytes)}) in ${Math.round(h.ms)} ms, ${h.cached} from the cache`;
}

export const find: Command = async (store, args, out, signal) => {
  const text = args.positional[0];
  const shaText = optionValue(args, 'sha256');
  if (text === undefined && shaText === undefined) throw new UsageError('find needs a PATTERN (or --sha256 HEX)');
  const pattern = text === undefined ? undefined : parsePathPattern(text);
  if (typeof pattern === 'string') throw new UsageError(`find: ${pattern}`);
  const sha256 = shaText === undefined ? undefined : parseSha256(shaText);
  if (typeof sha256 === 'object') throw new UsageError(`find: ${sha256.error}`);
  const imageRef = optionValue(args, 'image');
  const image = imageRef === undefined ? undefined : store.findImage(imageRef);
  const problems: string[] = [];
  let progress: FindProgress | undefined;
  const writer = args.json
    ? new JsonListWriter((t) => out.write(t), 'find', 'hits', {
        pattern: pattern?.text ?? null,
        kind: pattern?.kind ?? null,
        folder: pattern?.folder ?? null,
        sha256: sha256 ?? null,
        image: image ? image.id : null,
      })
    : undefined;
  writer?.open();
  const hits = findPath(store, pattern, {
    image,
    sha256,
    signal,
    onProgress: (p) => (progress = p),
    onProblem: (p) => problems.push(`layer ${shortId(p.layer.id)}${p.path ? ` ${p.path}` : ''}: ${p.message}`),
  });
  for await (const h of hits) {
    if (writer) writer.item(hitJson(h));
    else out.write(hitLine(h, args) + '\n');
  }
  const p = progress!;
  if (writer) {
    const searched = { layers: p.layersTotal, failed: p.layersFailed, skipped: p.layersSkipped, entries: p.entries, ms: Math.round(p.elapsedMs) };
    const hashed = p.hashed ? { files: p.hashed.files, bytes: p.hashed.bytes, ms: Math.round(p.hashed.ms), cached: p.hashed.cached } : null;
    writer.close({ searched, hashed, problems });
  }
  warnProblems(out, problems);
  out.warn(summary(p));
  if (p.hits > 0) return 0;
  if (p.layersFailed > 0) throw new LayerError('io', `nothing found, but ${p.layersFailed} layer(s) could not be searched: the answer is incomplete`);
  return 1;
};
