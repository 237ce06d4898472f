import { expect } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { PASSWORDS } from './users.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

/** Headers that send the token as a Bearer credential: `.set(bearer(token))`. */
export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Logs a test user in through POST /auth/login (support/controllers' AuthController) and expects a 200. */
export async function login(app: INestApplication, username: keyof typeof PASSWORDS = 'alice'): Promise<TokenPair> {
  const res = await request(app.getHttpServer()).post('/auth/login').send({ username, password: PASSWORDS[username] });
  expect(res.status).toBe(200);
  return res.body as TokenPair;
}
