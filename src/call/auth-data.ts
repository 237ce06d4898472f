/** The authenticated caller, as `request.user` and `@CurrentUser()` hold it. */
export interface AuthPrincipal {
  id: string;
  username: string;
  email?: string;
  isStaff: boolean;
  isSuperuser: boolean;
  permissions: string[];
}

/** What `request.auth` and `@AuthContext()` hold after authentication. */
export interface AuthContextData {
  userId: string;
  username?: string;
  isStaff: boolean;
  isSuperuser: boolean;
  permissions: string[];
  backend: 'jwt' | 'api_key';
  /** JWT only. */
  claims?: Record<string, unknown>;
  /** JWT issued by login/refresh. */
  sessionId?: string;
  /** The trusted issuer (`trustedIssuers[].issuer`) whose token authenticated the call; absent for the module's own tokens. */
  issuer?: string;
}
