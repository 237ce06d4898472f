import { Controller, Get, HttpCode, Injectable, Post, Sse, type MessageEvent } from '@nestjs/common';
import { interval, mergeMap, Observable, share, Subject } from 'rxjs';
import { AuthContext, AuthService, SuperuserOnly, type AuthContextData } from '../../src/index.js';

/** The code of a refusal, whatever shape the transport gave it (HTTP exception, GraphQL error, WsException). */
export function refusalCode(err: unknown): string {
  const e = err as {
    getResponse?: () => unknown;
    getError?: () => unknown;
    extensions?: { authCode?: string };
    code?: string;
    message?: string;
  };
  const body = (e.getResponse?.() ?? e.getError?.()) as { code?: string } | undefined;
  return body?.code ?? e.extensions?.authCode ?? e.code ?? `unexpected: ${e.message}`;
}

/** What a stream delivers for one call: the value, or the code it was refused with. */
export function settle<T>(call: () => Promise<T>): Promise<{ ok: T } | { refused: string }> {
  let promise: Promise<T>;
  try {
    promise = call();
  } catch (err) {
    return Promise.resolve({ refused: refusalCode(err) });
  }
  return promise.then(
    (ok) => ({ ok }),
    (err: unknown) => ({ refused: refusalCode(err) }),
  );
}

/** An app's shared event sources, as the usual server-push code keeps them in a singleton. */
@Injectable()
export class Bus {
  /** Pushed into by any request: runs every subscriber's pipeline synchronously, in the pusher's context. */
  readonly changes = new Subject<void>();
  /** One timer for every subscriber, started by the first one (in its context). */
  readonly ticks = interval(100).pipe(share());
  private counted = 0;

  /** `changes`, counting its subscribers so a test knows when a stream is listening. */
  changes$(): Observable<void> {
    return new Observable<void>((subscriber) => {
      this.counted++;
      const subscription = this.changes.subscribe(subscriber);
      return () => {
        this.counted--;
        subscription.unsubscribe();
      };
    });
  }

  get listeners(): number {
    return this.counted;
  }
}

const event = (data: unknown): MessageEvent => ({ data: data as object });

/** SSE routes written as apps write them, in the explicit form (the documented way) and in the ambient one. */
@Controller('stream')
export class StreamController {
  constructor(
    private readonly auth: AuthService,
    private readonly bus: Bus,
  ) {}

  @Sse('tokens')
  tokens(@AuthContext() caller: AuthContextData): Observable<MessageEvent> {
    return this.bus.changes$().pipe(mergeMap(async () => event(await settle(() => this.auth.refreshCurrentSessionToken(caller)))));
  }

  @Sse('tokens-ambient')
  tokensAmbient(): Observable<MessageEvent> {
    return this.bus.changes$().pipe(mergeMap(async () => event(await settle(() => this.auth.refreshCurrentSessionToken()))));
  }

  @Sse('sessions')
  sessions(@AuthContext() caller: AuthContextData): Observable<MessageEvent> {
    return this.bus.ticks.pipe(mergeMap(async () => event(await settle(() => this.auth.listSessions(caller)))));
  }

  @Sse('sessions-ambient')
  sessionsAmbient(): Observable<MessageEvent> {
    return this.bus.ticks.pipe(mergeMap(async () => event(await settle(() => this.auth.listSessions()))));
  }

  /** A state change posted by a user, in a class that reaches AuthService. */
  @Post('emit')
  @HttpCode(204)
  emit(): void {
    this.bus.changes.next();
  }
}

/** A state change posted by a user, in a class that does not reach AuthService. */
@Controller('announce')
export class AnnounceController {
  constructor(private readonly bus: Bus) {}

  @Post()
  @HttpCode(204)
  announce(): void {
    this.bus.changes.next();
  }
}

@Controller('admin')
export class SuperuserController {
  @SuperuserOnly()
  @Get()
  admin() {
    return { admin: true };
  }
}
