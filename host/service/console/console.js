// The console's behaviour. Every page asks the JSON API and shows what the
// engine answered; nothing is decided here (a button the API would refuse
// is refused by the API, with the engine's message). Text from the API is
// inserted as text only, never as markup, and nothing is kept in storage:
// the session is the service's HttpOnly cookie.

import {
  $, api, messageOf, codeOf, say, clear, withLinks, go, follow, session, showNav, busy, cell,
} from './common.js';
import { cancelCaseView, showPendingCases, supportView, ticketLogin } from './support.js';
import { profileCodes, recoveryCodeLogin, setUpCodesPanel, showCodes } from './codes.js';

const VIEWS = ['login', 'profile', 'organization', 'expired', 'invitation', 'support', 'cancel-case'];

const MFA_TEXT = {
  off: 'Off — you log in with your password only',
  enrolment_due: 'On — you set up an authenticator app at your next login',
  active: 'On — an authenticator app is set up',
};
const ROLE_TEXT = { root: 'Root user', sub_user: 'Sub-user', support_agent: 'Support agent' };
const MFA_SHORT = { off: 'Off', enrolment_due: 'Due at next login', active: 'Active' };

// ---- Log in: password, then whatever the engine says the login needs.

function showStep(step) {
  for (const form of document.querySelectorAll('[data-step]')) form.hidden = form.dataset.step !== step;
  const first = document.querySelector(`[data-step="${step}"] input`);
  first?.focus();
}

/**
 * The step a login needs. Right after the password an enrolment shows its
 * key at once; a login resumed later (a reload) asks first, as a new key
 * voids the one shown before.
 */
async function nextStep(step, { resumed = false } = {}) {
  if (step === 'code') return showStep('code');
  if (step !== 'enrol') return go('profile');
  if (!resumed) return startEnrolment();
  $('no-key').hidden = false;
  $('key').hidden = true;
  showStep('enrol');
  $('new-key').focus();
}

async function startEnrolment() {
  const answer = await api('POST', 'enrolment/start');
  if (answer.status !== 200) return follow(answer);
  const { uri, qr_png_base64: png } = answer.body;
  if (/^[A-Za-z0-9+/]+=*$/.test(png ?? '')) $('qr').src = `data:image/png;base64,${png}`;
  const secret = new URL(uri).searchParams.get('secret') ?? '';
  $('secret').textContent = secret.match(/.{1,4}/g)?.join(' ') ?? '';
  $('uri').textContent = uri;
  say('status', answer.body.message);
  $('no-key').hidden = true;
  $('key').hidden = false;
  showStep('enrol');
}

/** The key leaves the page with it: the back button cannot bring it back. */
function forgetKey() {
  $('qr').removeAttribute('src');
  $('secret').textContent = '';
  $('uri').textContent = '';
}

function waitOut(seconds) {
  const submit = $('code-form').querySelector('button');
  let left = Number.parseInt(seconds, 10);
  if (!(left > 0)) return;
  submit.disabled = true;
  const tick = () => {
    if (left <= 0) {
      $('wait').textContent = '';
      submit.disabled = false;
      return;
    }
    $('wait').textContent = `Locked: try again in ${left} second${left === 1 ? '' : 's'}.`;
    left -= 1;
    setTimeout(tick, 1000);
  };
  tick();
}

