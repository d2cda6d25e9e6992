/**
 * The v1-compatible layer JSON for one history step of an image, in the shape
 * `docker save` and the legacy graph wrote: `id`, `parent`, `created`,
 * `container_config.Cmd` (the Dockerfile step), and for the top step the
 * runtime `config` with `architecture` / `os`. Made only from the image config,
 * so it is deterministic: the same config and ids give the same text.
 * Shared by the readers whose layers have no JSON of their own (image-db, containerd).
 */

interface HistoryEntry {
  created?: unknown;
  created_by?: unknown;
  author?: unknown;
  comment?: unknown;
  empty_layer?: unknown;
}

const SHELL = '/bin/sh -c ';

/** `/bin/sh -c #(nop) ENV A=b` → `['/bin/sh', '-c', '#(nop) ENV A=b']`, as Docker's builder recorded it. */
export function v1Cmd(createdBy: string | undefined): string[] | null {
  if (!createdBy) return null;
  return ['/bin/sh', '-c', createdBy.startsWith(SHELL) ? createdBy.slice(SHELL.length) : createdBy];
}

/**
 * How many steps an image config has, as the readers align them: one per
 * history entry, plus one per layer the history does not describe.
 */
export function stepCount(config: any): number {
  const history: HistoryEntry[] = Array.isArray(config?.history) ? config.history : [];
  const layers = Array.isArray(config?.rootfs?.diff_ids) ? config.rootfs.diff_ids.length : 0;
  const described = history.filter((h) => h?.empty_layer !== true).length;
  return history.length + Math.max(0, layers - described);
}

const hex = (id: string | undefined) => (id ? id.replace(/^sha256:/, '') : undefined);
const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The v1-compatible JSON of step `stepIndex` (0 = bottom) of the image whose
 * parsed config is `config`, pretty-printed with a 2-space indent.
 * `layerId` / `parentId` are the ids the caller gives this step and the one
 * below (a `sha256:` prefix is dropped). An empty step whose id equals its
 * parent's (the layer below) gets `parent` only; otherwise a parent equal to
 * the id is left out.
 */
export function v1CompatText(config: any, stepIndex: number, layerId: string | undefined, parentId: string | undefined): string {
  const history: HistoryEntry[] = Array.isArray(config?.history) ? config.history : [];
  const h: HistoryEntry = history[stepIndex] ?? {};
  const top = stepIndex === stepCount(config) - 1;
  const id = hex(layerId);
  const parent = hex(parentId);
  const doc: Record<string, unknown> = {};
  // An empty step made no layer: given the id of the layer below as its own, it keeps only the parent.
  const throwaway = h.empty_layer === true;
  if (id && !(throwaway && id === parent)) doc.id = id;
  if (parent && parent !== doc.id) doc.parent = parent;
  if (text(h.comment)) doc.comment = h.comment;
  const created = text(h.created) ?? (top ? text(config?.created) : undefined);
  if (created) doc.created = created;
  if (top && text(config?.container)) doc.container = config.container;
  doc.container_config = { Cmd: v1Cmd(text(h.created_by)) };
  if (top && text(config?.docker_version)) doc.docker_version = config.docker_version;
  const author = text(h.author) ?? (top ? text(config?.author) : undefined);
  if (author) doc.author = author;
  if (top) {
    doc.config = config?.config ?? null;
    if (text(config?.architecture)) doc.architecture = config.architecture;
    if (text(config?.variant)) doc.variant = config.variant;
    if (text(config?.os)) doc.os = config.os;
  }
  if (throwaway) doc.throwaway = true;
  return JSON.stringify(doc, null, 2);
}
