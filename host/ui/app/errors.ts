/**
 * Recent errors: the tenant's latest failed calls over every host, newest first, each with the
 * log lines of its call (`GET /v1/errors`, the logs contract: host/README.md "Logs"). Messages
 * and log lines are the user's text: shown as text.
 */
import type { ErrorEntry } from '../../logs/log-line.ts';
import { h } from './dom.ts';
import * as f from './format.ts';

/** A failed call as `GET /v1/errors` lists it (its type is the host's: logs/log-line.ts). */
export type RecentError = ErrorEntry;

/** How many errors the page asks for. */
export const ERRORS_SHOWN = 20;

/** What the errors panel knows: the list, or why there is none. */
export type ErrorsState = { errors: RecentError[] } | { unavailable: string };

export function errorsPanel(state: ErrorsState, now: number): HTMLElement {
  if ('unavailable' in state) return h('p', { class: 'empty' }, state.unavailable);
  if (state.errors.length === 0) return h('p', { class: 'empty good' }, 'No failed calls lately.');
  return h('ul', { class: 'errors' }, ...state.errors.map((e, i) =>
    h('li', { 'data-call': e.callId },
      h('details', { open: i === 0 },
        h('summary', {},
          h('span', { class: 'code' }, e.code),
          h('span', { class: 'name' }, e.fn),
          h('span', { class: 'message' }, e.message),
          h('span', { class: 'muted when', title: new Date(e.time).toISOString() }, `${f.clock(e.time)} · ${f.ago(e.time, now)} · host ${e.host}`)),
        e.logs.length === 0
          ? h('p', { class: 'empty small' }, 'The call logged nothing.')
          : h('ol', { class: 'logs' }, ...e.logs.map((l) =>
            h('li', { class: `log ${['debug', 'info', 'warn', 'error'].includes(l.level) ? l.level : 'info'}` },
              h('span', { class: 'log-time' }, f.clock(l.time)),
              h('span', { class: 'log-level' }, l.level),
              h('span', { class: 'log-message' }, l.message)))),
        h('p', { class: 'muted small' }, `call ${e.callId}`),
      ))));
}
