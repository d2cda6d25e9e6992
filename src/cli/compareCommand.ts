/**
 * `docker-layers compare A B` / `compare IMAGE@I..J`: the files that differ
 * between two points (core/compare.ts) and, in a section of their own, the
 * differences of their config and history documents (core/jsonDiff.ts).
 * Exit 0 when both are equal, 1 when anything differs, 2 on errors.
 */
import { compareFiles, describeChange, resolveComparison, signedSize, type ComparePoint, type CompareResult, type FileChange, type FileSide } from '../core/compare';
import { XATTRS_NOTE } from '../core/compareXattrs';
import { printable } from '../core/format';
import { diffJson, type JsonChange } from '../core/jsonDiff';
import { formatMode } from '../core/layerEntry';
import { shortId } from '../core/model';
import type { Store } from '../core/store';
import { UsageError } from './args';
import { jsonChangeLine, warnProblems, type Command } from './commands';
import { jsonDocument } from './jsonOutput';

const LETTER = { added: 'A', removed: 'D', changed: 'M' } as const;

/** The config/history document of a point; before an image's first step, `{}` (every key of the other side is new). */
async function documentOf(store: Store, p: ComparePoint, signal?: AbortSignal): Promise<string> {
  if (p.stepIndex < 0) return '{}';
  return (await store.document({ image: p.image, stepIndex: p.stepIndex }, signal)).text;
}

function pointJson(p: ComparePoint) {
  return { ref: p.label, imageId: p.image.id, tags: p.image.tags, step: p.stepIndex, layers: p.layers.length, source: p.image.source.label, root: p.image.source.root };
}

function sideJson(s: FileSide, p: ComparePoint) {
  return {
    type: s.type,
    size: s.size,
    mode: formatMode(s.mode),
    uid: s.uid ?? null,
    gid: s.gid ?? null,
    mtime: s.mtimeMs === undefined || !Number.isFinite(new Date(s.mtimeMs).getTime()) ? null : new Date(s.mtimeMs).toISOString(),
    target: s.target ?? null,
    layer: p.layers[s.layer]?.id ?? null,
  };
}

function changeJson(c: FileChange, a: ComparePoint, b: ComparePoint) {
  return {
    path: c.path,
    change: c.change,
    aspects: c.aspects,
    sizeDelta: c.sizeDelta,
    before: c.before ? sideJson(c.before, a) : null,
    after: c.after ? sideJson(c.after, b) : null,
  };
}


function fileLine(c: FileChange): string {
  return `${LETTER[c.change]} ${printable(c.path)}  ${describeChange(c)}`;
}

function summaryText(r: CompareResult): string {
  const n = (k: FileChange['change']) => r.changes.filter((c) => c.change === k).length;
  return `Files: ${n('added')} added, ${n('removed')} removed, ${n('changed')} changed, ${signedSize(r.sizeDelta)}`;
}

function printText(out: { write(t: string): void }, a: ComparePoint, b: ComparePoint, r: CompareResult, config: JsonChange[], noTrunc: boolean): void {
  const where = (p: ComparePoint) =>
    `${printable(p.label)} (${shortId(p.image.id)}${p.stepIndex < 0 ? '' : `, step ${p.stepIndex}`}, ${p.image.source.label} in ${printable(p.image.source.root)})`;
  out.write(`A: ${where(a)}\nB: ${where(b)}\n`);
  if (r.sharedLayers) out.write(`${r.sharedLayers} layer(s) at the bottom are the same on both sides: not compared file by file\n`);
  out.write(`${summaryText(r)} (${r.entries.a} / ${r.entries.b} paths; ${r.contentCompared} files compared byte by byte)\n`);
  for (const c of r.changes) out.write(`  ${fileLine(c)}\n`);
  out.write(`Config and history: ${config.length} change(s)\n`);
  for (const c of config) out.write(`  ${jsonChangeLine(c, noTrunc)}\n`);
}

export const compare: Command = async (store, args, out, signal) => {
  const [refA, refB, extra] = args.positional;
  if (extra !== undefined) throw new UsageError('compare takes two images or steps, or one range IMAGE@I..J');
  const { a, b } = resolveComparison(store, refA, refB);
  const result = await compareFiles(a, b, { signal, ignore: args.values.ignore ?? [], ignoreMtime: args.flags.has('ignore-mtime'), xattrs: args.flags.has('xattrs') });
  const configChanges = diffJson(await documentOf(store, a, signal), await documentOf(store, b, signal), { signal });
  const equal = result.changes.length === 0 && configChanges.length === 0;
  if (args.json) {
    const count = (k: FileChange['change']) => result.changes.filter((c) => c.change === k).length;
    out.write(
      jsonDocument('compare', {
        a: pointJson(a),
        b: pointJson(b),
        equal,
        summary: {
          added: count('added'),
          removed: count('removed'),
          changed: count('changed'),
          sizeDelta: result.sizeDelta,
          sharedLayers: result.sharedLayers,
          paths: result.entries,
          contentCompared: result.contentCompared,
        },
        files: result.changes.map((c) => changeJson(c, a, b)),
        config: configChanges.map((c) => ({ path: c.display, pointer: c.pointer, change: c.change, before: c.before, after: c.after })),
        problems: result.problems,
        ...(result.xattrs ? { xattrs: result.xattrs } : {}),
      }),
    );
  } else {
    printText(out, a, b, result, configChanges, args.noTrunc);
  }
  const notes = result.problems.map((p) => `${p.side === 'a' ? a.label : b.label}: ${p.path}: ${p.message}`);
  if (result.xattrs && result.xattrs !== 'compared') notes.push(XATTRS_NOTE[result.xattrs]);
  warnProblems(out, notes);
  return equal ? 0 : 1;
};
