import type { Carrier } from '../transports/carrier.js';

/** The caller's address and user agent, for session rows and audit events. */
export function clientOf(carrier: Carrier | undefined): { ip?: string; userAgent?: string } {
  if (carrier === undefined) return {};
  const target = carrier.target as { ip?: unknown; socket?: { remoteAddress?: string } };
  const ua = carrier.headers?.['user-agent'];
  return {
    ip: typeof target.ip === 'string' ? target.ip : target.socket?.remoteAddress,
    userAgent: typeof ua === 'string' ? ua.slice(0, 512) : undefined,
  };
}
