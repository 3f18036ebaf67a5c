// The Node host (host/node/mfa-reset.mjs) on the conformance suite and on
// its own duties: input checked before the component sees it (JS
// truthiness), a fresh instance after a trap, a sandboxed guest. Run by
// tests/engine/node_host.rs, which transpiles the components and passes their
// directories in the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { loadMfaReset, RequestError, EngineError } from '../../host/node/mfa-reset.mjs';

const { cases } = JSON.parse(readFileSync(process.env.MFA_RESET_CONFORMANCE, 'utf8'));
const engine = await loadMfaReset(process.env.MFA_RESET_JS_DIR);

const CALLS = {
  decide: ['decide', 'outcome'],
  decide_provisioning: ['decideProvisioning', 'outcome'],
  decide_recovery: ['decideRecovery', 'outcome'],
  next_login_step: ['nextLoginStep', 'step'],
  verify_login: ['verifyLogin', 'verification'],
  confirm_enrolment: ['confirmEnrolment', 'verification'],
  start_enrolment: ['startEnrolment', 'enrolment'],
  use_recovery_code: ['useRecoveryCode', 'verification'],
  regenerate_recovery_codes: ['regenerateRecoveryCodes', 'new_codes'],
};

// The conformance file's masking of new (random) recovery codes.
function maskedCodes(answer) {
  for (const field of ['recovery_codes', 'codes']) {
    if (Array.isArray(answer[field])) answer[field] = answer[field].map((c) => c.replace(/[^-]/g, 'X'));
  }
  const saved = answer.authenticator.recovery_codes;
  if (saved) {
    const size = (text) => Math.floor((text.replace(/=+$/, '').length * 5) / 8);
    saved.key = `<random ${size(saved.key)} bytes>`;
    saved.hashes = saved.hashes.map((h) => `<${size(h)} bytes>`);
  }
  return answer;
}

// The conformance file's masking of an enrolment's random key.
function masked(enrolment) {
  const { key } = enrolment;
  if (key !== null) {
    assert.ok(key.qr_png_base64 && key.qr_text);
    delete key.qr_png_base64;
    delete key.qr_text;
    key.uri = key.uri.replace(/secret=[^&]*/, 'secret=<random>');
  }
  const { pending } = enrolment.authenticator;
  if (pending !== null) {
    const size = Math.floor((pending.secret.replace(/=+$/, '').length * 5) / 8);
    pending.secret = `<random ${size} bytes>`;
  }
  return enrolment;
}

async function answer(c) {
  const [method, key] = CALLS[c.call];
  try {
    const result = await engine[method](c.request);
    if (c.call === 'start_enrolment') return { [key]: masked(result) };
    const random = c.call === 'confirm_enrolment' || c.call === 'regenerate_recovery_codes';
    return { [key]: random ? maskedCodes(result) : result };
  } catch (e) {
    if (!(e instanceof RequestError)) throw e;
    return { error: { field: e.field, message: e.detail } };
  }
}

for (const c of cases) {
  test(`conformance: ${c.name}`, async () => {
    assert.deepEqual(await answer(c), c.expect);
  });
}

function withValue(req, path, value) {
  let target = req;
  for (const key of path.slice(0, -1)) target = target[key];
  target[path.at(-1)] = value;
  return req;
}

const aRequest = (prefix = 'R9 transition') => structuredClone(cases.find((c) => c.name.startsWith(prefix)).request);

for (const [path, value, field] of [
  [['session', 'mfa_satisfied'], 'false', 'session.mfa_satisfied'],
  [['actor', 'organization', 'enforce_mfa'], 0, 'actor.organization.enforce_mfa'],
  [['actor', 'role'], 'admin', 'actor.role'],
  [['actor', 'id'], 7, 'actor.id'],
  [['now'], '2026-11-22', 'now'],
  [['now'], 1795600000000, 'now'],
  [['action'], 'drop_tables', 'action'],
  [['action'], { set_enforcement: 'yes' }, 'action.set_enforcement'],
  [['action'], { list_users: {} }, 'action.list_users'],
]) {
  test(`bad input refused before the component: ${field} = ${JSON.stringify(value)}`, async () => {
    const req = withValue(aRequest(), path, value);
    await assert.rejects(engine.decide(req), (e) => e instanceof RequestError && e.field === field);
  });
}

for (const [path, value, field] of [
  [['authenticator', 'failures'], -1, 'authenticator.failures'],
  [['authenticator', 'failures'], 2 ** 32, 'authenticator.failures'],
  [['authenticator', 'active', 'digits'], 262, 'authenticator.active.digits'],
  [['authenticator', 'last_accepted_step'], 2 ** 64, 'authenticator.last_accepted_step'],
  [['lockout', 'max_failures'], 2 ** 32 + 5, 'lockout.max_failures'],
  [['now'], '2026-02-31T10:00:00Z', 'now'],
  [['now'], '2026-11-22T24:00:00Z', 'now'],
  [['now'], '20261122T100000Z', 'now'],
  [['authenticator', 'active', 'secret'], 'not base32!', 'authenticator.active.secret'],
  [['code'], 123456, 'code'],
  [['lockout', 'max_failures'], '5', 'lockout.max_failures'],
]) {
  test(`bad code request refused: ${field} = ${JSON.stringify(value)}`, async () => {
    const req = withValue(aRequest('R3 verify: RFC 6238 vector at 59'), path, value);
    await assert.rejects(engine.verifyLogin(req), (e) => e instanceof RequestError && e.field === field);
  });
}

test('fields inherited from the prototype do not count', async () => {
  const req = aRequest();
  const inherited = Object.create({ session: req.session });
  Object.assign(inherited, { actor: req.actor, now: req.now, action: req.action });
  await assert.rejects(engine.decide(inherited), (e) => e.field === 'session');
});

test('unknown and missing fields are named', async () => {
  const extra = aRequest();
  extra.actor.admin = true;
  await assert.rejects(engine.decide(extra), (e) => e.field === 'actor.admin');
  const missing = aRequest();
  delete missing.session;
  await assert.rejects(engine.decide(missing), (e) => e.field === 'session');
});

test('a trap gets a clear error and the next request a fresh instance', async () => {
  // The test-only misbehaving component traps for actor `trap`.
  const misbehaving = await loadMfaReset(process.env.MFA_RESET_MISBEHAVING_JS_DIR);
  const req = aRequest();
  req.actor.id = 'trap';
  await assert.rejects(misbehaving.decide(req), (e) => e instanceof EngineError);
  req.actor.id = 'calm';
  assert.ok('decision' in (await misbehaving.decide(req)));
});