async function loginView() {
  $('password-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const answer = await api('POST', 'login', { user: $('user').value, password: $('password').value });
    $('password').value = '';
    if (answer.status !== 200) return say('alert', messageOf(answer));
    clear();
    await nextStep(answer.body.next_step);
  });
  $('code-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const answer = await api('POST', 'login/code', { code: $('code').value });
    $('code').value = '';
    if (answer.body.result === 'accepted') return go('profile');
    if (!answer.body.result) return follow(answer);
    say('alert', messageOf(answer));
    waitOut(answer.retryAfter);
  });
  $('enrol-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const answer = await api('POST', 'enrolment/confirm', { code: $('first-code').value });
    $('first-code').value = '';
    if (answer.body.result === 'accepted') {
      // R15: the new recovery codes, shown this once.
      forgetKey();
      if (answer.body.recovery_codes?.length) {
        say('status', answer.body.message);
        return showCodes(answer.body.recovery_codes, () => go('profile'));
      }
      return go('profile');
    }
    if (!answer.body.result) return follow(answer);
    say('alert', messageOf(answer));
  });

  $('new-key').addEventListener('click', busy($('new-key'), startEnrolment));
  ticketLogin(showStep, nextStep);
  recoveryCodeLogin(showStep);

  // A session that has not finished its login continues where it stopped;
  // an expired one ends here, with its message, so that a new login can start.
  const current = await api('GET', 'session');
  // A recovery-code login that reset its MFA enrols its new app here.
  const recovering = current.body.recovery_code_login && current.body.user?.mfa === 'enrolment_due';
  if (current.status === 200 && recovering) return nextStep('enrol', { resumed: true });
  if (current.status === 200 && current.body.mfa_satisfied) return go('profile');
  if (current.status === 200 && current.body.next_step !== 'none') {
    return nextStep(current.body.next_step, { resumed: true });
  }
  if (codeOf(current) === 'session-expired') {
    await api('POST', 'logout');
    say('alert', messageOf(current));
  }
  showStep('password');
}

// ---- Profile settings: the caller's own MFA.

function showProfile(user, enforced) {
  $('profile-user').textContent = user.id;
  $('profile-organization').textContent = user.organization;
  $('profile-role').textContent = ROLE_TEXT[user.role] ?? user.role;
  $('mfa-status').textContent = MFA_TEXT[user.mfa] ?? user.mfa;
  $('enable').hidden = user.mfa !== 'off';
  $('disable').hidden = user.mfa === 'off';
  // Shown as unavailable and explained, yet focusable and pressable: the
  // engine's refusal is the answer, not the page's.
  $('disable').setAttribute('aria-disabled', String(enforced));
  $('enforced-note').hidden = !enforced;
}

async function profileView() {
  const me = await session();
  if (!me) return;
  if (!me.mfa_satisfied) return go('login');
  if (me.user.role === 'support_agent') return go('support');
  showNav('profile', me.user);
  showProfile(me.user, me.enforce_mfa);
  profileCodes(me);

  const change = (path) => async () => {
    const answer = await api('POST', path);
    // A recovery-code login's reset goes on to the new app's enrolment.
    if (answer.body.allowed && me.recovery_code_login) return go('login');
    if (answer.body.allowed) {
      say('status', answer.body.message);
      showProfile(answer.body.user, me.enforce_mfa);
    } else {
      follow(answer);
    }
  };
  // Enable and Disable replace each other: the focus follows.
  const toggle = (button, other, path) => busy(button, async () => {
    await change(path)();
    if (button.hidden) other.focus();
  });
  $('enable').addEventListener('click', toggle($('enable'), $('disable'), 'me/mfa/enable'));
  $('disable').addEventListener('click', toggle($('disable'), $('enable'), 'me/mfa/disable'));
  $('reset').addEventListener('click', () => {
    $('reset-confirm').hidden = false;
    $('reset-yes').focus();
  });
  $('reset-no').addEventListener('click', () => {
    $('reset-confirm').hidden = true;
    $('reset').focus();
  });
  $('reset-yes').addEventListener('click', busy($('reset-yes'), async () => {
    await change('me/mfa/reset')();
    $('reset-confirm').hidden = true;
    $('reset').focus();
  }));
  $('password-change-form').addEventListener('submit', busy($('password-change-form'), async (event) => {
    event.preventDefault();
    const answer = await api('POST', 'me/password', {
      current_password: $('current-password').value,
      new_password: $('changed-password').value,
    });
    $('current-password').value = '';
    if (answer.body.allowed) {
      $('changed-password').value = '';
      return say('status', answer.body.message);
    }
    if (answer.status === 422 || codeOf(answer) === 'wrong-password') return say('alert', messageOf(answer));
    follow(answer);
  }));
  // After the handlers: the page's buttons work while the banner loads.
  await showPendingCases(me.user.id);
}

