/// <reference lib="dom" />
/**
 * DOM building for the webview: elements made with createElement and text set
 * with textContent, never innerHTML, so text from disk stays text. No inline
 * `style=""` either (the CSP forbids it): classes, or CSSOM where a value is
 * computed.
 */

export type Child = Node | string | number | undefined | null | false;

export interface Props {
  class?: string;
  title?: string;
  role?: string;
  tabIndex?: number;
  type?: string;
  disabled?: boolean;
  /** aria-* attributes, without the prefix. */
  aria?: Record<string, string | undefined>;
  /** data-* attributes, without the prefix. */
  data?: Record<string, string | undefined>;
  onclick?: (e: Event) => void;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.title !== undefined) el.title = props.title;
  if (props.role) el.setAttribute('role', props.role);
  if (props.tabIndex !== undefined) el.tabIndex = props.tabIndex;
  if (props.type && el instanceof HTMLButtonElement) el.type = props.type as 'button';
  if (props.disabled !== undefined && el instanceof HTMLButtonElement) el.disabled = props.disabled;
  for (const [k, v] of Object.entries(props.aria ?? {})) if (v !== undefined) el.setAttribute(`aria-${k}`, v);
  for (const [k, v] of Object.entries(props.data ?? {})) if (v !== undefined) el.dataset[k] = v;
  if (props.onclick) el.addEventListener('click', props.onclick);
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** A span with a class and text: the unit of a drawn line. */
export function span(cls: string, text: string): HTMLSpanElement {
  const el = document.createElement('span');
  el.className = cls;
  el.textContent = text;
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

/** 16×16 line icons in the spirit of codicons, drawn with currentColor. */
const ICONS = {
  up: 'M8 13.5V3M4 7l4-4 4 4',
  down: 'M8 2.5V13M4 9l4 4 4-4',
  fold: 'M4 2.5l4 3.5 4-3.5M4 13.5l4-3.5 4 3.5',
  unfold: 'M4 6l4-3.5L12 6M4 10l4 3.5 4-3.5',
  copy: 'M5.5 5.5h8v8h-8zM10.5 5.5v-3h-8v8h3',
  file: 'M3.5 1.5h6l3 3v10h-9zM9.5 1.5v3h3M5.5 8h5M5.5 10.5h5M5.5 13h3',
  parent: 'M8 13.5V3M4 7l4-4 4 4M3 13.5h10',
  error: 'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM5.5 5.5l5 5M10.5 5.5l-5 5',
  warning: 'M8 1.8l6.5 11.7h-13zM8 6v4M8 11.3v1.2',
  info: 'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM8 7v4.5M8 4.5v1.2',
  retry: 'M13 8a5 5 0 1 1-1.46-3.54M13.5 2v3.5H10',
  base: 'M2.5 12.5h11M4.5 9.5h7M6.5 6.5h3',
} as const;

export type IconName = keyof typeof ICONS;

export function icon(name: IconName, cls = 'icon'): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', cls);
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', ICONS[name]);
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '1.1');
  path.setAttribute('stroke-linecap', 'round');
  path.setAttribute('stroke-linejoin', 'round');
  svg.append(path);
  return svg;
}

/** A toolbar button: an icon, an optional visible label, an accessible name and a tooltip. */
export function button(opts: { icon: IconName; label?: string; name: string; title?: string; onClick: () => void; pressed?: boolean }): HTMLButtonElement {
  const b = h('button', {
    type: 'button',
    class: opts.label ? 'tb-button has-label' : 'tb-button',
    title: opts.title ?? opts.name,
    aria: { label: opts.name, pressed: opts.pressed === undefined ? undefined : String(opts.pressed) },
    onclick: () => opts.onClick(),
  });
  b.append(icon(opts.icon));
  if (opts.label) b.append(span('tb-label', opts.label));
  return b;
}
