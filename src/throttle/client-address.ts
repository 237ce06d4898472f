import { Logger } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import type { Carrier } from '../call/carrier.js';
import { handshakeRequestOf, nodeSocketOf, peerAddressOf } from '../call/client.js';

/**
 * `loginThrottle.clientAddress`: the caller's address for a call the module cannot read one from (a NATS or TCP
 * message; a gateway behind a proxy of your own). Gets the call (`type`: 'http' | 'graphql' | 'ws' | 'rpc';
 * `target`: the request, socket or RPC context; `headers`: the credential headers, NATS message headers
 * included); returns an address, or undefined for the module's own reading. Return only what a party you trust
 * wrote (a header your gateway sets and NATS permissions keep others from publishing), never what any client sends.
 */
export type ClientAddressReader = (call: Carrier) => string | undefined;

/**
 * The address of the client of a call, as the throttle counts it: the HTTP request's `ip` (Express's and Fastify's
 * own, so `trust proxy` / `trustProxy` decide, as for every route); for a WebSocket (socket.io, ws, graphql-ws) the
 * upgrade request's, through the same trust setting of the app's HTTP adapter; for anything else what
 * `clientAddress` gives, or nothing (then only the per-account limits count).
 */
export class ClientAddress {
  private readonly logger = new Logger('AuthModule');
  private warned = false;
  private upgradeIp: ((req: IncomingMessage) => string | undefined) | undefined;

  constructor(
    private readonly supplied: ClientAddressReader | undefined,
    private readonly adapterHost: HttpAdapterHost | undefined,
  ) {}

  of(carrier: Carrier | undefined): string | undefined {
    if (carrier === undefined) return undefined;
    if (this.supplied !== undefined) {
      let given: unknown;
      try {
        given = this.supplied(carrier);
      } catch {
        // The app's reader failed on this call: the module's own reading, never a 500 for a login.
        given = undefined;
      }
      if (typeof given === 'string' && given.length > 0) return given;
    }
    const target = carrier.target;
    if (typeof target.ip === 'string') {
      this.warnIfUntrusted(nodeSocketOf(target)?.remoteAddress, target.ip, carrier.headers);
      return target.ip;
    }
    const upgrade = handshakeRequestOf(target);
    if (upgrade !== undefined) {
      const ip = (this.upgradeIp ??= this.upgradeReader())(upgrade) ?? upgrade.socket?.remoteAddress;
      this.warnIfUntrusted(upgrade.socket?.remoteAddress, ip, upgrade.headers);
      return ip;
    }
    return peerAddressOf(target);
  }

  /**
   * Forwarded headers from a peer the app does not trust: every client behind that proxy counts as the proxy's
   * one address (they share its limits). Said once, at WARN, naming what to set; the header's value (the client's
   * to write) is not logged.
   */
  private warnIfUntrusted(peer: string | undefined, ip: string | undefined, headers: Readonly<Record<string, unknown>> | undefined): void {
    if (this.warned || peer === undefined || ip !== peer) return;
    if (headers?.['x-forwarded-for'] === undefined && headers?.['forwarded'] === undefined) return;
    this.warned = true;
    this.logger.warn(
      "loginThrottle: a login came with X-Forwarded-For/Forwarded from a peer the app does not trust as a proxy: it is counted as that peer's address, with every client behind it. Behind a reverse proxy set Express's 'trust proxy' or Fastify's trustProxy (README: Behind a reverse proxy).",
    );
  }

  /**
   * How the app's HTTP adapter reads a request's address, applied to an upgrade request that never went through
   * it: Express's `req.ip` getter (its 'trust proxy fn'), Fastify's request `ip` getter (its `trustProxy`).
   */
  private upgradeReader(): (req: IncomingMessage) => string | undefined {
    const instance = this.adapterHost?.httpAdapter?.getInstance?.() as Record<string | symbol, unknown> | undefined;
    if (instance === undefined || instance === null) return () => undefined;
    // Express: app.request inherits the `ip` getter, which reads `this.app`'s trust setting.
    const expressRequest = typeof instance.get === 'function' ? (instance.request as object | undefined) : undefined;
    const expressIp = expressRequest && getterOf(expressRequest, 'ip');
    if (expressRequest && expressIp) {
      return (req) => {
        const view = Object.create(expressRequest, {
          headers: { value: req.headers },
          socket: { value: req.socket },
          connection: { value: req.socket },
        }) as object;
        const ip = expressIp.call(view);
        return typeof ip === 'string' ? ip : undefined;
      };
    }
    // Fastify: its Request class, built with the `ip` getter only when trustProxy is set.
    const requestClassKey = Object.getOwnPropertySymbols(instance).find((s) => s.description === 'fastify.Request');
    const fastifyRequest = requestClassKey ? (instance[requestClassKey] as { prototype?: object } | undefined)?.prototype : undefined;
    const fastifyIp = fastifyRequest && getterOf(fastifyRequest, 'ip');
    if (fastifyIp) {
      return (req) => {
        const ip = fastifyIp.call({ raw: req, headers: req.headers, socket: req.socket });
        return typeof ip === 'string' ? ip : undefined;
      };
    }
    return () => undefined;
  }
}

function getterOf(proto: object, name: string): ((this: unknown) => unknown) | undefined {
  for (let o: object | null = proto; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const d = Object.getOwnPropertyDescriptor(o, name);
    if (d !== undefined) return d.get;
  }
  return undefined;
}