// ---- Organization-wide policies: roots only (the engine says who).

// The per-user actions the API may offer, in the order they are shown.
const USER_ACTIONS = {
  enable_user_mfa: { text: 'Enable MFA', path: 'mfa/enable' },
  disable_user_mfa: { text: 'Disable MFA', path: 'mfa/disable' },
  reset_user_mfa: { text: 'Reset MFA', path: 'mfa/reset', danger: true },
  invite_user: { text: 'Invite', path: 'invite' },
  reactivate_user: { text: 'Reactivate', path: 'reactivate' },
  deactivate_user: { text: 'Deactivate', path: 'deactivate', danger: true },
};

// Set by the organization page: reloads its users and audit records.
let refreshOrganization = async () => {};

/** Applies a per-user action the engine offered, then reloads the page's data. */
async function userAction(id, path) {
  const answer = await api('POST', `org/users/${encodeURIComponent(id)}/${path}`);
  if (!answer.body.allowed) return follow(answer);
  await refreshOrganization();
  const link = answer.body.invitation?.link;
  // A new invitation's link is shown here once: the root sends it on.
  say('status', link ? `${answer.body.message} ${link}` : answer.body.message);
}

async function showUsers() {
  const answer = await api('GET', 'org/users');
  if (answer.status !== 200) {
    follow(answer); // a sub-user: the engine's "root only" message
    return false;
  }
  $('organization-body').hidden = false;
  const rows = answer.body.users.map((user) => {
    const row = document.createElement('tr');
    const name = document.createElement('th');
    name.scope = 'row';
    name.textContent = user.id;
    row.append(name);
    cell(row, ROLE_TEXT[user.role] ?? user.role, 'Role');
    cell(row, user.active === false ? 'Deactivated' : 'Active', 'Account');
    cell(row, MFA_SHORT[user.mfa] ?? user.mfa, 'MFA (stored)');
    cell(row, MFA_SHORT[user.effective_mfa] ?? user.effective_mfa, 'MFA (in effect)');
    // Only what the policies would allow now, as the API says (one batch).
    const actions = cell(row, '', 'Actions');
    const allowed = answer.body.actions?.[user.id] ?? [];
    for (const [action, shown] of Object.entries(USER_ACTIONS)) {
      if (!allowed.includes(action)) continue;
      const button = document.createElement('button');
      button.type = 'button';
      if (shown.danger) button.className = 'danger';
      button.textContent = shown.text;
      button.setAttribute('aria-label', `${shown.text} for ${user.id}`);
      button.addEventListener('click', shown.path === 'mfa/reset'
        ? () => askReset(user.id, button)
        : busy(button, () => userAction(user.id, shown.path)));
      actions.append(button);
    }
    if (!allowed.length) actions.textContent = '—';
    return row;
  });
  $('users').replaceChildren(...rows);
  return true;
}

// What an audit record's action did, in words ("ada reset the MFA of bob").
const ACTION_WORDS = {
  reset_user_mfa: 'reset the MFA of',
  enable_user_mfa: 'turned MFA on for',
  disable_user_mfa: 'turned MFA off for',
  reset_own_mfa: 'reset the MFA of',
  enable_own_mfa: 'turned MFA on for',
  disable_own_mfa: 'turned MFA off for',
  set_enforcement: 'changed MFA enforcement of',
  change_own_password: 'changed the password of',
  login: 'logged in as',
  start_enrolment: 'started an enrolment of',
  confirm_enrolment: 'enrolled an authenticator for',
  verify_code: 'entered a login code of',
  create_organization: 'created the organization, root',
  create_user: 'added the user',
  invite_user: 'invited',
  accept_invitation: 'chose a password from an invitation:',
  deactivate_user: 'deactivated',
  reactivate_user: 'reactivated',
  create_scim_token: 'created the SCIM token',
  revoke_scim_token: 'revoked the SCIM token',
  provision_create_user: 'provisioned',
  provision_update_user: 'updated (provisioning)',
  provision_deactivate_user: 'deactivated (provisioning)',
  provision_reactivate_user: 'reactivated (provisioning)',
};

