import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { rawTablePath } from '../persistence/table-path.js';
import { AuthConfigError } from '../errors/auth-error.js';
import { PostgresRevocationChannel, pgConfigOf } from './postgres-revocation.channel.js';
import { RedisRevocationChannel, type RedisRevocationChannelOptions } from './redis-revocation.channel.js';
import type { RevocationChannel } from './revocation-channel.js';

/**
 * `revocation.channel`:
 * - `'auto'` [default]: PostgreSQL LISTEN/NOTIFY when the TypeORM store is on PostgreSQL, none otherwise;
 * - `'none'`: polling only;
 * - `'postgres'` or `{ type: 'postgres', channel? }`: LISTEN/NOTIFY on a dedicated connection to the store's database;
 * - `{ type: 'redis', url?, options?, channel? }`: Redis pub/sub (needs `ioredis`);
 * - a `RevocationChannel` instance.
 */
export type RevocationChannelOption =
  'auto' | 'none' | 'postgres' | { type: 'postgres'; channel?: string } | ({ type: 'redis' } & RedisRevocationChannelOptions) | RevocationChannel;

export function isRevocationChannel(value: unknown): value is RevocationChannel {
  const v = value as Partial<RevocationChannel> | null;
  return typeof v === 'object' && v !== null && typeof v.start === 'function' && typeof v.publish === 'function' && typeof v.stop === 'function';
}

/** The channel an option names; `dataSource` is the TypeORM store's, when that store is used. Only in `cached` mode. */
export function resolveRevocationChannel(
  option: RevocationChannelOption | undefined,
  dataSource: DataSource | undefined,
): RevocationChannel | undefined {
  const value = option ?? 'auto';
  if (isRevocationChannel(value)) return value;
  if (value === 'none') return undefined;
  const onPostgres = dataSource !== undefined && dataSource.options.type === 'postgres';
  if (value === 'auto') return onPostgres ? postgresChannel(dataSource!) : undefined;
  const type = typeof value === 'string' ? value : value.type;
  if (type === 'postgres') {
    if (!onPostgres) throw new AuthConfigError('revocation.channel', "'postgres' needs store: 'typeorm' on a PostgreSQL DataSource");
    return postgresChannel(dataSource!, typeof value === 'object' ? (value as { channel?: string }).channel : undefined);
  }
  if (type === 'redis') {
    const { type: _type, ...rest } = value as { type: 'redis' } & RedisRevocationChannelOptions;
    return new RedisRevocationChannel(rest);
  }
  throw new AuthConfigError('revocation.channel', "must be 'auto', 'none', 'postgres', { type: 'postgres' | 'redis', ... } or a RevocationChannel");
}

function postgresChannel(dataSource: DataSource, channel?: string): RevocationChannel {
  return new PostgresRevocationChannel({
    connection: pgConfigOf(dataSource.options as Parameters<typeof pgConfigOf>[0]),
    channel: channel ?? defaultChannelOf(dataSource),
  });
}

/**
 * NOTIFY reaches every listener of the database, whatever its schema: services that share one database, each in
 * a schema of its own (or under a table prefix), must not hear each other's revocations (user ids repeat across
 * them). The default channel is therefore named after where the change log lives: the plain name for the default
 * place, so instances of any version agree there, and a digest of the table path elsewhere.
 */
function defaultChannelOf(dataSource: DataSource): string {
  const path = rawTablePath(dataSource, 'auth_revocation_log');
  if (path === 'auth_revocation_log') return 'nest_auth_revocation';
  return `nest_auth_revocation_${createHash('sha256').update(path).digest('hex').slice(0, 16)}`;
}
