/// <reference lib="dom" />
/**
 * The top of the editor: which step this is (image, `step N of M`, its
 * Dockerfile command, size, document kind, the parent link and notes), and the
 * toolbar (previous / next change, only changes, copy path / value, open as
 * text, the `+3 ~1 −2` summary).
 */
import { shortStep } from '../core/format';
import { button, h, icon, span } from './dom';
import { KIND_NOTES, type DocumentKind, type LayerView, type ViewChange } from './protocol';

const KIND_NAMES: Record<DocumentKind, string> = {
  'legacy-json': 'legacy layer JSON',
  'image-config': 'image config',
  'v1-compat': 'v1-compatible JSON',
};

function kindName(kind: DocumentKind): string {
  return KIND_NAMES[kind];
}

export function renderHeader(view: LayerView, openParent: () => void): HTMLElement {
  const short = shortStep(view.createdBy) || '(no command recorded)';
  const title = h(
    'div',
    { class: 'title-row' },
    h('h1', { class: 'image-name', title: view.imageId }, view.imageName),
    span('step-pos', `step ${view.stepIndex} of ${view.stepCount}`),
    h('span', { class: `badge kind kind-${view.kind}`, title: KIND_NOTES[view.kind] }, kindName(view.kind)),
  );
  const command = h('div', { class: 'command', title: view.createdBy || undefined }, short);
  const full = view.createdBy && view.createdBy !== short ? h('div', { class: 'command-full', aria: { label: 'Full command' } }, view.createdBy) : undefined;

  const facts = h('div', { class: 'facts' });
  const fact = (label: string, value: string | Node, tip?: string) =>
    facts.append(h('span', { class: 'fact', title: tip }, span('fact-label', label), typeof value === 'string' ? span('fact-value', value) : value));
  if (view.empty) facts.append(h('span', { class: 'fact', title: 'This step changed no file, only the image config' }, span('fact-value', 'empty step')));
  else fact('size', view.size);
  if (view.layerId) fact('layer', view.layerId.replace(/^sha256:/, '').slice(0, 12), view.layerId);
  if (view.created) fact('created', view.created.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), view.created);
  fact('document', `${KIND_NOTES[view.kind]}${view.reformatted ? ' (one line on disk, indented here)' : ''}`, view.path);

  const parentRow = h('div', { class: 'parent-row' });
  if (!view.parent) {
    parentRow.append(icon('base', 'icon muted'), span('muted', 'base layer: no parent, nothing to compare with'));
  } else {
    const p = view.parent;
    const pShort = shortStep(p.createdBy) || '(no command recorded)';
    parentRow.append(
      span('fact-label', 'changes from'),
      h(
        'button',
        { type: 'button', class: 'link parent-link', title: `Open step ${p.stepIndex}: ${p.createdBy}`, aria: { label: `Open the parent, step ${p.stepIndex}: ${pShort}` }, onclick: () => openParent() },
        icon('parent'),
        span('', `step ${p.stepIndex}`),
        span('parent-cmd', pShort.length > 90 ? pShort.slice(0, 89) + '…' : pShort),
      ),
    );
  }

  const notes: HTMLElement[] = [];
  if (view.parent?.problem) notes.push(note('warning', `No changes shown: ${view.parent.problem}`));
  else if (view.parent?.kind && view.parent.kind !== view.kind) {
    notes.push(
      note(
        'info',
        `The parent step's document is ${withArticle(kindName(view.parent.kind))} and this one is ${withArticle(kindName(view.kind))}: ` +
          'the changes compare unlike documents, so keys only one kind has show as added or removed.',
      ),
    );
  }
  return h('header', { class: 'head' }, title, command, full, facts, parentRow, ...notes);
}

function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

function note(kind: 'warning' | 'info', text: string): HTMLElement {
  return h('div', { class: `note note-${kind}`, role: 'note' }, icon(kind), span('', text));
}

export interface ToolbarActions {
  previous(): void;
  next(): void;
  toggleOnlyChanges(): void;
  copyPath(): void;
  copyValue(): void;
  openAsText(): void;
}

/** The toolbar; `update` keeps its state in step with the view. */
export class Toolbar {
  readonly el: HTMLElement;
  private readonly position = span('position', '');
  private readonly status = h('span', { class: 'status', role: 'status', aria: { live: 'polite' } });
  /** Announces the focused change to screen readers (the toolbar already shows where it is). */
  private readonly announcer = h('span', { class: 'visually-hidden', aria: { live: 'polite' } });
  private readonly only: HTMLButtonElement;
  private readonly prev: HTMLButtonElement;
  private readonly nextButton: HTMLButtonElement;
  private readonly copyPathButton: HTMLButtonElement;
  private readonly copyValueButton: HTMLButtonElement;
  private statusTimer = 0;

  constructor(changes: readonly ViewChange[], actions: ToolbarActions) {
    this.prev = button({ icon: 'up', name: 'Previous change', title: 'Previous change (Shift+F7, p)', onClick: actions.previous });
    this.nextButton = button({ icon: 'down', name: 'Next change', title: 'Next change (F7, n)', onClick: actions.next });
    this.only = button({ icon: 'fold', label: 'Only changes', name: 'Show only changes', title: 'Show only the changed lines and a few around them', onClick: actions.toggleOnlyChanges, pressed: false });
    this.copyPathButton = button({ icon: 'copy', label: 'Path', name: 'Copy JSON path of the change', title: 'Copy the JSON path of the focused change', onClick: actions.copyPath });
    this.copyValueButton = button({ icon: 'copy', label: 'Value', name: 'Copy value of the change', title: 'Copy the value of the focused change', onClick: actions.copyValue });
    const open = button({ icon: 'file', label: 'Open as Text', name: 'Open as Text', title: 'Open this JSON in a text editor', onClick: actions.openAsText });
    const counts = { added: 0, changed: 0, removed: 0 };
    for (const c of changes) counts[c.kind]++;
    const summary = h(
      'span',
      { class: 'summary', role: 'img', aria: { label: `${counts.added} added, ${counts.changed} changed, ${counts.removed} removed` }, title: `${counts.added} added, ${counts.changed} changed, ${counts.removed} removed` },
      span('sum-add', `+${counts.added}`),
      span('sum-mod', `~${counts.changed}`),
      span('sum-del', `−${counts.removed}`),
    );
    this.el = h(
      'div',
      { class: 'toolbar', role: 'toolbar', aria: { label: 'Changes from the parent step' } },
      this.prev,
      this.nextButton,
      this.position,
      span('sep', ''),
      this.only,
      span('sep', ''),
      this.copyPathButton,
      this.copyValueButton,
      span('sep', ''),
      open,
      h('span', { class: 'spacer' }),
      this.status,
      summary,
      this.announcer,
    );
  }

  update(current: number, total: number, onlyChanges: boolean): void {
    this.position.textContent = total === 0 ? 'no changes' : current < 0 ? `${total} change${total === 1 ? '' : 's'}` : `${current + 1} of ${total}`;
    this.prev.disabled = this.nextButton.disabled = total === 0;
    this.copyPathButton.disabled = this.copyValueButton.disabled = current < 0;
    this.only.setAttribute('aria-pressed', String(onlyChanges));
    this.only.classList.toggle('on', onlyChanges);
  }

  announce(text: string): void {
    this.announcer.textContent = text;
  }

  /** A short message beside the summary (and to screen readers), gone after a few seconds. */
  say(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('error', error);
    clearTimeout(this.statusTimer);
    this.statusTimer = window.setTimeout(() => (this.status.textContent = ''), error ? 8000 : 3000);
  }
}