// Why a request was denied, in words.
const DENIAL_WORDS = {
  'other-organization': 'another organization',
  'not-root': 'for the root only',
  'not-sub-user': 'not a sub-user',
  'session-expired': 'the session had expired',
  'mfa-required': 'the login had not finished MFA',
  'enforced-by-organization': 'the organization enforces MFA',
  'mfa-not-enabled': 'MFA was not on',
  'mfa-already-enabled': 'MFA was on already',
  'user-deactivated': 'the account is deactivated',
  'wrong-password': 'wrong current password',
  'invalid-code': 'a wrong code',
  'replayed': 'a code used already',
  'locked': 'locked after wrong codes',
  'too-many-denials': 'too many refusals in a row',
  'invalid-credentials': 'wrong user or password',
  'root-not-provisioned': 'the root is not provisioned',
  'not-permitted': 'no policy allows it',
};

/** The outcome cell: allowed or why not, the deciding policies in a detail. */
function outcomeCell(row, record) {
  const td = cell(row, '', 'Outcome');
  const code = record.denial_code;
  const words = record.allowed ? 'allowed' : `denied: ${DENIAL_WORDS[code] ?? code ?? 'no policy allows it'}`;
  if (!record.policy_ids?.length) {
    td.textContent = words;
    return;
  }
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = words;
  const policies = document.createElement('p');
  policies.textContent = `Policy: ${record.policy_ids.join(', ')}`;
  details.append(summary, policies);
  td.append(details);
}

// The audit table shows 20 records a page; `older` is the cursor the API
// gave for the page after the one shown, `before` the one shown (null: the newest).
const auditPage = { before: null, older: null };

async function showAudit(before = null) {
  const query = before ? `audit?limit=20&before=${encodeURIComponent(before)}` : 'audit?limit=20';
  const answer = await api('GET', query);
  if (answer.status !== 200) return follow(answer);
  auditPage.before = before;
  auditPage.older = answer.body.next;
  $('audit-older').hidden = !answer.body.next;
  $('audit-newest').hidden = !before;
  $('audit').replaceChildren(...answer.body.records.map((record) => {
    const row = document.createElement('tr');
    cell(row, record.at.replace('T', ' ').replace(/\.\d+Z$/, ''), 'Time (UTC)');
    cell(row, record.actor, 'Who');
    cell(row, ACTION_WORDS[record.action] ?? record.action, 'Did');
    cell(row, record.target, 'To');
    outcomeCell(row, record);
    return row;
  }));
}

let resetTarget = null;
function askReset(id, button) {
  resetTarget = { id, button };
  $('user-question').textContent =
    `Reset MFA for ${id}? Their authenticator app is removed, their sessions end, and they set up a new one at their next login.`;
  $('user-confirm').hidden = false;
  $('user-yes').focus();
}

