import { Body, Controller, Get, Post } from '@nestjs/common';
import { CurrentUser, type AuthPrincipal } from '@democrai/nest-auth';
import { PermissionRequired } from '../permissions.js';

const ARTICLES = [{ id: 1, title: 'Private by default' }];

@Controller('articles')
export class ArticlesController {
  /** Readers, and API keys that hold articles:read. */
  @PermissionRequired('articles:read')
  @Get()
  list() {
    return ARTICLES;
  }

  @PermissionRequired(['articles:write', 'articles:publish'], { mode: 'any' })
  @Post()
  create(@Body() body: { title?: string }, @CurrentUser() user: AuthPrincipal) {
    return { id: ARTICLES.length + 1, title: String(body?.title ?? 'Untitled'), author: user.username };
  }
}
