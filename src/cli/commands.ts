/**
 * The `docker-layers` commands, over the core only. Each writes to `out` and
 * returns nothing; failures throw LayerError / UsageError for main() to map.
 */
import { LayerError, errorMessage } from '../core/errors';
import { parseJson } from '../core/fsUtil';
import { age, humanSize, printable, shortStep, table, truncate } from '../core/format';
import { diffJson, type JsonChange } from '../core/jsonDiff';
import { walkLayer, type LayerEntry } from '../core/layerWalk';
import { shortId, type Container, type Image, type Layer } from '../core/model';
import { sharingOf } from '../core/sharing';
import type { StepRef, Store } from '../core/store';
import { UsageError, type CliArgs } from './args';
import { JsonListWriter, jsonDocument } from './jsonOutput';
import { exportCommand } from './exportCommand';
import { history } from './historyCommand';
import { efficiencyCommand } from './efficiencyCommand';
import { compare } from './compareCommand';
import { find } from './findCommand';

export interface Output {
  write(text: string): void;
  warn(text: string): void;
}

/** Resolves to nothing (exit 0) or to the exit status of a documented negative answer (1: `compare` found differences). */
export type Command = (store: Store, args: CliArgs, out: Output, signal?: AbortSignal) => Promise<void | number>;

const id12 = (args: CliArgs, id: string) => (args.noTrunc ? id : shortId(id));

/** What each command needs as arguments, checked before any root is read. */
const NEEDS: Record<string, string> = { layers: 'an IMAGE', json: 'a LAYER', diff: 'a LAYER', files: 'a LAYER or container', history: 'an IMAGE and a PATH', compare: 'two images or steps, or a range IMAGE@I..J', export: 'a LAYER, a PATH and a DEST', efficiency: 'an IMAGE' };

export function checkArgs(args: CliArgs): void {
  const what = NEEDS[args.command ?? ''];
  if (what && args.positional.length < 1) throw new UsageError(`${args.command} needs ${what}`);
}

export const images: Command = async (store, args, out) => {
  const list = store.images.filter((i) => args.all || !i.intermediate);
  // Shared among the images listed, as the daemon counts for `docker system df -v` (-a: all images, as Docker 23+).
  const sharing = sharingOf(store, args.all ? 'all' : 'listed');
  if (args.json) {
    const imageJson = (i: Image) => {
      const { sharedSize, uniqueSize } = sharing.of(i);
      return {
        id: i.id,
        tags: i.tags,
        digests: i.digests,
        layers: i.layerKeys.length,
        created: i.created ?? null,
        size: i.size,
        sharedSize,
        uniqueSize,
        intermediate: i.intermediate === true,
        source: i.source.label,
        root: i.source.root,
        problems: i.problems.map((p) => p.message),
      };
    };
    out.write(jsonDocument('images', { images: list.map(imageJson) }));
    return;
  }
  const rows: string[][] = [];
  for (const i of list) {
    const names = i.tags.length ? i.tags : ['<none>'];
    const { sharedSize, uniqueSize } = sharing.of(i);
    for (const name of names) {
      rows.push([
        printable(name), id12(args, i.id), age(i.created), humanSize(i.size), humanSize(sharedSize), humanSize(uniqueSize),
        String(i.layerKeys.length), i.source.label,
      ]);
    }
  }
  out.write(table(['IMAGE', 'ID', 'CREATED', 'SIZE', 'SHARED', 'UNIQUE', 'LAYERS', 'SOURCE'], rows) + '\n');
  warnProblems(out, list.flatMap((i) => i.problems.map((p) => `${shortId(i.id)}: ${p.message}`)));
};

