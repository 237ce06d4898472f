import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleJwtSecret } from '../../sample-app/src/secret.js';

describe("the sample app's JWT secret", () => {
  test('made at first start, random, kept beside the database (0600) and reused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sample-'));
    const first = sampleJwtSecret(dir, {});
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(join(dir, 'jwt-secret')).mode & 0o777).toBe(0o600);
    expect(sampleJwtSecret(dir, {})).toBe(first);
    expect(sampleJwtSecret(mkdtempSync(join(tmpdir(), 'sample-')), {})).not.toBe(first);
    expect(readFileSync(join(dir, 'jwt-secret'), 'utf8').trim()).toBe(first);
  });

  test('JWT_SECRET wins when set', () => {
    expect(sampleJwtSecret(mkdtempSync(join(tmpdir(), 'sample-')), { JWT_SECRET: 'from-env-'.repeat(5) })).toBe('from-env-'.repeat(5));
  });

  test('no secret is written in the sample source', () => {
    const source = readFileSync(new URL('../../sample-app/src/app.module.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/secret:\s*['"]/);
  });
});
