// What every page of the console shares: the JSON API, the notices, the
// navigation, the busy guard, table cells. Text from the API is inserted as
// text only, never as markup; nothing is kept in storage.

const API = new URL('../api/', location.href);
export const $ = (id) => document.getElementById(id);
/** One call of the JSON API: `{status, body, retryAfter}`; status 0 when the service cannot be reached. */
export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', cache: 'no-store', headers: {} };
  if (method !== 'GET') {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(new URL(path, API), init);
  } catch {
    return { status: 0, body: { message: 'The service cannot be reached. Check your connection and try again.' } };
  }
  const data = await response.json().catch(() => ({}));
  return { status: response.status, body: data, retryAfter: response.headers.get('Retry-After') };
}

export const messageOf = (answer) => answer.body.message ?? answer.body.error?.message ?? `Unexpected answer (${answer.status}).`;
export const codeOf = (answer) => answer.body.denial_code ?? answer.body.error?.code ?? null;

export function say(kind, text) {
  const [shown, other] = kind === 'alert' ? [$('alert'), $('status')] : [$('status'), $('alert')];
  other.hidden = true;
  shown.textContent = text ?? '';
  shown.hidden = !text;
}
export const clear = () => say('status', '');

/**
 * `text` as nodes, its http(s) URLs as links: the support link of an
 * expired session, which the configured policies' message carries (only
 * that message gets links).
 */
export function withLinks(text) {
  return (text ?? '').split(/(https?:\/\/[^\s<>"]+)/).map((part, i) => {
    if (i % 2 === 0) return document.createTextNode(part);
    let url;
    try { url = new URL(part); } catch { return document.createTextNode(part); }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return document.createTextNode(part);
    const link = document.createElement('a');
    link.href = url.href;
    link.rel = 'noopener noreferrer';
    link.textContent = part;
    return link;
  });
}

export const go = (view) => location.assign(view);

/**
 * What every page does with a refusal: no session → log in; an expired
 * session → its page; a login that still needs MFA → finish it; anything
 * else → the engine's message. Returns true when it navigated away.
 */
export function follow(answer) {
  const code = codeOf(answer);
  if (code === 'no-session') { go('login'); return true; }
  if (code === 'session-expired') { go('expired'); return true; }
  if (code === 'mfa-required') { go('login'); return true; }
  say('alert', messageOf(answer));
  return false;
}

/** The caller's session (allowed), or null after following the refusal. */
export async function session() {
  const answer = await api('GET', 'session');
  if (answer.status === 200) return answer.body;
  follow(answer);
  return null;
}

export function showNav(current, who) {
  $('nav').hidden = false;
  $('who').textContent = `${who.id} · ${who.organization}`;
  for (const link of document.querySelectorAll('[data-nav]')) {
    // Each role sees its own pages: support agents the support desk.
    link.hidden = !link.dataset.for.split(' ').includes(who.role);
    if (link.dataset.nav === current) link.setAttribute('aria-current', 'page');
  }
}

/**
 * `work` once at a time per control. The control stays enabled (a disabled
 * one would drop the keyboard focus to the page); a second press waits —
 * and a second submit of a form never falls through to the browser's own,
 * which would put its fields (a password, a ticket) in a URL.
 */
export function busy(control, work) {
  let running = false;
  return async (...args) => {
    args[0]?.preventDefault?.();
    if (running) return;
    running = true;
    control.setAttribute('aria-busy', 'true');
    try { await work(...args); } finally {
      running = false;
      control.removeAttribute('aria-busy');
    }
  };
}

/** A cell of `text`; `label` is its column's name, shown beside it when a phone stacks the table. */
export function cell(row, text, label) {
  const td = document.createElement('td');
  td.textContent = text;
  if (label) td.dataset.label = label;
  row.append(td);
  return td;
}
