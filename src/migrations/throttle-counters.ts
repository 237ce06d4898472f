import { sqlMigration } from './sql-migration.js';

/** The login throttle's counters (listed in `authMigrations`, with the module's other tables). */
export const ThrottleCountersSqlite1764000000002 = sqlMigration(
  'ThrottleCountersSqlite1764000000002',
  [
    'CREATE TABLE "auth_throttle_counters" ("key" varchar(191) PRIMARY KEY NOT NULL, "hits" integer NOT NULL, "reset_at" bigint NOT NULL)',
    'CREATE INDEX "IDX_auth_throttle_counters_reset_at" ON "auth_throttle_counters" ("reset_at")',
  ],
  ['DROP TABLE "auth_throttle_counters"'],
);

export const ThrottleCountersPostgres1764000000002 = sqlMigration(
  'ThrottleCountersPostgres1764000000002',
  [
    'CREATE TABLE "auth_throttle_counters" ("key" character varying(191) NOT NULL, "hits" integer NOT NULL, "reset_at" bigint NOT NULL, CONSTRAINT "PK_auth_throttle_counters" PRIMARY KEY ("key"))',
    'CREATE INDEX "IDX_auth_throttle_counters_reset_at" ON "auth_throttle_counters" ("reset_at")',
  ],
  ['DROP TABLE "auth_throttle_counters"'],
);

export const ThrottleCountersMysql1764000000002 = sqlMigration(
  'ThrottleCountersMysql1764000000002',
  [
    'CREATE TABLE `auth_throttle_counters` (`key` varchar(191) NOT NULL, `hits` int NOT NULL, `reset_at` bigint NOT NULL, INDEX `IDX_auth_throttle_counters_reset_at` (`reset_at`), PRIMARY KEY (`key`)) ENGINE=InnoDB',
  ],
  ['DROP TABLE `auth_throttle_counters`'],
);
