// PLACEHOLDER until the API-keys backend lands.
import { Injectable } from '@nestjs/common';
import type { AuthContextData } from '../context/auth-context.js';
import { AuthError } from '../errors/auth-error.js';
@Injectable()
export class ApiKeyService {
  static forCore(_core: unknown): ApiKeyService { return new ApiKeyService(); }
  async authenticate(_raw: string): Promise<AuthContextData> { throw new AuthError('api_key_invalid', 'Invalid API key'); }
}
