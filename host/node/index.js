// mfa-reset from Node.js (the npm package `mfa-reset`): the same component
// the Rust host embeds, transpiled by jco into component/ when the package
// is built (host/node/build-package.sh).
//
// Plain objects in, plain objects out, in the JSON the Rust library and the
// sidecar speak (snake_case keys, RFC 3339 times); a bad request throws a
// RequestError with `field` (as the caller wrote it) and `message`, as the
// Rust library's RequestError and the Python package's do:
//
//   const engine = await loadMfaReset();   // or { policies: 'policies/', supportUrl: 'https://…' }
//   const outcome = await engine.decide(requestObject);
//   const step = await engine.nextLoginStep(userObject);     // 'none' | 'enrol' | 'code'
//   const key = await engine.startEnrolment(enrolRequest);   // { key: { uri: 'otpauth://…', qr_png_base64 }, … }
//   const checked = await engine.verifyLogin(codeRequest);   // { result: 'accepted', authenticator, ... }
//
// The guest is sandboxed: no WASI shim, our own imports — randomness from
// node:crypto (for TOTP keys) and nothing else (no filesystem, environment,
// arguments, clock or network; stdio and exit throw). After a trap the
// instance is thrown away and the next call gets a fresh one.

import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** A request the engine refuses: `field` (as the caller wrote it) and `message` (why). */
export class RequestError extends Error {
  constructor(field, message) {
    super(message);
    this.name = 'RequestError';
    this.field = field;
  }
}

/** A policy set the engine refuses (the set in force keeps deciding):
 *  `diagnostics` say where, each with file, line and column. */
export class PolicyError extends Error {
  constructor(message, diagnostics = []) {
    super(message + diagnostics.map((d) => `\n${d.file}:${d.line}:${d.column}: ${d.message}`).join(''));
    this.name = 'PolicyError';
    this.diagnostics = diagnostics;
  }
}

export class EngineError extends Error {
  constructor(message) {
    super(message);
    this.name = 'EngineError';
  }
}

// ---- JSON (the library's shape) -> component values --------------------

// JS truthiness would turn 'false' into true: check exact types.
function required(value, type, field, what) {
  const ok = type === 'array' ? Array.isArray(value) : typeof value === type;
  if (!ok) throw new RequestError(field, `must be ${what}`);
  return value;
}