export const layers: Command = async (store, args, out) => {
  const image = store.findImage(args.positional[0]);
  const rows = image.steps.map((s) => {
    const layer = store.layer(s.layerKey);
    return { step: s, layer };
  });
  if (args.json) {
    const steps = rows.map(({ step, layer }) => ({
      index: step.index,
      id: layer?.id ?? null,
      diffId: layer?.diffId ?? null,
      parent: layer?.parentId ?? null,
      createdBy: step.createdBy,
      created: step.created ?? null,
      size: step.size,
      empty: step.empty,
      imageId: step.imageId ?? null,
      comment: step.comment ?? null,
    }));
    out.write(jsonDocument('layers', { image: imageRefJson(image), steps }));
    return;
  }
  const width = args.noTrunc ? Infinity : 60;
  out.write(
    table(
      ['#', 'LAYER', 'CREATED', 'SIZE', 'STEP'],
      rows.map(({ step, layer }) => [
        String(step.index),
        layer ? id12(args, layer.id) : step.empty ? '(empty)' : '<missing>',
        age(step.created),
        humanSize(step.size),
        printable(args.noTrunc ? step.createdBy : truncate(shortStep(step.createdBy), width)),
      ]),
    ) + '\n',
  );
  warnProblems(out, image.problems.map((p) => p.message));
};

export const jsonDoc: Command = async (store, args, out, signal) => {
  const step = store.resolveStep(args.positional[0]);
  const doc = await store.document(step, signal);
  const where = doc.path ?? `step ${step.stepIndex} of ${shortId(step.image.id)}`;
  if (args.json) {
    const document = parseJson(doc.text, where);
    out.write(jsonDocument('json', { kind: doc.kind, path: doc.path ?? null, imageId: doc.imageId, stepIndex: doc.stepIndex, document }));
    return;
  }
  // Verbatim, even when it does not parse (a truncated file is evidence too); then say so.
  out.write(doc.text.endsWith('\n') ? doc.text : doc.text + '\n');
  try {
    parseJson(doc.text, where);
  } catch (err) {
    out.warn(printable(errorMessage(err)));
    return 2;
  }
};

export const diff: Command = async (store, args, out, signal) => {
  const a = store.resolveStep(args.positional[0]);
  let beforeText: string | undefined;
  let afterText: string;
  let from: StepRef | undefined;
  let to: StepRef;
  if (args.positional[1]) {
    const b = store.resolveStep(args.positional[1]);
    [from, to] = [a, b];
    beforeText = (await store.document(a, signal)).text;
    afterText = (await store.document(b, signal)).text;
  } else {
    from = a.stepIndex > 0 ? { image: a.image, stepIndex: a.stepIndex - 1 } : undefined;
    to = a;
    beforeText = (await store.parentDocument(a, signal))?.text;
    afterText = (await store.document(a, signal)).text;
  }
  const changes = diffJson(beforeText, afterText, { signal });
  if (args.json) {
    const side = (s: StepRef) => ({ imageId: s.image.id, stepIndex: s.stepIndex });
    out.write(
      jsonDocument('diff', {
        from: from ? side(from) : null,
        to: side(to),
        changes: changes.map((c) => ({ path: c.display, pointer: c.pointer, change: c.change, before: c.before, after: c.after })),
      }),
    );
    return;
  }
  if (beforeText === undefined) out.warn('this is the base step: it has no parent document to compare with');
  for (const c of changes) out.write(jsonChangeLine(c, args.noTrunc) + '\n');
};

/** One JSON change as a line: `+ path: value`, `- path: value`, `~ path: before -> after`. */
export function jsonChangeLine(c: JsonChange, noTrunc: boolean): string {
  const v = (x: unknown) => printable(truncate(JSON.stringify(x) ?? 'undefined', noTrunc ? Infinity : 120));
  if (c.change === 'added') return `+ ${printable(c.display)}: ${v(c.after)}`;
  if (c.change === 'removed') return `- ${printable(c.display)}: ${v(c.before)}`;
  return `~ ${printable(c.display)}: ${v(c.before)} -> ${v(c.after)}`;
}

/** The layer `files` reads: a step's layer or a container's read-write layer. */
function layerForFiles(store: Store, ref: string): { layer: Layer; what: string; container?: Container } {
  try {
    const c = store.findContainer(ref);
    if (c.layer) return { layer: c.layer, what: `container ${c.name}`, container: c };
    throw new LayerError('not-found', `container ${c.name} has no read-write layer on disk`);
  } catch (err) {
    if ((err as LayerError).code !== 'not-found') throw err;
  }
  const step = store.resolveStep(ref);
  const s = step.image.steps[step.stepIndex];
  const layer = store.layer(s.layerKey);
  if (!layer) {
    throw new LayerError('not-found', `step ${step.stepIndex} of ${shortId(step.image.id)} (${shortStep(s.createdBy)}) is an empty step: it changes no file`);
  }
  return { layer, what: `layer ${shortId(layer.id)}` };
}

