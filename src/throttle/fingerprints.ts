import { createHmac } from 'node:crypto';
import { isIPv6 } from 'node:net';

/**
 * The module's one keyed fingerprint of usernames and addresses (`loginThrottle.fingerprintKey`): it names the
 * throttle's counters and the username of every login audit event, so a `login.throttled` event and the
 * `login.failed` events of the same typed name carry the same `fp:` value and can be matched. Keyed, so a name
 * cannot be recovered by guessing offline; people type passwords into the username field, so an unknown name is
 * never logged as text.
 */
export class Fingerprints {
  constructor(private readonly key: Buffer) {}

  /** A fingerprint of `value` within `domain` (each kind of key has its own). */
  of(domain: string, value: string): string {
    return createHmac('sha256', this.key).update(`${domain}\0${value}`).digest('base64url').slice(0, 32);
  }

  /** The account a typed username counts on: case and Unicode variants of one name are one account. */
  account(username: unknown): string {
    return this.of('u', normaliseUsername(username));
  }

  /** The username as audit events show it: `fp:` and the first 16 characters of its account fingerprint. */
  shown(username: unknown): string {
    return shownAccount(this.account(username));
  }
}

/** An account fingerprint as audit events show it. */
export function shownAccount(account: string): string {
  return `fp:${account.slice(0, 16)}`;
}

/** Case and Unicode variants of one name count as one account. */
export function normaliseUsername(username: unknown): string {
  return String(username).normalize('NFKC').trim().toLowerCase().slice(0, 256);
}

/** IPv4-mapped IPv6 as IPv4; other IPv6 by its /64, which one subscriber usually holds whole. */
export function normaliseIp(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const [head, tail = ''] = ip.split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
