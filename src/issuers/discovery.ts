import { fetchJson, ProviderReadError } from './fetch-json.js';
import { checkProviderUrl, type ResolvedTrustedIssuer } from './trusted-issuer.options.js';

/** Bounds on what a provider may send: a discovery document or a key set larger than this is refused. */
export const MAX_DOCUMENT_BYTES = 256 * 1024;

/**
 * An endpoint the issuer's discovery document names (OpenID Connect Discovery §4): the document must name the
 * configured issuer, and the endpoint must be an https URL on the issuer's own origin. Nothing a provider sends
 * makes the module contact another host: an endpoint elsewhere is the app's to configure (`option`).
 */
export async function discoveredEndpoint(
  issuer: ResolvedTrustedIssuer,
  member: 'jwks_uri' | 'introspection_endpoint',
  option: string,
): Promise<string> {
  const url = issuer.discoveryUrl;
  const { body } = await fetchJson(url, issuer.fetchTimeoutMs, MAX_DOCUMENT_BYTES);
  if (body.issuer !== issuer.issuer) throw new ProviderReadError(url, 'its "issuer" is not the configured issuer');
  let endpoint: URL;
  try {
    endpoint = checkProviderUrl(body[member], member);
  } catch {
    throw new ProviderReadError(url, `"${member}" is missing or not an https URL`);
  }
  if (endpoint.origin !== new URL(issuer.issuer).origin) {
    throw new ProviderReadError(url, `"${member}" is on another origin (${endpoint.origin}); configure ${option} to trust it`);
  }
  return endpoint.toString();
}
