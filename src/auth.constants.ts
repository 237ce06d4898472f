/** Injection token of the validated options (`ResolvedAuthOptions`). */
export const AUTH_OPTIONS = Symbol('AUTH_OPTIONS');
