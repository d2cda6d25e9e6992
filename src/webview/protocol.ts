/**
 * THE message contract of the Layer JSON editor, imported by both sides: the
 * extension host (src/layerJsonEditorProvider.ts) and the webview
 * (src/webview/layerJson.ts). Free of `vscode` and of the DOM.
 *
 * One union per direction. Every message carries the URI of the document it is
 * about (`uri`, as `Uri.toString()`); each side ignores messages for another
 * document. The handshake: the webview posts `ready` once its script runs; the
 * host answers with `load` (the document) or `error` (why it cannot be shown),
 * never with nothing. Requests (`openParent`, `openAsText`, `copy`, `reload`)
 * carry a `requestId` and are always answered with `settled`, failed or not.
 */

export type ChangeKind = 'added' | 'removed' | 'changed';
export type DocumentKind = 'legacy-json' | 'image-config' | 'v1-compat';

/** One difference from the parent step's document, placed in the text the webview shows. */
export interface ViewChange {
  readonly kind: ChangeKind;
  /** Human path: `config.Env[2]`, `config.Labels["org.x"]`. */
  readonly display: string;
  /** The same path as a JSON pointer: `/config/Env/2`. */
  readonly pointer: string;
  /** added / changed: the property (key through value) or element in the shown text. */
  readonly offset?: number;
  readonly length?: number;
  /** added / changed: the value alone in the shown text. */
  readonly valueOffset?: number;
  readonly valueLength?: number;
  /** removed: where it would stand in the shown text. */
  readonly anchorOffset?: number;
  /** removed: the parent's lines for it, as they stood (indentation kept). */
  readonly removedLines?: readonly string[];
  /** changed / removed: the parent's value as compact JSON. */
  readonly before?: string;
}

/** The step below, for the header's parent link. */
export interface ParentInfo {
  readonly stepIndex: number;
  readonly createdBy: string;
  readonly kind?: DocumentKind;
  /** Why its document could not be compared (unreadable, corrupt); the view then shows no changes. */
  readonly problem?: string;
}

/** Host timings in milliseconds, for the `rendered` report. */
export interface HostTimings {
  /** Reading the two documents from disk. */
  readonly readMs: number;
  /** Re-indenting one-line documents. */
  readonly formatMs: number;
  readonly diffMs: number;
}

/** Everything the webview shows for one step. */
export interface LayerView {
  /** Image name (first tag) or short id. */
  readonly imageName: string;
  readonly imageId: string;
  readonly stepIndex: number;
  readonly stepCount: number;
  readonly createdBy: string;
  readonly created?: string;
  readonly empty: boolean;
  /** Human size of the step's layer (`1.98MB`); empty steps say so instead. */
  readonly size: string;
  readonly layerId?: string;
  readonly kind: DocumentKind;
  /** The file the document was read from (none for v1-compat). */
  readonly path?: string;
  /** True when the text on disk is one line and was re-indented for display. */
  readonly reformatted: boolean;
  /** Undefined for step 0 (a base layer). */
  readonly parent?: ParentInfo;
  /** The shown text: 2-space JSON; every offset above points into it. */
  readonly text: string;
  /** Sorted by where they stand in `text` (removed ones by anchor). */
  readonly changes: readonly ViewChange[];
  readonly timings: HostTimings;
}

/** Why a document cannot be shown. */
export interface ViewError {
  readonly title: string;
  readonly message: string;
  readonly code?: string;
  readonly path?: string;
  /** For corrupt JSON: the text around the first error. */
  readonly excerpt?: { readonly before: string; readonly at: string; readonly after: string; readonly line: number; readonly column: number };
}

/** What the webview drew, posted after each full render: the tests' window into the view. */
export interface RenderReport {
  readonly state: 'document' | 'error';
  /** The changes the view highlights, in order, with the 1-based line they are drawn at and the text they mark. */
  readonly changes: readonly { kind: ChangeKind; display: string; line: number; text: string }[];
  readonly summary: { readonly added: number; readonly changed: number; readonly removed: number };
  readonly lines: number;
  /** Rows in the scrolling list (lines, removed rows and fold rows) and how many are in the DOM. */
  readonly rows: number;
  readonly domRows: number;
  readonly onlyChanges: boolean;
  /** Index of the focused change, -1 when none. */
  readonly current: number;
  readonly error?: string;
  readonly timings: HostTimings & {
    /** From the script starting to the document message arriving. */
    readonly scriptToLoadMs: number;
    /** The synchronous part of drawing it: line model, header, rows in view. */
    readonly drawMs: number;
    /** From the document message arriving to the first frame painted with it. */
    readonly loadToPaintMs: number;
  };
}

/** Actions the host can ask the view to perform, as if the user had pressed the control. */
export type ViewAction = 'nextChange' | 'previousChange' | 'toggleOnlyChanges' | 'openParent' | 'copyPath' | 'copyValue' | 'expandAll';

export type RequestKind = 'openParent' | 'openAsText' | 'copy' | 'reload';

export type WebviewMessage =
  | { readonly type: 'ready'; readonly uri: string }
  | { readonly type: 'openParent'; readonly uri: string; readonly requestId: number }
  | { readonly type: 'openAsText'; readonly uri: string; readonly requestId: number }
  | { readonly type: 'copy'; readonly uri: string; readonly requestId: number; readonly text: string }
  | { readonly type: 'reload'; readonly uri: string; readonly requestId: number }
  | { readonly type: 'rendered'; readonly uri: string; readonly report: RenderReport }
  /** A failure inside the view, for the host's log. */
  | { readonly type: 'failed'; readonly uri: string; readonly message: string };

export type HostMessage =
  | { readonly type: 'load'; readonly uri: string; readonly view: LayerView }
  | { readonly type: 'error'; readonly uri: string; readonly error: ViewError }
  | { readonly type: 'settled'; readonly uri: string; readonly requestId: number; readonly ok: boolean; readonly error?: string }
  | { readonly type: 'action'; readonly uri: string; readonly action: ViewAction };

/** One-line explanations of the document kinds, for the header. */
export const KIND_NOTES: Readonly<Record<DocumentKind, string>> = {
  'legacy-json': 'graph/<id>/json of a legacy root, verbatim',
  'image-config': 'the config of the image this step made, verbatim',
  'v1-compat': "the v1-compatible JSON docker save writes, made from the image's history",
};

export function isWebviewMessage(m: unknown): m is WebviewMessage {
  if (typeof m !== 'object' || m === null) return false;
  const { type, uri } = m as { type?: unknown; uri?: unknown };
  return typeof uri === 'string' && typeof type === 'string' && ['ready', 'openParent', 'openAsText', 'copy', 'reload', 'rendered', 'failed'].includes(type);
}

export function isHostMessage(m: unknown): m is HostMessage {
  if (typeof m !== 'object' || m === null) return false;
  const { type, uri } = m as { type?: unknown; uri?: unknown };
  return typeof uri === 'string' && typeof type === 'string' && ['load', 'error', 'settled', 'action'].includes(type);
}
