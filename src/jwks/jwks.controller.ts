import { Controller, Get, Header, type Type } from '@nestjs/common';
import { AuthService } from '../auth.service.js';
import { Public } from '../decorators/public.decorator.js';

export const DEFAULT_JWKS_PATH = '.well-known/jwks.json';

/**
 * The opt-in JWKS route. Built per app because a route's path is fixed when
 * its controller is declared, and the path is an option.
 */
export function jwksControllerFor(path: string): Type {
  @Controller()
  class JwksController {
    constructor(private readonly auth: AuthService) {}

    @Public()
    @Get(path)
    @Header('Cache-Control', 'public, max-age=300')
    jwks() {
      return this.auth.getJwks();
    }
  }
  return JwksController;
}
