import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The sample's JWT secret: `JWT_SECRET` when set; otherwise a random one made
 * at first start and kept beside the database file (mode 0600), so `npm start`
 * needs no setup and no secret is ever public in the source.
 */
export function sampleJwtSecret(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.JWT_SECRET) return env.JWT_SECRET;
  const file = join(dataDir, 'jwt-secret');
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept.length >= 43) return kept;
  } catch {
    // First start: made below.
  }
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'w' });
  chmodSync(file, 0o600);
  new Logger('SampleApp').log(`JWT_SECRET is not set: generated one and kept it in ${file}`);
  return secret;
}