const STATUS = { added: 'A', modified: 'M', deleted: 'D', opaque: 'O' } as const;

export const files: Command = async (store, args, out, signal) => {
  const { layer, what, container } = layerForFiles(store, args.positional[0]);
  if (!layer.content) throw new LayerError('not-found', `${what} has no content on disk: ${layer.problems.map((p) => p.message).join('; ')}`);
  const problems: string[] = [];
  const list = args.json
    ? new JsonListWriter((t) => out.write(t), 'files', 'files', {
        layer: { id: layer.id, diffId: layer.diffId ?? null, size: layer.size },
        container: container ? { id: container.id, name: container.name } : null,
      })
    : undefined;
  list?.open();
  for await (const e of walkLayer(layer.content, { signal, onProblem: (p) => problems.push(`${p.path}: ${p.message}`) })) {
    if (list) list.item(fileJson(e));
    else out.write(fileLine(e) + '\n');
  }
  list?.close({ problems });
  warnProblems(out, problems);
};

function fileJson(e: LayerEntry) {
  return { path: e.path, status: e.status, type: e.type, size: e.size, ...(e.target !== undefined ? { target: e.target } : {}) };
}

function fileLine(e: LayerEntry): string {
  const link = e.target !== undefined ? ` -> ${printable(e.target)}` : '';
  const unknown = e.opaqueUnknown ? ' (opaque: unknown)' : '';
  return `${STATUS[e.status]} ${e.type.padEnd(7)} ${humanSize(e.size).padStart(7)}  ${printable(e.path)}${link}${unknown}`;
}

/** `docker diff` letters: A added, C changed (modified or opaque), D deleted. */
async function containerChanges(c: Container, signal?: AbortSignal): Promise<{ kind: 'A' | 'C' | 'D'; path: string }[]> {
  if (!c.layer?.content) return [];
  const changes: { kind: 'A' | 'C' | 'D'; path: string }[] = [];
  for await (const e of walkLayer(c.layer.content, { signal })) {
    changes.push({ kind: e.status === 'added' ? 'A' : e.status === 'deleted' ? 'D' : 'C', path: e.path });
  }
  return changes;
}

export const containers: Command = async (store, args, out, signal) => {
  const list = await Promise.all(store.containers.map(async (c) => ({ c, changes: await containerChanges(c, signal).catch(() => undefined) })));
  const imageName = (c: Container) => c.imageRef ?? (c.imageId ? shortId(c.imageId) : '');
  if (args.json) {
    const containerJson = ({ c, changes }: (typeof list)[number]) => ({
      id: c.id,
      name: c.name,
      image: imageName(c),
      imageId: c.imageId ?? null,
      created: c.created ?? null,
      changes: changes ?? [],
      problems: c.problems.map((p) => p.message),
    });
    out.write(jsonDocument('containers', { containers: list.map(containerJson) }));
    return;
  }
  out.write(
    table(
      ['NAME', 'ID', 'IMAGE', 'CREATED', 'CHANGES'],
      list.map(({ c, changes }) => [printable(c.name), id12(args, c.id), printable(imageName(c)), age(c.created), changes ? String(changes.length) : '?']),
    ) + '\n',
  );
  warnProblems(out, list.flatMap(({ c }) => c.problems.map((p) => `${c.name || shortId(c.id)}: ${p.message}`)));
};

/** Which image a `layers` listing is of. */
function imageRefJson(image: Image) {
  return { id: image.id, tags: image.tags, source: image.source.label, root: image.source.root };
}

export function warnProblems(out: Output, problems: string[]): void {
  const max = 20;
  for (const p of problems.slice(0, max)) out.warn(printable(p));
  if (problems.length > max) out.warn(`… and ${problems.length - max} more problems`);
}

export const COMMANDS: Record<string, Command> = { images, layers, json: jsonDoc, diff, files, containers, history, export: exportCommand, compare, efficiency: efficiencyCommand, find };
