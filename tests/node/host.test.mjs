// The npm package `mfa-reset` (host/node), installed from its tarball into
// a fresh project, on the conformance suite and on its own duties: the
// packaged component, a custom policy set, input checked before the
// component sees it (JS truthiness), a fresh instance after a trap, a
// sandboxed guest. Run by tests/engine/node_host.rs from that project, with
// the paths in the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadMfaReset, RequestError, PolicyError, EngineError } from 'mfa-reset';

const { cases } = JSON.parse(readFileSync(process.env.MFA_RESET_CONFORMANCE, 'utf8'));
const engine = await loadMfaReset();

test('the package under test is the one installed from the tarball', () => {
  const where = realpathSync(fileURLToPath(import.meta.resolve('mfa-reset')));
  const installed = realpathSync(join(process.cwd(), 'node_modules', 'mfa-reset'));
  assert.ok(where.startsWith(installed), where);
});

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
    return { error: { field: e.field, message: e.message } };
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
  const misbehaving = await loadMfaReset({ component: process.env.MFA_RESET_MISBEHAVING_JS_DIR });
  const req = aRequest();
  req.actor.id = 'trap';
  await assert.rejects(misbehaving.decide(req), (e) => e instanceof EngineError);
  req.actor.id = 'calm';
  assert.ok('decision' in (await misbehaving.decide(req)));
});

// ---- a custom policy set ------------------------------------------------------

const SELF_RESET = 'R6 allow: self-reset with an active session';

test('R6 under a custom set that forbids bob\'s self-reset, the built-in engine untouched', async () => {
  const req = aRequest(SELF_RESET);
  assert.ok((await engine.decide(req)).decision.allowed);
  const custom = await loadMfaReset({
    policies: process.env.MFA_RESET_CUSTOM_POLICIES,
    supportUrl: 'https://help.example/bob',
  });
  assert.deepEqual((await custom.decide(req)).decision, {
    allowed: false,
    policy_ids: ['bob-may-not-reset'],
    denial_code: 'ask-support',
    message: 'Bob asks support: https://help.example/bob',
  });
  assert.ok((await engine.decide(req)).decision.allowed, 'the default engine is unchanged');
});

test('R8: a support URL alone keeps the built-in policies', async () => {
  const helped = await loadMfaReset({ supportUrl: 'https://help.example/expired' });
  const expired = await helped.decide(aRequest('R8 deny: self-reset from an expired session'));
  assert.match(expired.decision.message, /https:\/\/help\.example\/expired/);
  assert.deepEqual(await helped.decide(aRequest(SELF_RESET)), await engine.decide(aRequest(SELF_RESET)));
});

test('a broken policy set is refused with file and line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mfa-reset-set-'));
  cpSync(process.env.MFA_RESET_CUSTOM_POLICIES, dir, { recursive: true });
  writeFileSync(join(dir, 'broken.cedar'), '@id("x")\npermit (principal, action, resource)\nwhen { principal.is_admin };\n');
  await assert.rejects(loadMfaReset({ policies: dir }), (e) => {
    const [first] = e.diagnostics.filter((d) => d.severity === 'error');
    return e instanceof PolicyError && first.file.endsWith('broken.cedar') && first.line === 3
      && first.message.includes('is_admin');
  });
  await assert.rejects(loadMfaReset({ policies: join(dir, 'nothing') }), (e) => e instanceof PolicyError && /not a readable directory/.test(e.message));
  const empty = mkdtempSync(join(tmpdir(), 'mfa-reset-empty-'));
  await assert.rejects(loadMfaReset({ policies: empty }), (e) => e instanceof PolicyError && /no `\*\.cedar` file/.test(e.message));
  await assert.rejects(loadMfaReset({ supportURL: 'https://typo.example' }), (e) => e instanceof TypeError && /supportURL/.test(e.message));
  await assert.rejects(loadMfaReset({ supportUrl: 7 }), TypeError);
  await assert.rejects(loadMfaReset('dir'), TypeError);
});