function object(value, field, keys, optional = []) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new RequestError(field || '(request)', 'must be an object');
  }
  const at = (key) => (field ? `${field}.${key}` : key);
  for (const key of Object.keys(value)) {
    if (!keys.includes(key) && !optional.includes(key)) throw new RequestError(at(key), 'unknown field');
  }
  for (const key of keys) {
    if (!Object.hasOwn(value, key)) throw new RequestError(at(key), 'missing');
  }
  return value;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt]([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(\.\d{1,9})?([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

function millis(text, field) {
  required(text, 'string', field, 'an RFC 3339 time');
  const parts = RFC3339.exec(text);
  // Date.parse alone rolls 31 February over into March: check the day.
  const [year, month, day] = parts ? parts.slice(1, 4).map(Number) : [];
  const real = parts && new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day && month >= 1 && month <= 12;
  if (!real) throw new RequestError(field, `\`${text}\` is not an RFC 3339 time`);
  // Digits past the millisecond would be dropped, moving the time.
  if (parts[7] && /[1-9]/.test(parts[7].slice(4))) {
    throw new RequestError(field, 'more precise than a millisecond: times are counted in whole milliseconds');
  }
  return Date.parse(text);
}

function oneOf(value, field, names) {
  if (typeof value !== 'string' || !names.includes(value)) {
    throw new RequestError(field, `must be one of ${names.join(', ')}`);
  }
  return value.replaceAll('_', '-');
}

function organization(value, field) {
  const o = object(value, field, ['id', 'enforce_mfa']);
  return {
    id: required(o.id, 'string', `${field}.id`, 'a string'),
    enforceMfa: required(o.enforce_mfa, 'boolean', `${field}.enforce_mfa`, 'true or false'),
  };
}

function user(value, field) {
  const u = object(value, field, ['id', 'role', 'organization', 'mfa'], ['active']);
  return {
    id: required(u.id, 'string', `${field}.id`, 'a string'),
    role: oneOf(u.role, `${field}.role`, ['root', 'sub_user', 'support_agent']),
    organization: organization(u.organization, `${field}.organization`),
    mfa: oneOf(u.mfa, `${field}.mfa`, ['off', 'enrolment_due', 'active']),
    // Left out means active (R13), as in the Rust library's JSON.
    active: u.active === undefined ? true : required(u.active, 'boolean', `${field}.active`, 'true or false'),
  };
}

function session(value, field) {
  const s = object(value, field, ['login_at', 'last_activity_at', 'mfa_satisfied'], ['recovery_code_login']);
  return {
    loginAt: millis(s.login_at, `${field}.login_at`),
    lastActivityAt: millis(s.last_activity_at, `${field}.last_activity_at`),
    mfaSatisfied: required(s.mfa_satisfied, 'boolean', `${field}.mfa_satisfied`, 'true or false'),
    // R15: left out means false, as in the Rust library's JSON.
    recoveryCodeLogin: s.recovery_code_login === undefined
      ? false : required(s.recovery_code_login, 'boolean', `${field}.recovery_code_login`, 'true or false'),
  };
}

// The component's integers have a width; jco would wrap them silently.
function uint(value, field, max = 2 ** 32 - 1) {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new RequestError(field, `must be a whole number from 0 to ${max}`);
  }
  return value;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32Decode(text, field) {
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.replace(/=+$/, '').toUpperCase()) {
    const index = BASE32.indexOf(ch);
    if (index < 0) throw new RequestError(field, 'not base32');
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return new Uint8Array(out);
}

function base32Encode(bytes) {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(value >> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function totpKey(value, field) {
  if (value === null) return undefined;
  const k = object(value, field, ['secret', 'digits', 'period']);
  return {
    secret: base32Decode(required(k.secret, 'string', `${field}.secret`, 'base32 text'), `${field}.secret`),
    digits: uint(k.digits, `${field}.digits`, 255),
    period: uint(k.period, `${field}.period`),
  };
}

function bytes(value, field) {
  return base32Decode(required(value, 'string', field, 'base32 text'), field);
}

// R15: the saved recovery codes' keyed hashes (left out: none).
function recoveryCodes(value, field) {
  if (value === undefined || value === null) return undefined;
  const c = object(value, field, ['key', 'hashes']);
  if (!Array.isArray(c.hashes)) throw new RequestError(`${field}.hashes`, 'must be a list of base32 texts');
  return {
    key: bytes(c.key, `${field}.key`),
    hashes: c.hashes.map((h, i) => bytes(h, `${field}.hashes[${i}]`)),
  };
}

function authenticator(value, field) {
  const a = object(value, field, ['pending', 'active', 'last_accepted_step', 'failures', 'locked_until'], ['recovery_codes']);
  return {
    recoveryCodes: recoveryCodes(a.recovery_codes, `${field}.recovery_codes`),
    pending: totpKey(a.pending, `${field}.pending`),
    active: totpKey(a.active, `${field}.active`),
    lastAcceptedStep: a.last_accepted_step === null
      ? undefined : BigInt(uint(a.last_accepted_step, `${field}.last_accepted_step`, Number.MAX_SAFE_INTEGER)),
    failures: uint(a.failures, `${field}.failures`),
    lockedUntil: a.locked_until === null ? undefined : millis(a.locked_until, `${field}.locked_until`),
  };
}

function codeRequest(value) {
  const r = object(value, '', ['user', 'session', 'authenticator', 'code', 'now', 'lockout']);
  const l = object(r.lockout, 'lockout', ['max_failures', 'base_delay_seconds', 'max_delay_seconds']);
  return {
    user: user(r.user, 'user'),
    session: session(r.session, 'session'),
    authenticator: authenticator(r.authenticator, 'authenticator'),
    code: required(r.code, 'string', 'code', 'a string'),
    now: millis(r.now, 'now'),
    lockout: {
      maxFailures: uint(l.max_failures, 'lockout.max_failures'),
      baseDelaySeconds: uint(l.base_delay_seconds, 'lockout.base_delay_seconds'),
      maxDelaySeconds: uint(l.max_delay_seconds, 'lockout.max_delay_seconds'),
    },
  };
}

function recoveryCodesRequest(value) {
  const r = object(value, '', ['user', 'session', 'authenticator', 'now']);
  return {
    user: user(r.user, 'user'),
    session: session(r.session, 'session'),
    authenticator: authenticator(r.authenticator, 'authenticator'),
    now: millis(r.now, 'now'),
  };
}

function enrolmentRequest(value) {
  const r = object(value, '', ['user', 'session', 'authenticator', 'now', 'issuer']);
  return {
    user: user(r.user, 'user'),
    session: session(r.session, 'session'),
    authenticator: authenticator(r.authenticator, 'authenticator'),
    now: millis(r.now, 'now'),
    issuer: required(r.issuer, 'string', 'issuer', 'a string'),
  };
}

const PLAIN_ACTIONS = ['reset_own_mfa', 'enable_own_mfa', 'disable_own_mfa', 'view_own_session', 'change_own_password'];

function action(value) {
  if (typeof value === 'string') {
    if (!PLAIN_ACTIONS.includes(value)) throw new RequestError('action', `unknown action \`${value}\``);
    return { tag: value.replaceAll('_', '-') };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length !== 1) {
    throw new RequestError('action', 'must be an action name or an object with one action');
  }
  const [[name, arg]] = Object.entries(value);
  const field = `action.${name}`;
  let val;
  if (['reset_user_mfa', 'enable_user_mfa', 'disable_user_mfa', 'deactivate_user', 'reactivate_user', 'invite_user'].includes(name)) {
    val = user(arg, field);
  } else if (name === 'set_enforcement') {
    val = required(arg, 'boolean', field, 'true or false');
  } else if (name === 'list_users') {
    val = required(arg, 'array', field, 'a list of users').map((u, i) => user(u, `${field}[${i}]`));
  } else if (name === 'access_route') {
    val = required(arg, 'string', field, "a route's action name");
  } else {
    throw new RequestError('action', `unknown action \`${name}\``);
  }
  return { tag: name.replaceAll('_', '-'), val };
}

// An identity provider's request (R13, SCIM): its token as principal.
function provisioningAction(value) {
  if (typeof value === 'string') {
    if (value !== 'read_users') throw new RequestError('action', `unknown action \`${value}\``);
    return { tag: 'read-users' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length !== 1) {
    throw new RequestError('action', 'must be an action name or an object with one action');
  }
  const [[name, arg]] = Object.entries(value);
  const field = `action.${name}`;
  if (['read_user', 'update_user', 'deactivate_user', 'reactivate_user'].includes(name)) {
    return { tag: name.replaceAll('_', '-'), val: user(arg, field) };
  }
  if (name === 'create_user') return { tag: 'create-user', val: required(arg, 'string', field, 'a user id') };
  throw new RequestError('action', `unknown action \`${name}\``);
}

function provisioningRequest(value) {
  const r = object(value, '', ['provisioner', 'now', 'action']);
  const p = object(r.provisioner, 'provisioner', ['id', 'organization']);
  return {
    provisioner: {
      id: required(p.id, 'string', 'provisioner.id', 'a string'),
      organization: organization(p.organization, 'provisioner.organization'),
    },
    now: millis(r.now, 'now'),
    action: provisioningAction(r.action),
  };
}

// A step of a support desk's recovery case (R14).
const IDENTITY_CHECKS = ['code_to_email_on_file', 'callback_to_phone_on_file', 'confirmed_by_root', 'document_check'];
const RECOVERY_ACTIONS = ['open_case', 'approve_case', 'issue_ticket', 'cancel_case', 'cancel_by_link', 'redeem_ticket'];

const optional = (value, parse) => (value === undefined || value === null ? undefined : parse(value));

function recoveryCase(value, field) {
  const c = object(value, field, ['id', 'account', 'opened_by', 'opened_at', 'checks', 'state'], ['approved_by', 'ticket_issued_at']);
  return {
    id: required(c.id, 'string', `${field}.id`, 'a string'),
    account: user(c.account, `${field}.account`),
    openedBy: required(c.opened_by, 'string', `${field}.opened_by`, 'a string'),
    openedAt: millis(c.opened_at, `${field}.opened_at`),
    checks: required(c.checks, 'array', `${field}.checks`, 'a list of identity checks')
      .map((check, i) => oneOf(check, `${field}.checks[${i}]`, IDENTITY_CHECKS)),
    approvedBy: optional(c.approved_by, (a) => required(a, 'string', `${field}.approved_by`, 'a string')),
    state: oneOf(c.state, `${field}.state`, ['open', 'cancelled', 'ticket_issued', 'redeemed']),
    ticketIssuedAt: optional(c.ticket_issued_at, (t) => millis(t, `${field}.ticket_issued_at`)),
  };
}

function recoveryRequest(value) {
  const r = object(value, '', ['session', 'now', 'account_has_active_session', 'action', 'case'], ['caller']);
  return {
    caller: optional(r.caller, (c) => user(c, 'caller')),
    session: session(r.session, 'session'),
    now: millis(r.now, 'now'),
    accountHasActiveSession: required(r.account_has_active_session, 'boolean', 'account_has_active_session', 'true or false'),
    action: oneOf(r.action, 'action', RECOVERY_ACTIONS),
    case: recoveryCase(r.case, 'case'),
  };
}

function request(value) {
  const r = object(value, '', ['actor', 'session', 'now', 'action']);
  return {
    actor: user(r.actor, 'actor'),
    session: session(r.session, 'session'),
    now: millis(r.now, 'now'),
    action: action(r.action),
  };
}

// ---- component values -> JSON -------------------------------------------

const snake = (kebab) => kebab.replaceAll('-', '_');

function rfc3339(ms) {
  const iso = new Date(Number(ms)).toISOString(); // always .sssZ
  const [base, fraction] = iso.slice(0, -1).split('.');
  const kept = fraction.replace(/0+$/, '');
  return `${base}${kept ? `.${kept}` : ''}Z`;
}

const userJson = (u) => ({
  id: u.id,
  role: snake(u.role),
  organization: { id: u.organization.id, enforce_mfa: u.organization.enforceMfa },
  mfa: snake(u.mfa),
  active: u.active,
});

function decisionJson(d) {
  const out = {
    allowed: d.allowed,
    policy_ids: [...d.policyIds],
    denial_code: d.denialCode ?? null,
    message: d.message,
  };
  if (d.errors.length) out.errors = [...d.errors];
  return out;
}

const auditJson = (a) => a == null ? null : ({
  at: rfc3339(a.at),
  actor: a.actor,
  organization: a.organization,
  action: a.action,
  target: a.target,
  allowed: a.allowed,
  policy_ids: [...a.policyIds],
  denial_code: a.denialCode ?? null,
});

function changeJson(c) {
  if (c == null) return null;
  // The new authenticator holds key material: not part of the JSON.
  if (c.tag === 'user') return { user: userJson(c.val.user) };
  return { organization: { id: c.val.id, enforce_mfa: c.val.enforceMfa } };
}

const keyJson = (k) => k == null ? null : ({ secret: base32Encode(k.secret), digits: k.digits, period: k.period });

const authenticatorJson = (a) => ({
  pending: keyJson(a.pending),
  active: keyJson(a.active),
  last_accepted_step: a.lastAcceptedStep == null ? null : Number(a.lastAcceptedStep),
  failures: a.failures,
  locked_until: a.lockedUntil == null ? null : rfc3339(a.lockedUntil),
  // Left out when there are none, as in the Rust library's JSON.
  ...(a.recoveryCodes == null ? {} : {
    recovery_codes: { key: base32Encode(a.recoveryCodes.key), hashes: a.recoveryCodes.hashes.map(base32Encode) },
  }),
});

const verificationJson = (v) => ({
  decision: decisionJson(v.decision),
  result: snake(v.result),
  message: v.message,
  user: userJson(v.user),
  authenticator: authenticatorJson(v.authenticator),
  audit: auditJson(v.audit),
  recovery_codes: [...v.recoveryCodes],
  recovery_codes_left: v.recoveryCodesLeft,
});

const newCodesJson = (n) => ({
  decision: decisionJson(n.decision),
  codes: [...n.codes],
  authenticator: authenticatorJson(n.authenticator),
  sessions: snake(n.sessions),
  audit: auditJson(n.audit),
});

const enrolmentJson = (e) => ({
  decision: decisionJson(e.decision),
  key: e.key == null ? null : {
    uri: e.key.uri,
    qr_png_base64: Buffer.from(e.key.qrPng).toString('base64'),
    qr_text: e.key.qrText,
  },
  authenticator: authenticatorJson(e.authenticator),
  audit: auditJson(e.audit),
});

const provisioningOutcomeJson = (o) => ({
  decision: decisionJson(o.decision),
  user: o.user == null ? null : userJson(o.user),
  sessions: snake(o.sessions),
  audit: auditJson(o.audit),
});

const recoveryCaseJson = (c) => ({
  id: c.id,
  account: userJson(c.account),
  opened_by: c.openedBy,
  opened_at: rfc3339(c.openedAt),
  checks: c.checks.map(snake),
  approved_by: c.approvedBy ?? null,
  state: snake(c.state),
  ticket_issued_at: c.ticketIssuedAt == null ? null : rfc3339(c.ticketIssuedAt),
});

const recoveryOutcomeJson = (o) => ({
  decision: decisionJson(o.decision),
  case: recoveryCaseJson(o.case),
  // The new authenticator holds key material: not part of the JSON.
  account: o.account == null ? null : userJson(o.account.user),
  sessions: snake(o.sessions),
  audit: auditJson(o.audit),
});

function outcomeJson(o) {
  const out = {
    decision: decisionJson(o.decision),
    change: changeJson(o.change),
    sessions: snake(o.sessions),
    audit: auditJson(o.audit),
  };
  if (o.users.length) {
    out.users = o.users.map((u) => ({
      id: u.id, role: snake(u.role), mfa: snake(u.mfa), effective_mfa: snake(u.effectiveMfa), active: u.active,
    }));
  }
  return out;
}

// ---- the engine -------------------------------------------------------------

function refused(what) {
  return () => { throw new EngineError(`the component asked for ${what}, which it is not given`); };
}

class Nothing { constructor() { throw new EngineError('the component asked for a WASI resource it is not given'); } }

function sandboxImports() {
  const u64 = () => randomBytes(8).readBigUInt64LE();
  return {
    'wasi:random/random': {
      getRandomBytes: (n) => new Uint8Array(randomBytes(Number(n))),
      getRandomU64: u64,
    },
    'wasi:random/insecure-seed': { insecureSeed: () => [u64(), u64()] },
    'wasi:cli/environment': { getEnvironment: () => [], getArguments: () => [], initialCwd: () => undefined },
    'wasi:cli/exit': { exit: refused('exit') },
    'wasi:cli/stdin': { getStdin: refused('stdin') },
    'wasi:cli/stdout': { getStdout: refused('stdout') },
    'wasi:cli/stderr': { getStderr: refused('stderr') },
    'wasi:cli/terminal-input': { TerminalInput: Nothing },
    'wasi:cli/terminal-output': { TerminalOutput: Nothing },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
    'wasi:io/error': { Error: Nothing },
    'wasi:io/poll': { Pollable: Nothing, poll: refused('poll') },
    'wasi:io/streams': { InputStream: Nothing, OutputStream: Nothing },
  };
}

// ---- policy sets ------------------------------------------------------------

async function sourceFile(path) {
  let bytes;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new PolicyError(`cannot read \`${path}\`: ${e.message}`);
  }
  try {
    // Byte for byte (line ends included): the set's revision is a hash of it.
    return { name: path, text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    throw new PolicyError(`\`${path}\` is not UTF-8 text`);
  }
}

// A file, through symlinks (a Kubernetes ConfigMap's files are symlinks).
const isFile = async (path) => (await stat(path).catch(() => null))?.isFile() ?? false;

// Every `*.cedar` file of `dir` in name order and its one `*.cedarschema`:
// a policy directory as the Rust host reads it.
async function policyFiles(dir) {
  let names;
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    throw new PolicyError(`policies: \`${dir}\` is not a readable directory (${e.code ?? e.message})`);
  }
  const files = [];
  for (const n of names) if (await isFile(join(dir, n))) files.push(n);
  const policies = files.filter((n) => n.endsWith('.cedar'));
  const schemas = files.filter((n) => n.endsWith('.cedarschema'));
  if (!policies.length) throw new PolicyError(`policies: no \`*.cedar\` file in \`${dir}\``);
  if (schemas.length !== 1) {
    throw new PolicyError(`policies: \`${dir}\` needs exactly one \`*.cedarschema\` file, not ${schemas.length}`);
  }
  return {
    policies: await Promise.all(policies.map((n) => sourceFile(join(dir, n)))),
    schema: await sourceFile(join(dir, schemas[0])),
  };
}

const diagnosticJson = (d) => ({
  severity: d.severity, file: d.file, line: d.line, column: d.column,
  policy_id: d.policyId ?? null, message: d.message, help: d.help ?? null,
});

function loadSet(engine, set) {
  try {
    engine.loadPolicySet(set);
  } catch (e) {
    if (!Array.isArray(e?.payload)) throw new EngineError(`the component failed: ${e}`);
    const diagnostics = e.payload.map(diagnosticJson);
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    throw new PolicyError(`invalid policy set (${errors} error(s))`, diagnostics);
  }
}

const OPTIONS = ['component', 'policies', 'supportUrl'];

/**
 * Loads the component (the one packaged here, or `component`: a directory
 * jco transpiled one into) and, if asked, a policy set: `policies`, a
 * directory of `*.cedar` files and one `*.cedarschema`; `supportUrl`, shown
 * to users whose session expired (R8). Core modules are compiled once.
 */
export async function loadMfaReset(options = {}) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError('loadMfaReset: options must be an object ({ policies, supportUrl })');
  }
  for (const key of Object.keys(options)) {
    if (!OPTIONS.includes(key)) throw new TypeError(`loadMfaReset: unknown option \`${key}\` (known: ${OPTIONS.join(', ')})`);
  }
  const { policies, supportUrl } = options;
  for (const [key, value] of [['component', options.component], ['policies', policies], ['supportUrl', supportUrl]]) {
    if (value !== undefined && typeof value !== 'string') throw new TypeError(`loadMfaReset: \`${key}\` must be a string`);
  }
  const dir = options.component ?? fileURLToPath(new URL('./component/', import.meta.url));
  const { instantiate } = await import(pathToFileURL(join(dir, 'mfa-reset.js')).href);
  const modules = new Map();
  const getCoreModule = async (file) => {
    if (!modules.has(file)) modules.set(file, await WebAssembly.compile(await readFile(join(dir, file))));
    return modules.get(file);
  };
  // The set chosen, given again to every fresh instance.
  let chosen = null;
  const fresh = async () => {
    const instance = (await instantiate(getCoreModule, sandboxImports())).engine;
    if (chosen) loadSet(instance, chosen);
    return instance;
  };
  let engine = await fresh();
  if (policies !== undefined || supportUrl !== undefined) {
    const built = engine.defaultPolicySet();
    const files = policies === undefined ? built : await policyFiles(policies);
    const set = { policies: files.policies, schema: files.schema, supportUrl: supportUrl ?? built.supportUrl };
    loadSet(engine, set);
    chosen = set;
  }
  let broken = false;
  const call = async (name, value) => {
    if (broken) {
      engine = await fresh();
      broken = false;
    }
    try {
      return engine[name](value);
    } catch (e) {
      if (e && e.payload && typeof e.payload.field === 'string') {
        throw new RequestError(snake(e.payload.field), e.payload.message);
      }
      broken = true;
      throw new EngineError(`the component failed: ${e}`);
    }
  };
  return {
    /** Decides `req` (the library's JSON); returns the outcome. */
    decide: async (req) => outcomeJson(await call('decide', request(req))),
    /** Decides an identity provider's request (SCIM, R13); returns the outcome. */
    decideProvisioning: async (req) => provisioningOutcomeJson(await call('decideProvisioning', provisioningRequest(req))),
    /** Decides a step of a support desk's recovery case (R14); returns the outcome. */
    decideRecovery: async (req) => recoveryOutcomeJson(await call('decideRecovery', recoveryRequest(req))),
    /** What `u`'s next login demands: 'none', 'enrol' or 'code'. */
    nextLoginStep: async (u) => snake(await call('nextLoginStep', user(u, 'user'))),
    /** Starts an enrolment (decided by the policies first): a new key, its
     *  otpauth:// URI and QR code, and the authenticator to store. */
    startEnrolment: async (req) => enrolmentJson(await call('startEnrolment', enrolmentRequest(req))),
    /** Checks a login's code (decided by the policies first). */
    verifyLogin: async (req) => verificationJson(await call('verifyLogin', codeRequest(req))),
    /** Confirms a pending enrolment with its first code. */
    confirmEnrolment: async (req) => verificationJson(await call('confirmEnrolment', codeRequest(req))),
    /** R15: a recovery code instead of a login code (decided by the policies
     *  first); each is accepted once. Mark the session `recovery_code_login`. */
    useRecoveryCode: async (req) => verificationJson(await call('useRecoveryCode', codeRequest(req))),
    /** R15: a new set of recovery codes (show them once); the old set is void. */
    regenerateRecoveryCodes: async (req) => newCodesJson(await call('regenerateRecoveryCodes', recoveryCodesRequest(req))),
  };
}