async function organizationView() {
  const me = await session();
  if (!me) return;
  if (!me.mfa_satisfied) return go('login');
  showNav('organization', me.user);
  $('enforce').checked = me.enforce_mfa;
  showPendingCases(me.user.id);

  // The handlers come first: the controls show as soon as the users have
  // loaded, and a change made while the audit table still loads must reach
  // the API (it was once lost, the switch showing a state never asked for).
  const refresh = async () => { if (await showUsers()) await showAudit(); };
  refreshOrganization = refresh;
  $('audit-older').addEventListener('click', busy($('audit-older'), () => showAudit(auditPage.older)));
  $('audit-newest').addEventListener('click', busy($('audit-newest'), () => showAudit()));
  $('enforce').addEventListener('change', busy($('enforce'), async () => {
    const wanted = $('enforce').checked;
    const answer = await api('PUT', 'org/enforcement', { enforce_mfa: wanted });
    if (!answer.body.allowed) {
      $('enforce').checked = !wanted;
      return follow(answer);
    }
    say('status', answer.body.message);
    await refresh();
  }));
  $('user-no').addEventListener('click', () => {
    $('user-confirm').hidden = true;
    resetTarget?.button.focus();
  });
  $('user-yes').addEventListener('click', busy($('user-yes'), async () => {
    const { id, button } = resetTarget;
    $('user-confirm').hidden = true;
    const answer = await api('POST', `org/users/${encodeURIComponent(id)}/mfa/reset`);
    if (!answer.body.allowed) return follow(answer);
    say('status', answer.body.message);
    await refresh();
    button.isConnected ? button.focus() : $('users').querySelector('button')?.focus();
  }));

  if (!(await showUsers())) return;
  await showAudit();
}

// ---- An invitation: the link's fragment holds its single-use token.

async function invitationView() {
  const token = location.hash.slice(1);
  // Out of the address bar and the history at once: the token is a credential.
  history.replaceState(null, '', location.pathname);
  const peek = await api('POST', 'invitation', { token });
  if (peek.status !== 200) return say('alert', messageOf(peek));
  const { user, min_password_chars: min, mfa_required: mfa } = peek.body;
  $('invited-user').value = user;
  $('password-rules').textContent = `At least ${min} characters; any characters, spaces too. `
    + 'A few unrelated words are easy to remember and hard to guess. Common passwords are refused.'
    + (mfa ? ' After this you set up an authenticator app: your organization requires MFA.' : '');
  $('invitation-form').hidden = false;
  $('new-password').focus();
  $('invitation-form').addEventListener('submit', busy($('invitation-form'), async (event) => {
    event.preventDefault();
    const password = $('new-password').value;
    if (password !== $('new-password-again').value) {
      return say('alert', 'The two passwords differ. Type the same password twice.');
    }
    const accepted = await api('POST', 'invitation/accept', { token, password });
    if (accepted.status !== 200) return say('alert', messageOf(accepted));
    $('new-password').value = '';
    $('new-password-again').value = '';
    // Logged in with it at once; the login page goes on from there (an
    // enrolment when MFA is required, else the profile).
    await api('POST', 'login', { user, password });
    go('login');
  }));
}

// ---- Session expired: the engine's message, with the support link.

async function expiredView() {
  const answer = await api('GET', 'session');
  if (answer.status === 200) return go('profile');
  $('expired-message').replaceChildren(...withLinks(
    codeOf(answer) === 'session-expired' ? messageOf(answer) : 'You are not logged in.',
  ));
}

// ---- Start.

// A page restored by the back button shows what the service says now.
addEventListener('pageshow', (event) => { if (event.persisted) location.reload(); });
addEventListener('pagehide', forgetKey);
setUpCodesPanel();

// No form is ever submitted by the browser itself: that would put its
// fields (a password, a ticket) in a URL. A form pressed before its page has
// set it up does nothing.
document.addEventListener('submit', (event) => event.preventDefault(), true);

const view = location.pathname.split('/').pop();
if (VIEWS.includes(view)) {
  const section = document.querySelector(`[data-view="${view}"]`);
  // Busy until the page has asked the service and set up its forms.
  section.setAttribute('aria-busy', 'true');
  section.hidden = false;
  document.title = `${section.querySelector('h1').textContent} — mfa-reset console`;
  $('logout').addEventListener('click', async () => {
    await api('POST', 'logout');
    go('login');
  });
  ({
    login: loginView,
    profile: profileView,
    organization: organizationView,
    expired: expiredView,
    invitation: invitationView,
    support: supportView,
    'cancel-case': cancelCaseView,
  })[view]().finally(() => section.removeAttribute('aria-busy'));
}
