import { Args, Field, Mutation, ObjectType, Query, Resolver, Subscription } from '@nestjs/graphql';
import { CurrentUser, PermissionRequired, type AuthPrincipal } from '@democrai/nest-auth';

@ObjectType()
class Principal {
  @Field(() => String) id!: string;
  @Field(() => String) username!: string;
  @Field(() => [String]) permissions!: string[];
}

@ObjectType()
class Article {
  @Field(() => String) id!: string;
  @Field(() => String) title!: string;
  @Field(() => String) author!: string;
}

/** `/graphql`: the module's decorators work on resolvers as on controllers, and on graphql-ws subscriptions. */
@Resolver()
export class ArticlesResolver {
  private readonly store: Article[] = [{ id: '1', title: 'Hello, GraphQL', author: 'admin' }];
  /** The open `articleCreated` subscriptions of this instance (a demo: a real app would use a shared pub/sub). */
  private readonly subscribers = new Set<(article: Article) => void>();

  @Query(() => Principal)
  me(@CurrentUser() user: AuthPrincipal): Principal {
    return { id: user.id, username: user.username, permissions: user.permissions };
  }

  @PermissionRequired('articles:read')
  @Query(() => [Article])
  articles(): Article[] {
    return this.store;
  }

  @PermissionRequired('articles:write')
  @Mutation(() => Article)
  createArticle(@Args('title', { type: () => String }) title: string, @CurrentUser() user: AuthPrincipal): Article {
    const article = { id: String(this.store.length + 1), title, author: user.username };
    this.store.push(article);
    for (const notify of this.subscribers) notify(article);
    return article;
  }

  @PermissionRequired('articles:read')
  @Subscription(() => Article, { resolve: (article: Article) => article })
  articleCreated(): AsyncIterableIterator<Article> {
    return this.created();
  }

  /**
   * An iterator of the articles created from now on. Hand-written rather than an async generator: a generator
   * waiting for the next article would run its cleanup only after that article, and an unsubscribe must end it at once.
   */
  private created(): AsyncIterableIterator<Article> {
    const queue: Article[] = [];
    let waiting: ((result: IteratorResult<Article>) => void) | undefined;
    const notify = (article: Article) => {
      if (waiting) {
        waiting({ value: article, done: false });
        waiting = undefined;
      } else queue.push(article);
    };
    const end = (): Promise<IteratorResult<Article>> => {
      this.subscribers.delete(notify);
      waiting?.({ value: undefined, done: true });
      waiting = undefined;
      return Promise.resolve({ value: undefined, done: true });
    };
    this.subscribers.add(notify);
    const iterator: AsyncIterableIterator<Article> = {
      next: () =>
        queue.length > 0
          ? Promise.resolve({ value: queue.shift()!, done: false })
          : this.subscribers.has(notify)
            ? new Promise((resolve) => (waiting = resolve))
            : Promise.resolve({ value: undefined, done: true }),
      return: end,
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}
