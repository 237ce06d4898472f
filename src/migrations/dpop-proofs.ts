import { sqlMigration } from './sql-migration.js';

/** The DPoP replay table (`auth_dpop_proofs`), after the module's other migrations of its database. */
export const DpopProofsSqlite1767000000000 = sqlMigration(
  'DpopProofsSqlite1767000000000',
  [
    'CREATE TABLE "auth_dpop_proofs" ("key" varchar(64) PRIMARY KEY NOT NULL, "expires_at" bigint NOT NULL)',
    'CREATE INDEX "IDX_auth_dpop_proofs_expires_at" ON "auth_dpop_proofs" ("expires_at")',
  ],
  ['DROP TABLE "auth_dpop_proofs"'],
);

export const DpopProofsPostgres1767000000000 = sqlMigration(
  'DpopProofsPostgres1767000000000',
  [
    'CREATE TABLE "auth_dpop_proofs" ("key" character varying(64) NOT NULL, "expires_at" bigint NOT NULL, CONSTRAINT "PK_auth_dpop_proofs" PRIMARY KEY ("key"))',
    'CREATE INDEX "IDX_auth_dpop_proofs_expires_at" ON "auth_dpop_proofs" ("expires_at")',
  ],
  ['DROP TABLE "auth_dpop_proofs"'],
);

export const DpopProofsMysql1767000000000 = sqlMigration(
  'DpopProofsMysql1767000000000',
  [
    'CREATE TABLE `auth_dpop_proofs` (`key` varchar(64) NOT NULL, `expires_at` bigint NOT NULL, INDEX `IDX_auth_dpop_proofs_expires_at` (`expires_at`), PRIMARY KEY (`key`)) ENGINE=InnoDB',
  ],
  ['DROP TABLE `auth_dpop_proofs`'],
);
