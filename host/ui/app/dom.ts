/**
 * Building the page's elements. Every text that comes from the platform (function names, log
 * lines, error messages: all chosen by users) goes in as a text node, never as markup: this
 * file has no `innerHTML`, and the page's Content-Security-Policy would refuse inline script
 * anyway (host/ui/static.ts).
 */

export type Child = Node | string | number | null | undefined | false;

/** Attributes set with setAttribute (never `style`: the CSP allows no inline style). */
export type Attrs = Record<string, string | number | boolean | undefined>;

function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

function setAttrs(el: Element, attrs: Attrs | undefined): void {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
}

/**
 * An HTML element: `h('td', { class: 'num' }, 42)`.
 *
 * @example
 * h('li', {}, h('b', {}, fn.name), ' failed: ', message) // the message stays text, whatever it holds
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element, for the charts. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Replaces what `parent` shows. */
export function show(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A bar showing `fraction` (0..1) filled, its width set through the CSSOM (the CSP allows that). */
export function bar(fraction: number, kind = ''): HTMLElement {
  const fill = h('span', { class: 'bar-fill' });
  fill.style.width = `${Math.round(Math.max(0, Math.min(1, fraction)) * 1000) / 10}%`;
  return h('span', { class: `bar ${kind}`.trim() }, fill);
}
