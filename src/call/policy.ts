/**
 * What a handler demands, read once from its decorators (authorization/ computes it). Kept here, with the
 * record of the call that carries it, so the stages below authorization can hold it without importing it.
 */
export interface RoutePolicy {
  isPublic: boolean;
  staffOnly: boolean;
  superuserOnly: boolean;
  permissions: readonly string[] | undefined;
  anyPermission: boolean;
  /** `Controller.handler`, for audit events and the route table: no URL, so no query string can leak into a log. */
  route: string;
  /** What the route requires, in one word or list: `public`, `authenticated`, `superuser`, `all:a,b`… */
  required: string;
  /** `@SkipLoginThrottle()` on the handler or its class: the app throttles `login()` here itself. */
  skipLoginThrottle: boolean;
}
