import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Field, Mutation, ObjectType, Query, Resolver, Subscription } from '@nestjs/graphql';
import { ConnectedSocket, SubscribeMessage, WebSocketGateway, type OnGatewayInit } from '@nestjs/websockets';
import { map, mergeMap, Observable, Subject, type Subscription as RxSubscription } from 'rxjs';
import { AuthContext, AuthService, type AuthContextData, type SessionInfo } from '../../src/index.js';
import { TransportAuth } from '../../src/transports/index.js';
import { settle } from './stream-app.js';

/** The app's shared publish/subscribe channel (rxjs, as Nest apps keep one): a publish runs every subscriber's pipeline at once. */
@Injectable()
export class PubSub implements OnModuleDestroy {
  private readonly events = new Subject<void>();
  private counted = 0;

  publish(): void {
    this.events.next();
  }

  subscribe(): Observable<void> {
    return new Observable<void>((subscriber) => {
      this.counted++;
      const subscription = this.events.subscribe(subscriber);
      return () => {
        this.counted--;
        subscription.unsubscribe();
      };
    });
  }

  get listeners(): number {
    return this.counted;
  }

  onModuleDestroy(): void {
    this.events.complete();
  }
}

@ObjectType()
export class SessionsEvent {
  @Field(() => [String], { nullable: true }) ids?: string[];
  @Field(() => String, { nullable: true }) current?: string;
  @Field(() => String, { nullable: true }) refused?: string;
}

export function sessionsEvent(result: { ok: SessionInfo[] } | { refused: string }): SessionsEvent {
  if ('refused' in result) return { refused: result.refused };
  return { ids: result.ok.map((s) => s.id).sort(), current: result.ok.find((s) => s.current)?.id };
}

/** An Observable as the AsyncIterator a GraphQL subscription returns; `return()` unsubscribes. */
function iterate<T>(source: Observable<T>): AsyncIterableIterator<T> {
  const queue: T[] = [];
  const waiting: Array<(r: IteratorResult<T>) => void> = [];
  let done = false;
  const subscription: RxSubscription = source.subscribe({
    next: (value) => {
      const waiter = waiting.shift();
      if (waiter) waiter({ value, done: false });
      else queue.push(value);
    },
    complete: () => {
      done = true;
      for (const waiter of waiting.splice(0)) waiter({ value: undefined, done: true });
    },
  });
  const iterator: AsyncIterableIterator<T> = {
    next: () =>
      queue.length > 0
        ? Promise.resolve({ value: queue.shift()!, done: false })
        : done
          ? Promise.resolve({ value: undefined, done: true })
          : new Promise((resolve) => waiting.push(resolve)),
    return: () => {
      subscription.unsubscribe();
      done = true;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

/** A subscription over the shared PubSub, fed by a mutation any user may call. */
@Resolver()
export class SessionsFeedResolver {
  constructor(
    private readonly auth: AuthService,
    private readonly pubsub: PubSub,
  ) {}

  @Query(() => String)
  hello(): string {
    return 'hello';
  }

  @Mutation(() => Boolean)
  publishChange(): boolean {
    this.pubsub.publish();
    return true;
  }

  @Subscription(() => SessionsEvent, { resolve: (event: SessionsEvent) => event })
  mySessions(@AuthContext() caller: AuthContextData) {
    return iterate(
      this.pubsub.subscribe().pipe(
        mergeMap(() => settle(() => this.auth.listSessions(caller))),
        map(sessionsEvent),
      ),
    );
  }
}

/** socket.io: each watcher's listener runs when anyone announces, inside the announcer's message. */
@WebSocketGateway({ namespace: '/feed' })
export class SessionsFeedGateway implements OnGatewayInit {
  constructor(
    private readonly transportAuth: TransportAuth,
    private readonly auth: AuthService,
    private readonly pubsub: PubSub,
  ) {}

  afterInit(server: { use(mw: unknown): void }): void {
    server.use(this.transportAuth.socketIoMiddleware());
  }

  @SubscribeMessage('watch')
  watch(
    @ConnectedSocket() client: { emit(e: string, d: unknown): void; once(e: string, l: () => void): void },
    @AuthContext() caller: AuthContextData,
  ) {
    const subscription = this.pubsub
      .subscribe()
      .pipe(mergeMap(() => settle(() => this.auth.listSessions(caller))))
      .subscribe((result) => client.emit('sessions', sessionsEvent(result)));
    client.once('disconnect', () => subscription.unsubscribe());
    return { watching: true };
  }

  @SubscribeMessage('announce')
  announce() {
    this.pubsub.publish();
    return { announced: true };
  }
}
