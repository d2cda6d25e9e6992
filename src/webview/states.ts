/// <reference lib="dom" />
/** The view's other states: loading, and an error that says what went wrong and where. */
import { button, h, icon, span } from './dom';
import type { ViewError } from './protocol';

export function renderLoading(): HTMLElement {
  return h('div', { class: 'state loading', role: 'status', aria: { live: 'polite' } }, h('div', { class: 'progress' }), span('muted', 'Reading the layer JSON…'));
}

export function renderError(error: ViewError, actions: { retry(): void; openAsText(): void }): HTMLElement {
  const parts: (Node | undefined)[] = [
    h('div', { class: 'error-title' }, icon('error', 'icon error-icon'), h('h1', {}, error.title)),
    h('p', { class: 'error-message' }, error.message),
  ];
  if (error.path) parts.push(h('p', { class: 'error-path' }, span('fact-label', 'file'), span('path', error.path)));
  if (error.excerpt) {
    const x = error.excerpt;
    parts.push(
      h('p', { class: 'muted' }, `Line ${x.line}, column ${x.column}:`),
      h('pre', { class: 'excerpt', aria: { label: `Text around the error: ${x.before}${x.at}${x.after}` } }, span('', x.before), h('mark', {}, x.at || ' '), span('', x.after)),
    );
  }
  if (error.code) parts.push(h('p', { class: 'muted small' }, `error code: ${error.code}`));
  parts.push(
    h(
      'div',
      { class: 'error-actions' },
      button({ icon: 'retry', label: 'Try Again', name: 'Read the document again', onClick: actions.retry }),
      button({ icon: 'file', label: 'Open as Text', name: 'Open as Text', title: 'Open the document as it is on disk in a text editor', onClick: actions.openAsText }),
    ),
  );
  return h('div', { class: 'state error-state', role: 'alert' }, ...parts.filter((p): p is Node => p !== undefined));
}
