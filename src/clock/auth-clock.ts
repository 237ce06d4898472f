/**
 * What the module reads the time from: tests give one they can move [Date.now]. Its own folder, imported by
 * nothing, so every feature (tokens, sessions, revocation, api-keys…) can name it without reaching the options.
 */
export interface AuthClock {
  /** Milliseconds since the epoch. */
  now(): number;
}
