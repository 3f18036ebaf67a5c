// Recovery codes (R15): shown once (after an enrolment, or a new set made
// on the profile page) with copy and download, until "I saved them"; a
// login with one instead of the app's code. The codes live in this page
// only while shown, and are never stored.

import { $, api, messageOf, say, follow, go, busy } from './common.js';

let afterSaved = () => {};

/** Shows `codes` once; `then` runs when the user says they are saved. */
export function showCodes(codes, then) {
  $('codes-list').replaceChildren(...codes.map((code) => {
    const item = document.createElement('li');
    item.textContent = code;
    return item;
  }));
  afterSaved = then;
  // Nothing else on the page until they are saved.
  for (const view of document.querySelectorAll('[data-view]')) view.hidden = true;
  $('codes-panel').hidden = false;
  $('codes-title').focus();
}

const codesText = () => [...$('codes-list').children].map((item) => item.textContent).join('\n');

/** Hides and forgets the codes, then goes on. */
function saved() {
  $('codes-list').replaceChildren();
  $('codes-panel').hidden = true;
  afterSaved();
}

export function setUpCodesPanel() {
  $('codes-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(codesText());
      say('status', 'Copied: paste them into your password manager.');
    } catch {
      say('alert', 'This browser did not allow copying: select the codes, or download them.');
    }
  });
  $('codes-download').addEventListener('click', () => {
    const text = `Recovery codes for ${location.host} — each works once.\n\n${codesText()}\n`;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    link.download = 'recovery-codes.txt';
    link.click();
    URL.revokeObjectURL(link.href);
  });
  $('codes-saved').addEventListener('click', saved);
  // The codes never stay behind in a page the back button could restore.
  addEventListener('pagehide', () => $('codes-list').replaceChildren());
}

/** The login's recovery-code step; `showStep` switches the login's forms. */
export function recoveryCodeLogin(showStep) {
  $('use-recovery-code').addEventListener('click', () => showStep('recovery-code'));
  $('back-to-code').addEventListener('click', () => showStep('code'));
  $('recovery-code-form').addEventListener('submit', busy($('recovery-code-form'), async () => {
    const answer = await api('POST', 'login/recovery-code', { code: $('recovery-code').value });
    $('recovery-code').value = '';
    if (answer.body.result === 'accepted') return go('profile');
    if (!answer.body.result) return follow(answer);
    say('alert', messageOf(answer));
  }));
}

/** The profile's part: codes left, a new set, and a recovery login's way back. */
export function profileCodes(me) {
  const left = me.recovery_codes_left;
  const mfaActive = me.user.mfa === 'active';
  $('recovery-codes').hidden = !mfaActive || left == null;
  $('codes-left').textContent = left === 1 ? '1 recovery code left.' : `${left} recovery codes left.`;
  $('codes-few').hidden = left >= 3;
  $('recovery-login-note').hidden = !me.recovery_code_login;
  $('regenerate-codes').addEventListener('click', busy($('regenerate-codes'), async () => {
    const answer = await api('POST', 'me/recovery-codes');
    if (answer.status !== 200) return follow(answer);
    say('status', answer.body.message);
    showCodes(answer.body.recovery_codes, () => location.reload());
  }));
}
