// A TypeScript program using the npm package as a backend would: checked
// by `tsc --noEmit` in tests/engine/node_host.rs. Each @ts-expect-error is a
// mistake the declarations must catch (tsc fails if one is not an error).
import { loadMfaReset, PolicyError, RequestError, type Outcome, type Request } from 'mfa-reset';

const request: Request = {
  actor: { id: 'bob', role: 'sub_user', organization: { id: 'acme', enforce_mfa: false }, mfa: 'active' },
  session: { login_at: '2026-11-20T09:00:00Z', last_activity_at: '2026-11-22T09:00:00Z', mfa_satisfied: true },
  now: '2026-11-22T10:00:00Z',
  action: { reset_user_mfa: { id: 'carol', role: 'sub_user', organization: { id: 'acme', enforce_mfa: false }, mfa: 'active' } },
};

export async function main(): Promise<string> {
  try {
    const engine = await loadMfaReset({ policies: 'policies/', supportUrl: 'https://help.example/mfa' });
    const outcome: Outcome = await engine.decide(request);
    const code: string | null = outcome.decision.denial_code;
    return outcome.decision.allowed ? 'allowed' : `denied: ${code}`;
  } catch (e) {
    if (e instanceof RequestError) return `${e.field}: ${e.message}`;
    if (e instanceof PolicyError) return e.diagnostics.map((d) => `${d.file}:${d.line}`).join('\n');
    throw e;
  }
}

// @ts-expect-error: `admin` is no role
export const badRole: Request = { ...request, actor: { ...request.actor, role: 'admin' } };
// @ts-expect-error: `drop_tables` is no action
export const badAction: Request = { ...request, action: 'drop_tables' };
// @ts-expect-error: the option is `supportUrl`
export const badOption = loadMfaReset({ supportURL: 'https://help.example' });
