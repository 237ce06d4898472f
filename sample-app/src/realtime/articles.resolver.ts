import { Args, Field, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
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

/** `/graphql`: the module's decorators work on resolvers as on controllers. */
@Resolver()
export class ArticlesResolver {
  private readonly store: Article[] = [{ id: '1', title: 'Hello, GraphQL', author: 'admin' }];

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
    return article;
  }
}
