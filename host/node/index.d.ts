// Types of the npm package `mfa-reset`: the JSON the Rust library and the
// sidecar speak (snake_case keys, RFC 3339 times as strings).

/** RFC 3339, to the millisecond at most, e.g. `2026-11-22T10:00:00Z`. */
export type Timestamp = string;

export type Role = 'root' | 'sub_user' | 'support_agent';
export type MfaStatus = 'off' | 'enrolment_due' | 'active';

export interface Organization {
  id: string;
  enforce_mfa: boolean;
}

export interface User {
  id: string;
  role: Role;
  organization: Organization;
  mfa: MfaStatus;
  /** Left out: active (R13). */
  active?: boolean;
}

export interface Session {
  login_at: Timestamp;
  last_activity_at: Timestamp;
  mfa_satisfied: boolean;
  /** R15: the login used a recovery code. Left out: false. */
  recovery_code_login?: boolean;
}

export type Action =
  | 'reset_own_mfa'
  | 'enable_own_mfa'
  | 'disable_own_mfa'
  | 'view_own_session'
  | 'change_own_password'
  | { reset_user_mfa: User }
  | { enable_user_mfa: User }
  | { disable_user_mfa: User }
  | { deactivate_user: User }
  | { reactivate_user: User }
  | { invite_user: User }
  | { set_enforcement: boolean }
  | { list_users: User[] }
  | { access_route: string };

export interface Request {
  actor: User;
  session: Session;
  now: Timestamp;
  action: Action;
}

export interface Decision {
  allowed: boolean;
  /** The deciding policies' `@id`s. */
  policy_ids: string[];
  /** A denial's `@code` (the policy id when it has none); null when allowed. */
  denial_code: string | null;
  /** What the caller reads. */
  message: string;
  /** Evaluation errors, when there were any. */
  errors?: string[];
}

export interface AuditRecord {
  at: Timestamp;
  actor: string;
  organization: string;
  action: string;
  target: string;
  allowed: boolean;
  policy_ids: string[];
  denial_code: string | null;
}

export type SessionEffect =
  | 'none'
  | 'end_other_sessions_of_user'
  | 'end_sessions_of_user'
  | 'require_mfa_in_organization';

export type Change = { user: User } | { organization: Organization } | null;

export interface UserStatus {
  id: string;
  role: Role;
  mfa: MfaStatus;
  effective_mfa: MfaStatus;
  active: boolean;
}

export interface Outcome {
  decision: Decision;
  change: Change;
  sessions: SessionEffect;
  audit: AuditRecord | null;
  /** For `list_users`: each user's state, as allowed to be shown. */
  users?: UserStatus[];
}

export interface TotpKey {
  /** Base32. */
  secret: string;
  digits: number;
  period: number;
}

export interface Authenticator {
  pending: TotpKey | null;
  active: TotpKey | null;
  last_accepted_step: number | null;
  failures: number;
  locked_until: Timestamp | null;
  /** R15: the saved recovery codes' keyed hashes (base32); left out: none. */
  recovery_codes?: { key: string; hashes: string[] };
}

export interface Lockout {
  max_failures: number;
  base_delay_seconds: number;
  max_delay_seconds: number;
}

export interface CodeRequest {
  user: User;
  session: Session;
  authenticator: Authenticator;
  code: string;
  now: Timestamp;
  lockout: Lockout;
}

export interface EnrolmentRequest {
  user: User;
  session: Session;
  authenticator: Authenticator;
  now: Timestamp;
  issuer: string;
}

export interface RecoveryCodesRequest {
  user: User;
  session: Session;
  authenticator: Authenticator;
  now: Timestamp;
}

export interface Enrolment {
  decision: Decision;
  key: { uri: string; qr_png_base64: string; qr_text: string } | null;
  authenticator: Authenticator;
  audit: AuditRecord | null;
}

export type CodeResult = 'accepted' | 'invalid_code' | 'replayed' | 'locked' | 'denied';

export interface Verification {
  decision: Decision;
  result: CodeResult;
  message: string;
  user: User;
  authenticator: Authenticator;
  audit: AuditRecord | null;
  /** New recovery codes to show once (after a confirmed enrolment). */
  recovery_codes: string[];
  recovery_codes_left: number;
}

