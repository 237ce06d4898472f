/**
 * Nest 11's @nestjs/websockets builds a gateway's guards without the application's config, so no global guard
 * (APP_GUARD, the module's NestAuthGuard) runs on a gateway handler there; Nest 12 passes it. Secure by default:
 * on Nest 11 a gateway that does not place one of the module's guards itself fails the boot, never serves.
 */
import { GUARDS_METADATA } from '@nestjs/common/constants.js';
import type { ModulesContainer } from '@nestjs/core';
import { createRequire } from 'node:module';
import { AuthConfigError } from '../errors/auth-error.js';

// Keys of @nestjs/websockets' decorators (the same in 11 and 12), read here so the check never loads the package.
const GATEWAY_METADATA = 'websockets:is_gateway';
const MESSAGE_MAPPING_METADATA = 'websockets:message_mapping';

/** The installed @nestjs/websockets' version; undefined when absent or when its exports map hides package.json. */
export function installedWebsocketsVersion(): string | undefined {
  try {
    return (createRequire(import.meta.url)('@nestjs/websockets/package.json') as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** True where Nest runs the application's global guards on gateway handlers (12 and later, or no package at all). */
function globalGuardsReachGateways(version: string | undefined): boolean {
  if (version === undefined) return true;
  const major = Number(version.split('.')[0]);
  return !Number.isFinite(major) || major >= 12;
}

function carriesModuleGuard(target: object, isModuleGuard: (guard: unknown) => boolean): boolean {
  const guards = Reflect.getMetadata(GUARDS_METADATA, target) as unknown[] | undefined;
  return guards?.some(isModuleGuard) ?? false;
}

/**
 * A gateway class is guarded when the class carries one of the module's guards, or when every one of its message
 * handlers does (a handler without it would be served unguarded on Nest 11).
 */
export function isGatewayGuarded(gateway: Function, isModuleGuard: (guard: unknown) => boolean): boolean {
  if (carriesModuleGuard(gateway, isModuleGuard)) return true;
  for (let proto = gateway.prototype as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor') continue;
      const method = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
      if (typeof method !== 'function' || !Reflect.getMetadata(MESSAGE_MAPPING_METADATA, method)) continue;
      if (!carriesModuleGuard(method, isModuleGuard)) return false;
    }
  }
  return true;
}

/**
 * The decision: throws `AuthConfigError` naming the first gateway class that the module's global guard would leave
 * unprotected on this @nestjs/websockets version. `gateways` are the app's classes with `websockets:is_gateway`.
 */
export function assertGatewaysGuarded(
  gateways: Iterable<Function>,
  isModuleGuard: (guard: unknown) => boolean,
  readVersion: () => string | undefined = installedWebsocketsVersion,
): void {
  const unguarded = [...gateways].filter((g) => !isGatewayGuarded(g, isModuleGuard));
  if (unguarded.length === 0) return;
  const version = readVersion();
  if (globalGuardsReachGateways(version)) return;
  const names = unguarded.map((g) => g.name).join(', ');
  throw new AuthConfigError(
    'globalGuard',
    `@nestjs/websockets ${version} runs no global guard on gateway handlers, so ${names} would serve every caller; ` +
      `add @UseGuards(NestAuthGuard) to the gateway class, or upgrade to NestJS 12`,
  );
}

/** The app's gateway classes, as Nest registered them. */
export function gatewayClasses(modules: ModulesContainer): Set<Function> {
  const found = new Set<Function>();
  for (const moduleRef of modules.values()) {
    for (const wrapper of moduleRef.providers.values()) {
      const type = wrapper.metatype as Function | null | undefined;
      if (typeof type === 'function' && Reflect.getMetadata(GATEWAY_METADATA, type)) found.add(type);
    }
  }
  return found;
}
