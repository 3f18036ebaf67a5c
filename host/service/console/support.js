// The support desk (R14) in the console: the agents' page (open a case,
// the cases with their state and time left, approve, issue the ticket,
// cancel), the pending-case banner of an account holder and their root
// ("this wasn't me"), the login with a recovery ticket, and the page of a
// notification's cancel link. Every step is the policies' decision; the
// page shows the engine's answer. No page ever holds a ticket it did not
// get from the person typing it.

import { $, api, busy, cell, follow, go, messageOf, say, session, showNav } from './common.js';

const CHECK_TEXT = {
  code_to_email_on_file: 'code to e-mail',
  callback_to_phone_on_file: 'call-back',
  confirmed_by_root: 'root confirmed',
  document_check: 'document',
};
const STATE_TEXT = {
  open: 'Open',
  cancelled: 'Cancelled',
  ticket_issued: 'Ticket sent to the account holder',
  redeemed: 'Redeemed',
};

const shortTime = (at) => at.replace('T', ' ').replace(/(:\d\d)?(\.\d+)?Z$/, '');

/** What is left of a waiting period, on the service's clock. */
function timeLeft(readyAt, now) {
  const minutes = Math.ceil((Date.parse(readyAt) - Date.parse(now)) / 60000);
  if (!(minutes > 0)) return 'ready to issue';
  const hours = Math.floor(minutes / 60);
  return `waiting: ${hours ? `${hours} h ` : ''}${minutes % 60} min left`;
}

// ---- The support desk's page (agents).

const CASE_ACTIONS = [
  { path: 'approve', text: 'Approve', when: ['open'] },
  { path: 'issue-ticket', text: 'Issue ticket', when: ['open'] },
  { path: 'cancel', text: 'Cancel', when: ['open', 'ticket_issued'], danger: true },
];

async function showCases() {
  const answer = await api('GET', 'recovery-cases');
  if (answer.status !== 200) return follow(answer);
  const { cases, now } = answer.body;
  $('cases').replaceChildren(...cases.map((c) => {
    const row = document.createElement('tr');
    const account = document.createElement('th');
    account.scope = 'row';
    account.textContent = `${c.account} (${c.organization})`;
    row.append(account);
    cell(row, c.ticket_reference, 'Reference');
    cell(row, `${shortTime(c.opened_at)} by ${c.opened_by}`, 'Opened');
    cell(row, c.checks.map((k) => CHECK_TEXT[k] ?? k).join(', '), 'Checks');
    const approved = c.approved_by ? `, approved by ${c.approved_by}` : '';
    const closed = c.closed_by ? ` by ${c.closed_by}` : '';
    cell(row, `${STATE_TEXT[c.state] ?? c.state}${approved}${closed}`, 'State');
    cell(row, c.state === 'open' && c.ticket_ready_at ? timeLeft(c.ticket_ready_at, now) : '—', 'Ticket');
    const actions = cell(row, '', 'Actions');
    for (const action of CASE_ACTIONS.filter((a) => a.when.includes(c.state))) {
      const button = document.createElement('button');
      button.type = 'button';
      if (action.danger) button.className = 'danger';
      button.textContent = action.text;
      button.setAttribute('aria-label', `${action.text} — case of ${c.account} (${c.ticket_reference})`);
      button.addEventListener('click', busy(button, () => caseStep(c.id, action.path)));
      actions.append(button);
    }
    if (!actions.childElementCount) actions.textContent = '—';
    return row;
  }));
  return true;
}

/** A step on a case; the engine's answer is the page's. */
async function caseStep(id, path) {
  const answer = await api('POST', `recovery-cases/${encodeURIComponent(id)}/${path}`);
  if (!answer.body.allowed) return follow(answer);
  say('status', answer.body.message);
  await showCases();
}

export async function supportView() {
  const me = await session();
  if (!me) return;
  if (!me.mfa_satisfied) return go('login');
  showNav('support', me.user);
  $('open-case-form').addEventListener('submit', busy($('open-case-form'), async (event) => {
    event.preventDefault();
    const checks = [...document.querySelectorAll('input[name="check"]:checked')].map((c) => c.value);
    const answer = await api('POST', 'recovery-cases', {
      account: $('case-account').value.trim(),
      ticket_reference: $('case-reference').value.trim(),
      checks,
    });
    if (!answer.body.allowed) return follow(answer);
    $('open-case-form').reset();
    say('status', answer.body.message);
    await showCases();
  }));
  await showCases();
}

// ---- The pending-case banner (account holders and roots).

/** Shows the recovery cases the caller (`me`) may cancel, each with its button. */
export async function showPendingCases(me) {
  const answer = await api('GET', 'recovery-cases');
  const cases = answer.status === 200 ? answer.body.cases : [];
  $('cases-banner').hidden = cases.length === 0;
  $('pending-cases').replaceChildren(...cases.map((c) => {
    const item = document.createElement('li');
    const text = document.createElement('p');
    text.textContent = `Support agent ${c.opened_by} opened a case on ${shortTime(c.opened_at)} UTC to remove `
      + `the authenticator app of ${c.account} (support reference ${c.ticket_reference}). `
      + (c.state === 'ticket_issued' ? 'Its recovery ticket has been sent. ' : '')
      + 'If nobody asked for it, cancel it: it will never be carried out.';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'danger';
    button.textContent = c.account === me ? "This wasn't me: cancel it" : 'Cancel this recovery';
    button.setAttribute('aria-label', `Cancel the recovery case of ${c.account} (${c.ticket_reference})`);
    button.addEventListener('click', busy(button, async () => {
      const cancelled = await api('POST', `recovery-cases/${encodeURIComponent(c.id)}/cancel`);
      if (!cancelled.body.allowed) return follow(cancelled);
      say('status', cancelled.body.message);
      await showPendingCases(me);
    }));
    item.append(text, button);
    return item;
  }));
}

// ---- The login with a recovery ticket.

/** Wires the ticket form of the login page; `next` goes on with the login's next step. */
export function ticketLogin(showStep, next) {
  $('use-ticket').addEventListener('click', () => showStep('ticket'));
  $('back-to-password').addEventListener('click', () => showStep('password'));
  $('ticket-form').addEventListener('submit', busy($('ticket-form'), async (event) => {
    event.preventDefault();
    const answer = await api('POST', 'login/ticket', {
      user: $('ticket-user').value,
      password: $('ticket-password').value,
      ticket: $('ticket').value.trim(),
    });
    $('ticket-password').value = '';
    if (answer.status !== 200) return say('alert', messageOf(answer));
    $('ticket').value = '';
    say('status', 'Your authenticator app has been removed: set up a new one now.');
    await next(answer.body.next_step);
  }));
}

// ---- A notification's cancel link: its fragment holds the token.

export async function cancelCaseView() {
  const token = location.hash.slice(1);
  // Out of the address bar and the history at once: the token is a credential.
  history.replaceState(null, '', location.pathname);
  if (!token) return say('alert', 'This link is incomplete: open the whole link from the e-mail.');
  $('cancel-case-body').hidden = false;
  // Cancelled on a press, never on opening: mail scanners open links too.
  $('cancel-case').addEventListener('click', busy($('cancel-case'), async () => {
    const answer = await api('POST', 'recovery-cases/cancel-link', { token });
    if (!answer.body.allowed) return say('alert', messageOf(answer));
    $('cancel-case-body').hidden = true;
    say('status', answer.body.message);
  }));
}
