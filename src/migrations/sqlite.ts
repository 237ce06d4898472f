import { sqlMigration } from './sql-migration.js';

/** SQLite (better-sqlite3). */
export const AuthTablesSqlite1764000000000 = sqlMigration(
  'AuthTablesSqlite1764000000000',
  [
    'CREATE TABLE "auth_sessions" ("id" varchar(191) PRIMARY KEY NOT NULL, "user_id" varchar(191) NOT NULL, "current_jti" varchar(191) NOT NULL, "created_at" bigint NOT NULL, "last_used_at" bigint NOT NULL, "expires_at" bigint NOT NULL, "ended_at" bigint, "end_reason" varchar(32), "user_agent" varchar(512), "ip" varchar(64))',
    'CREATE INDEX "IDX_auth_sessions_user" ON "auth_sessions" ("user_id")',
    'CREATE INDEX "IDX_auth_sessions_ended" ON "auth_sessions" ("ended_at")',
    'CREATE TABLE "auth_session_rotations" ("session_id" varchar(191) NOT NULL, "jti" varchar(191) NOT NULL, "rotated_at" bigint NOT NULL, PRIMARY KEY ("session_id", "jti"))',
    'CREATE TABLE "auth_revoked_tokens" ("jti" varchar(191) PRIMARY KEY NOT NULL, "expires_at" bigint NOT NULL, "revoked_at" bigint NOT NULL, "user_id" varchar(191), "reason" varchar(32))',
    'CREATE INDEX "IDX_auth_revoked_tokens_revoked_at" ON "auth_revoked_tokens" ("revoked_at")',
    'CREATE INDEX "IDX_auth_revoked_tokens_expires_at" ON "auth_revoked_tokens" ("expires_at")',
    'CREATE TABLE "auth_user_cutoffs" ("user_id" varchar(191) PRIMARY KEY NOT NULL, "cutoff_at" bigint NOT NULL, "updated_at" bigint NOT NULL)',
    'CREATE INDEX "IDX_auth_user_cutoffs_updated_at" ON "auth_user_cutoffs" ("updated_at")',
  ],
  ['DROP TABLE "auth_user_cutoffs"', 'DROP TABLE "auth_revoked_tokens"', 'DROP TABLE "auth_session_rotations"', 'DROP TABLE "auth_sessions"'],
);

export const ApiKeysSqlite1764000000001 = sqlMigration(
  'ApiKeysSqlite1764000000001',
  [
    'CREATE TABLE "auth_api_keys" ("id" varchar(191) PRIMARY KEY NOT NULL, "name" varchar(150) NOT NULL, "prefix" varchar(32) NOT NULL, "secret_hash" varchar(64) NOT NULL, "permissions" text NOT NULL, "user_id" varchar(191), "created_at" bigint NOT NULL, "expires_at" bigint, "last_used_at" bigint, "revoked_at" bigint, CONSTRAINT "UQ_auth_api_keys_prefix" UNIQUE ("prefix"))',
  ],
  ['DROP TABLE "auth_api_keys"'],
);

/** The change log the gate polls by `seq` (clock-independent), filled with what is already revoked, ended or cut off. */
export const RevocationLogSqlite1766000000000 = sqlMigration(
  'RevocationLogSqlite1766000000000',
  [
    'CREATE TABLE "auth_revocation_log" ("seq" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "kind" varchar(8) NOT NULL, "subject" varchar(191) NOT NULL, "at" bigint NOT NULL)',
    'CREATE INDEX "IDX_auth_revocation_log_kind_at" ON "auth_revocation_log" ("kind", "at")',
    `INSERT INTO "auth_revocation_log" ("kind", "subject", "at") SELECT 'jti', "jti", "expires_at" FROM "auth_revoked_tokens"`,
    `INSERT INTO "auth_revocation_log" ("kind", "subject", "at") SELECT 'session', "id", "ended_at" FROM "auth_sessions" WHERE "ended_at" IS NOT NULL`,
    `INSERT INTO "auth_revocation_log" ("kind", "subject", "at") SELECT 'cutoff', "user_id", "cutoff_at" FROM "auth_user_cutoffs"`,
  ],
  ['DROP TABLE "auth_revocation_log"'],
);
