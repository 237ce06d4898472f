import { sqlMigration } from './sql-migration.js';

/** PostgreSQL. */
export const AuthTablesPostgres1764000000000 = sqlMigration(
  'AuthTablesPostgres1764000000000',
  [
    'CREATE TABLE "auth_sessions" ("id" character varying(191) NOT NULL, "user_id" character varying(191) NOT NULL, "current_jti" character varying(191) NOT NULL, "created_at" bigint NOT NULL, "last_used_at" bigint NOT NULL, "expires_at" bigint NOT NULL, "ended_at" bigint, "end_reason" character varying(32), "user_agent" character varying(512), "ip" character varying(64), CONSTRAINT "PK_641507381f32580e8479efc36cd" PRIMARY KEY ("id"))',
    'CREATE INDEX "IDX_auth_sessions_user" ON "auth_sessions" ("user_id")',
    'CREATE INDEX "IDX_auth_sessions_ended" ON "auth_sessions" ("ended_at")',
    'CREATE TABLE "auth_session_rotations" ("session_id" character varying(191) NOT NULL, "jti" character varying(191) NOT NULL, "rotated_at" bigint NOT NULL, CONSTRAINT "PK_19a30b022d762b6f7df133564f0" PRIMARY KEY ("session_id", "jti"))',
    'CREATE TABLE "auth_revoked_tokens" ("jti" character varying(191) NOT NULL, "expires_at" bigint NOT NULL, "revoked_at" bigint NOT NULL, "user_id" character varying(191), "reason" character varying(32), CONSTRAINT "PK_b09b4f5141082cb84a1ee6ce05a" PRIMARY KEY ("jti"))',
    'CREATE INDEX "IDX_auth_revoked_tokens_revoked_at" ON "auth_revoked_tokens" ("revoked_at")',
    'CREATE INDEX "IDX_auth_revoked_tokens_expires_at" ON "auth_revoked_tokens" ("expires_at")',
    'CREATE TABLE "auth_user_cutoffs" ("user_id" character varying(191) NOT NULL, "cutoff_at" bigint NOT NULL, "updated_at" bigint NOT NULL, CONSTRAINT "PK_41062eba662e60c4e5de1b450e3" PRIMARY KEY ("user_id"))',
    'CREATE INDEX "IDX_auth_user_cutoffs_updated_at" ON "auth_user_cutoffs" ("updated_at")',
  ],
  ['DROP TABLE "auth_user_cutoffs"', 'DROP TABLE "auth_revoked_tokens"', 'DROP TABLE "auth_session_rotations"', 'DROP TABLE "auth_sessions"'],
);

export const ApiKeysPostgres1764000000001 = sqlMigration(
  'ApiKeysPostgres1764000000001',
  [
    'CREATE TABLE "auth_api_keys" ("id" character varying(191) NOT NULL, "name" character varying(150) NOT NULL, "prefix" character varying(32) NOT NULL, "secret_hash" character varying(64) NOT NULL, "permissions" text NOT NULL, "user_id" character varying(191), "created_at" bigint NOT NULL, "expires_at" bigint, "last_used_at" bigint, "revoked_at" bigint, CONSTRAINT "UQ_auth_api_keys_prefix" UNIQUE ("prefix"), CONSTRAINT "PK_213df1e6b361c1e3d890cd6b87c" PRIMARY KEY ("id"))',
  ],
  ['DROP TABLE "auth_api_keys"'],
);

/** The change log the gate polls by `seq` (clock-independent), filled with what is already revoked, ended or cut off. */
export const RevocationLogPostgres1766000000000 = sqlMigration(
  'RevocationLogPostgres1766000000000',
  [
    'CREATE TABLE "auth_revocation_log" ("seq" SERIAL NOT NULL, "kind" character varying(8) NOT NULL, "subject" character varying(191) NOT NULL, "at" bigint NOT NULL, CONSTRAINT "PK_79582aef0f4b42618d838d71ec2" PRIMARY KEY ("seq"))',
    'CREATE INDEX "IDX_auth_revocation_log_kind_at" ON "auth_revocation_log" ("kind", "at")',
    `INSERT INTO "auth_revocation_log" ("kind", "subject", "at") SELECT 'jti', "jti", "expires_at" FROM "auth_revoked_tokens"`,
    `INSERT INTO "auth_revocation_log" ("kind", "subject", "at") SELECT 'session', "id", "ended_at" FROM "auth_sessions" WHERE "ended_at" IS NOT NULL`,
    `INSERT INTO "auth_revocation_log" ("kind", "subject", "at") SELECT 'cutoff', "user_id", "cutoff_at" FROM "auth_user_cutoffs"`,
  ],
  ['DROP TABLE "auth_revocation_log"'],
);
