import type { NestInterceptor, Type } from '@nestjs/common';
import { INTERCEPTORS_METADATA } from '@nestjs/common/constants.js';
import type { ModulesContainer } from '@nestjs/core';

/**
 * `requestContext: 'auto'`: puts the context interceptor on the classes that
 * can call a context-bound method, as a class-level `@UseInterceptors()`
 * would, and on no other. Runs while the providers are instantiated, before
 * Nest builds the route handlers (and the resolvers and gateways) that read
 * the metadata. Every other handler runs with no interceptor of the module at
 * all: no AsyncLocalStorage, and no rxjs chain Nest builds per request for an
 * interceptor.
 */
export function bindRequestContext(modules: ModulesContainer, reach: ContextReach, interceptor: NestInterceptor): void {
  bindToReachingClasses(modules, reach, interceptor, () => true);
}

// @nestjs/microservices' key of `@MessagePattern()` / `@EventPattern()`, read here so the module never loads the package.
const PATTERN_METADATA = 'microservices:pattern';

/**
 * `requestContext: false`: puts the refusal interceptor on the classes that can reach AuthService and serve off
 * HTTP: the providers (resolvers and gateways are providers) and the controllers with a message handler. An HTTP
 * controller gets none: a refusal there is Nest's HTTP exception already, and its routes keep running without any
 * interceptor of the module.
 */
export function bindRefusalShapes(modules: ModulesContainer, reach: ContextReach, interceptor: NestInterceptor): void {
  bindToReachingClasses(modules, reach, interceptor, (type, controller) => !controller || handlesMessages(type));
}

function bindToReachingClasses(
  modules: ModulesContainer,
  reach: ContextReach,
  interceptor: NestInterceptor,
  accept: (type: Function, controller: boolean) => boolean,
): void {
  for (const module of modules.values()) {
    for (const [group, controller] of [
      [module.controllers, true],
      [module.providers, false],
    ] as unknown as [Map<unknown, Wrapper>, boolean][]) {
      for (const wrapper of group.values()) {
        const type = wrapper.metatype;
        if (typeof type !== 'function' || wrapper.inject != null || !accept(type, controller) || !reach.needsContext(type)) continue;
        const bound = (Reflect.getMetadata(INTERCEPTORS_METADATA, type) as unknown[] | undefined) ?? [];
        // Idempotent: several apps of one process (tests) may boot the same classes.
        if (!bound.includes(interceptor)) Reflect.defineMetadata(INTERCEPTORS_METADATA, [...bound, interceptor], type);
      }
    }
  }
}

/** A controller class with a `@MessagePattern()` / `@EventPattern()` handler (its own or inherited). */
function handlesMessages(type: Function): boolean {
  for (let proto = type.prototype as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor') continue;
      const method = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
      if (typeof method === 'function' && Reflect.getMetadata(PATTERN_METADATA, method) !== undefined) return true;
    }
  }
  return false;
}

/**
 * Which handler classes can call a context-bound method, for `requestContext: 'auto'`.
 *
 * On Node 20 an entered AsyncLocalStorage turns on promise hooks for the whole
 * process (measured: Fastify at 0.40x its bare speed), so the context is
 * entered only for handlers that may need it: those whose class reaches one
 * of the module's context readers through dependency injection (constructor or
 * property injection, factory `inject`, `useExisting`, forwardRef, inherited
 * constructors). A class that injects something able to fetch any provider at
 * run time (ModuleRef and the like) counts as reaching them. A class the
 * container does not know counts as reaching them too: when in doubt, enter.
 */
export class ContextReach {
  private readonly verdicts = new WeakMap<Function, boolean>();
  private index: Map<unknown, Wrapper[]> | undefined;

  constructor(
    private readonly modules: ModulesContainer,
    /** The module's classes that read the request context (AuthService and the services behind it). */
    private readonly readers: readonly Function[],
    /** Classes that can resolve any provider at run time. */
    private readonly resolvers: readonly Function[],
  ) {}

  needsContext(handlerClass: Function): boolean {
    let verdict = this.verdicts.get(handlerClass);
    if (verdict === undefined) {
      verdict = this.reaches(handlerClass);
      this.verdicts.set(handlerClass, verdict);
    }
    return verdict;
  }

  private reaches(start: Function): boolean {
    const index = this.wrappers();
    if (!index.has(start)) return true;
    const seen = new Set<unknown>();
    const pending: unknown[] = [start];
    while (pending.length > 0) {
      const token = unwrapForwardRef(pending.pop());
      if (token === undefined || token === null || seen.has(token)) continue;
      seen.add(token);
      if (this.isReader(token)) return true;
      const wrappers = index.get(token);
      if (wrappers === undefined) {
        // Not a provider token (a class used as a type only): its own constructor may still inject.
        if (typeof token === 'function') pending.push(...classDependencies(token));
        continue;
      }
      for (const wrapper of wrappers) {
        if (wrapper.instance !== undefined && wrapper.instance !== null && this.readers.some((r) => wrapper.instance instanceof r)) return true;
        if (Array.isArray(wrapper.inject)) pending.push(...wrapper.inject.map(injectToken));
        if (typeof wrapper.metatype === 'function' && wrapper.inject == null) {
          if (this.isReader(wrapper.metatype)) return true;
          pending.push(...classDependencies(wrapper.metatype));
        }
      }
    }
    return false;
  }

  private isReader(token: unknown): boolean {
    if (typeof token !== 'function') return false;
    const is = (type: Function) => token === type || token.prototype instanceof type;
    return this.readers.some(is) || this.resolvers.some(is);
  }

  private wrappers(): Map<unknown, Wrapper[]> {
    if (this.index !== undefined) return this.index;
    const index = new Map<unknown, Wrapper[]>();
    for (const module of this.modules.values()) {
      const groups = [module.providers, module.controllers, module.injectables] as unknown as Map<unknown, Wrapper>[];
      for (const group of groups) {
        for (const [token, wrapper] of group) {
          const list = index.get(token);
          if (list === undefined) index.set(token, [wrapper]);
          else list.push(wrapper);
        }
      }
    }
    this.index = index;
    return index;
  }
}

/** The parts of Nest's InstanceWrapper read here. */
interface Wrapper {
  metatype?: unknown;
  inject?: unknown[] | null;
  instance?: unknown;
}

/** Constructor parameters (types, overridden by `@Inject()` tokens) and injected properties, inherited ones included. */
function classDependencies(type: Function): unknown[] {
  const params = (Reflect.getMetadata('design:paramtypes', type) as unknown[] | undefined) ?? [];
  const overrides = (Reflect.getMetadata('self:paramtypes', type) as { index: number; param: unknown }[] | undefined) ?? [];
  const properties = (Reflect.getMetadata('self:properties_metadata', type) as { type: unknown }[] | undefined) ?? [];
  const tokens = [...params];
  for (const { index, param } of overrides) tokens[index] = param;
  return [...tokens, ...properties.map((p) => p.type)];
}

function injectToken(entry: unknown): unknown {
  return typeof entry === 'object' && entry !== null && 'token' in entry ? (entry as { token: unknown }).token : entry;
}

function unwrapForwardRef(token: unknown): unknown {
  if (typeof token === 'object' && token !== null && 'forwardRef' in token) {
    const ref = (token as { forwardRef: unknown }).forwardRef;
    return typeof ref === 'function' ? (ref as () => Type)() : undefined;
  }
  return token;
}
