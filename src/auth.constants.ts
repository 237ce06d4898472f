/** Injection token of the validated options (`ResolvedAuthOptions`). */
export const AUTH_OPTIONS = Symbol('AUTH_OPTIONS');
/** Injection token of the options as the app gave them, before validation (forRootAsync). */
export const AUTH_RAW_OPTIONS = Symbol('AUTH_RAW_OPTIONS');
