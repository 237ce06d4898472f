// The authenticated caller's types live with the per-call object (src/call/), which every stage may import;
// this is where the rest of the module and the apps' imports have always found them.
export type { AuthContextData, AuthPrincipal } from '../call/auth-data.js';