export interface NewRecoveryCodes {
  decision: Decision;
  codes: string[];
  authenticator: Authenticator;
  sessions: SessionEffect;
  audit: AuditRecord | null;
}

export type ProvisioningAction =
  | 'read_users'
  | { read_user: User }
  | { create_user: string }
  | { update_user: User }
  | { deactivate_user: User }
  | { reactivate_user: User };

export interface ProvisioningRequest {
  provisioner: { id: string; organization: Organization };
  now: Timestamp;
  action: ProvisioningAction;
}

export interface ProvisioningOutcome {
  decision: Decision;
  user: User | null;
  sessions: SessionEffect;
  audit: AuditRecord | null;
}

export type IdentityCheck =
  | 'code_to_email_on_file'
  | 'callback_to_phone_on_file'
  | 'confirmed_by_root'
  | 'document_check';

export type CaseState = 'open' | 'cancelled' | 'ticket_issued' | 'redeemed';

export interface RecoveryCase {
  id: string;
  account: User;
  opened_by: string;
  opened_at: Timestamp;
  checks: IdentityCheck[];
  approved_by?: string | null;
  state: CaseState;
  ticket_issued_at?: Timestamp | null;
}

export interface RecoveryRequest {
  caller?: User | null;
  session: Session;
  now: Timestamp;
  account_has_active_session: boolean;
  action: 'open_case' | 'approve_case' | 'issue_ticket' | 'cancel_case' | 'cancel_by_link' | 'redeem_ticket';
  case: RecoveryCase;
}

export interface RecoveryOutcome {
  decision: Decision;
  case: RecoveryCase & { approved_by: string | null; ticket_issued_at: Timestamp | null };
  account: User | null;
  sessions: SessionEffect;
  audit: AuditRecord | null;
}

export interface Diagnostic {
  severity: 'error' | 'warning';
  file: string;
  /** 1-based; 0 when the problem has no place. */
  line: number;
  column: number;
  policy_id: string | null;
  message: string;
  help: string | null;
}

export interface LoadOptions {
  /** A directory of `*.cedar` files and one `*.cedarschema`; default: the set built in. */
  policies?: string;
  /** Shown to users whose session expired (R8); default: the built-in one. */
  supportUrl?: string;
  /** A directory jco transpiled a component into; default: the one packaged here. */
  component?: string;
}

export interface MfaReset {
  /** Decides `request`; when allowed, the new state (nothing is stored). */
  decide(request: Request): Promise<Outcome>;
  /** Decides an identity provider's request (SCIM, R13). */
  decideProvisioning(request: ProvisioningRequest): Promise<ProvisioningOutcome>;
  /** Decides a step of a support desk's recovery case (R14). */
  decideRecovery(request: RecoveryRequest): Promise<RecoveryOutcome>;
  /** What `user`'s next login demands. */
  nextLoginStep(user: User): Promise<'none' | 'enrol' | 'code'>;
  /** Starts an enrolment: a new key, its otpauth:// URI and QR code. */
  startEnrolment(request: EnrolmentRequest): Promise<Enrolment>;
  /** Checks a login's code. */
  verifyLogin(request: CodeRequest): Promise<Verification>;
  /** Confirms a pending enrolment with its first code. */
  confirmEnrolment(request: CodeRequest): Promise<Verification>;
  /** R15: a recovery code instead of a login code; each is accepted once. */
  useRecoveryCode(request: CodeRequest): Promise<Verification>;
  /** R15: a new set of recovery codes (show them once); the old set is void. */
  regenerateRecoveryCodes(request: RecoveryCodesRequest): Promise<NewRecoveryCodes>;
}

/** Loads the component and, if asked, a policy set; throws `PolicyError` for a set with errors. */
export function loadMfaReset(options?: LoadOptions): Promise<MfaReset>;

/** A request the engine refuses: `field` (as the caller wrote it) and `message` (why). */
export class RequestError extends Error {
  readonly field: string;
  constructor(field: string, message: string);
}

/** A policy set the engine refuses; the set in force keeps deciding. */
export class PolicyError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(message: string, diagnostics?: Diagnostic[]);
}

/** The component trapped or failed; the next call gets a fresh instance. */
export class EngineError extends Error {
  constructor(message: string);
}
