import 'reflect-metadata';
import { test } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { Authenticator } from '../../src/authentication/authenticator.js';
import { AuthService } from '../../src/index.js';
import { bootApp } from '../support/app.js';
import { JwksServer } from './support/jwks-server.js';

test('hit path', async () => {
  const provider = await new JwksServer().start();
  provider.addKey('RS256');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const app = await bootApp({
    jwt: { algorithms: ['RS256'], privateKey: rsa.privateKey },
    trustedIssuers: [{ issuer: provider.issuer, audience: 'api' }],
  });
  const only = await bootApp({ jwt: { algorithms: ['RS256'], privateKey: rsa.privateKey } });
  const a = app.get(Authenticator);
  const b = only.get(Authenticator);
  const own = await app.get(AuthService).createToken({ sub: '1', permissions: ['x'] });
  const ownOnly = await only.get(AuthService).createToken({ sub: '1', permissions: ['x'] });
  const ext = await provider.sign(provider.claims('api', { scope: 'x', exp: Math.floor(Date.now() / 1000) + 3000 }));
  const cred = (token: string) => ({ kind: 'bearer', token }) as never;
  await a.authenticate(cred(ext));
  const run = (auth: Authenticator, token: string, n: number) => {
    const c = cred(token);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) auth.authenticate(c);
    return Number(process.hrtime.bigint() - t0) / n;
  };
  const rows: Record<string, number[]> = { ownOnlyApp: [], ownMixedApp: [], external: [] };
  for (let round = 0; round < 7; round++) {
    rows.ownOnlyApp!.push(run(b, ownOnly, 200_000));
    rows.ownMixedApp!.push(run(a, own, 200_000));
    rows.external!.push(run(a, ext, 200_000));
  }
  const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]!;
  console.log(
    Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, `${med(v).toFixed(0)} ns (rounds ${v.map((n) => n.toFixed(0)).join(' ')})`])),
  );
  await app.close();
  await only.close();
  await provider.close();
}, 120000);
