/**
 * The dashboard (`GET /ui`): polls `GET /v1/overview` and `GET /v1/errors` of the host that
 * served it every 2 s with the user's token (`read` scope), keeps a history of the readings
 * for the charts, and redraws the panels. No framework: the DOM, and SVG for the charts.
 */
import './style.css';
import { ApiError, forgetToken, getJson, saveToken, takeToken } from './api.ts';
import { show } from './dom.ts';
import { ERRORS_SHOWN, errorsPanel, type ErrorsState, type RecentError } from './errors.ts';
import * as f from './format.ts';
import { History } from './history.ts';
import * as panels from './panels.ts';
import type { Overview } from '../overview.ts';

/** How often the page polls the host. */
const POLL_MS = 2000;

const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el;
};

let token = takeToken();
const history = new History();
let timer: number | undefined;
let lastOk = 0;

function askForToken(reason: string): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  $('main').hidden = true;
  $('signout').hidden = true;
  $('login').hidden = false;
  status('signed out', 'down');
  show($('login-reason'), reason);
  ($('token-input') as HTMLInputElement).focus();
}

function status(text: string, kind: 'live' | 'stale' | 'down'): void {
  const el = $('status');
  el.className = `status ${kind}`;
  show(el, text);
}

async function readErrors(): Promise<ErrorsState> {
  try {
    const { errors } = await getJson<{ errors: RecentError[] }>(`/v1/errors?limit=${ERRORS_SHOWN}`, token);
    return { errors };
  } catch (err) {
    if (err instanceof ApiError && err.code === 'UNKNOWN_ROUTE') return { unavailable: 'This host does not keep recent errors (GET /v1/errors).' };
    // The rest of the page does not wait for this panel: it says what went wrong instead.
    if (err instanceof ApiError && err.code !== 'UNAUTHENTICATED' && err.code !== 'FORBIDDEN') return { unavailable: `Recent errors could not be read: ${err.code}: ${err.message}` };
    throw err;
  }
}

async function poll(): Promise<void> {
  timer = undefined;
  try {
    const [o, errors] = await Promise.all([getJson<Overview>('/v1/overview', token), readErrors()]);
    history.add(o);
    lastOk = Date.now();
    draw(o, errors);
    status(`live · ${f.clock(o.time)}`, 'live');
  } catch (err) {
    if (err instanceof ApiError && (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN')) {
      askForToken(err.code === 'FORBIDDEN'
        ? 'This token may not read the dashboard: it needs the read scope.'
        : token === undefined ? 'This host wants a token with the read scope.' : 'The host refused this token (unknown, expired or revoked).');
      return;
    }
    status(lastOk === 0 ? `no answer: ${err instanceof Error ? err.message : String(err)}` : `stale · last answer ${f.ago(lastOk, Date.now())}`, lastOk === 0 ? 'down' : 'stale');
  }
  timer = window.setTimeout(() => void poll(), POLL_MS);
}

function draw(o: Overview, errors: ErrorsState): void {
  $('login').hidden = true;
  $('main').hidden = false;
  $('signout').hidden = false;
  show($('where'), `host ${o.host.id} · tenant ${o.tenant}`);
  show($('summary'), ...panels.summary(o, history));
  show($('functions'), panels.functions(o, history));
  show($('cluster'), panels.cluster(o));
  show($('cache'), panels.cache(o, history));
  show($('dags'), panels.dags(o));
  // Keep the errors the user opened open across redraws.
  const open = new Set(Array.from(document.querySelectorAll('#errors li[data-call] details[open]')).map((d) => d.parentElement?.getAttribute('data-call')));
  const firstDraw = document.querySelector('#errors ul, #errors p') === null;
  show($('errors'), errorsPanel(errors, o.time));
  if (!firstDraw) {
    for (const li of Array.from(document.querySelectorAll('#errors li[data-call]'))) {
      const d = li.querySelector('details');
      if (d !== null) d.open = open.has(li.getAttribute('data-call'));
    }
  }
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('token-input') as HTMLInputElement;
  if (input.value.trim() === '') return;
  saveToken(input.value);
  token = input.value.trim();
  input.value = '';
  $('login').hidden = true;
  void poll();
});

$('signout').addEventListener('click', () => {
  forgetToken();
  token = undefined;
  askForToken('Paste a token with the read scope.');
});

void poll();
