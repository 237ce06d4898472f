import { Args, Field, Mutation, ObjectType, Query, Resolver, Subscription } from '@nestjs/graphql';
import { AuthService, CurrentUser, PermissionRequired, Public, type AuthPrincipal } from '../../src/index.js';

@ObjectType()
export class Me {
  @Field(() => String) id!: string;
  @Field(() => String) username!: string;
}

@ObjectType()
export class Article {
  @Field(() => String) title!: string;
}

async function* ticks(label: string, everyMs = 50): AsyncGenerator<string> {
  for (let i = 0; ; i++) {
    await new Promise((r) => setTimeout(r, everyMs));
    yield `${label}${i}`;
  }
}

/** Resolvers as an app writes them: the same decorators as controllers. */
@Resolver()
export class ArticlesResolver {
  private readonly store: Article[] = [{ title: 'first' }];

  constructor(private readonly auth: AuthService) {}

  @Query(() => Me)
  me(@CurrentUser() user: AuthPrincipal): Me {
    return { id: user.id, username: user.username };
  }

  @Public()
  @Query(() => String)
  hello(@CurrentUser() user: AuthPrincipal | undefined): string {
    return `hello ${user?.username ?? 'guest'}`;
  }

  @PermissionRequired('articles:read')
  @Query(() => [Article])
  articles(): Article[] {
    return this.store;
  }

  @PermissionRequired('articles:write')
  @Mutation(() => Article)
  createArticle(@Args('title', { type: () => String }) title: string): Article {
    const article = { title };
    this.store.push(article);
    return article;
  }

  /** AuthService's context-bound methods act on this operation's principal. */
  @Query(() => [String])
  async myCurrentSession(@Args('delayMs', { type: () => Number, nullable: true }) delayMs?: number): Promise<string[]> {
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const sessions = await this.auth.listSessions();
    return sessions.filter((s) => s.current).map((s) => s.id);
  }

  @Subscription(() => String, { resolve: (v: string) => v })
  ticks() {
    return ticks('tick');
  }

  @PermissionRequired('articles:write')
  @Subscription(() => String, { resolve: (v: string) => v })
  writerTicks() {
    return ticks('w');
  }

  @Public()
  @Subscription(() => String, { resolve: (v: string) => v })
  publicTicks() {
    return ticks('p');
  }
}
