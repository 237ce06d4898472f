import { sqlMigration } from './sql-migration.js';

/** MySQL and MariaDB (InnoDB). */
export const AuthTablesMysql1764000000000 = sqlMigration(
  'AuthTablesMysql1764000000000',
  [
    'CREATE TABLE `auth_sessions` (`id` varchar(191) NOT NULL, `user_id` varchar(191) NOT NULL, `current_jti` varchar(191) NOT NULL, `created_at` bigint NOT NULL, `last_used_at` bigint NOT NULL, `expires_at` bigint NOT NULL, `ended_at` bigint NULL, `end_reason` varchar(32) NULL, `user_agent` varchar(512) NULL, `ip` varchar(64) NULL, INDEX `IDX_auth_sessions_user` (`user_id`), INDEX `IDX_auth_sessions_ended` (`ended_at`), PRIMARY KEY (`id`)) ENGINE=InnoDB',
    'CREATE TABLE `auth_session_rotations` (`session_id` varchar(191) NOT NULL, `jti` varchar(191) NOT NULL, `rotated_at` bigint NOT NULL, PRIMARY KEY (`session_id`, `jti`)) ENGINE=InnoDB',
    'CREATE TABLE `auth_revoked_tokens` (`jti` varchar(191) NOT NULL, `expires_at` bigint NOT NULL, `revoked_at` bigint NOT NULL, `user_id` varchar(191) NULL, `reason` varchar(32) NULL, INDEX `IDX_auth_revoked_tokens_revoked_at` (`revoked_at`), INDEX `IDX_auth_revoked_tokens_expires_at` (`expires_at`), PRIMARY KEY (`jti`)) ENGINE=InnoDB',
    'CREATE TABLE `auth_user_cutoffs` (`user_id` varchar(191) NOT NULL, `cutoff_at` bigint NOT NULL, `updated_at` bigint NOT NULL, INDEX `IDX_auth_user_cutoffs_updated_at` (`updated_at`), PRIMARY KEY (`user_id`)) ENGINE=InnoDB',
  ],
  ['DROP TABLE `auth_user_cutoffs`', 'DROP TABLE `auth_revoked_tokens`', 'DROP TABLE `auth_session_rotations`', 'DROP TABLE `auth_sessions`'],
);

export const ApiKeysMysql1764000000001 = sqlMigration(
  'ApiKeysMysql1764000000001',
  [
    'CREATE TABLE `auth_api_keys` (`id` varchar(191) NOT NULL, `name` varchar(150) NOT NULL, `prefix` varchar(32) NOT NULL, `secret_hash` varchar(64) NOT NULL, `permissions` text NOT NULL, `user_id` varchar(191) NULL, `created_at` bigint NOT NULL, `expires_at` bigint NULL, `last_used_at` bigint NULL, `revoked_at` bigint NULL, UNIQUE INDEX `UQ_auth_api_keys_prefix` (`prefix`), PRIMARY KEY (`id`)) ENGINE=InnoDB',
  ],
  ['DROP TABLE `auth_api_keys`'],
);

/** The change log the gate polls by `seq` (clock-independent), filled with what is already revoked, ended or cut off. */
export const RevocationLogMysql1766000000000 = sqlMigration(
  'RevocationLogMysql1766000000000',
  [
    'CREATE TABLE `auth_revocation_log` (`seq` int NOT NULL AUTO_INCREMENT, `kind` varchar(8) NOT NULL, `subject` varchar(191) NOT NULL, `at` bigint NOT NULL, INDEX `IDX_auth_revocation_log_kind_at` (`kind`, `at`), PRIMARY KEY (`seq`)) ENGINE=InnoDB',
    "INSERT INTO `auth_revocation_log` (`kind`, `subject`, `at`) SELECT 'jti', `jti`, `expires_at` FROM `auth_revoked_tokens`",
    "INSERT INTO `auth_revocation_log` (`kind`, `subject`, `at`) SELECT 'session', `id`, `ended_at` FROM `auth_sessions` WHERE `ended_at` IS NOT NULL",
    "INSERT INTO `auth_revocation_log` (`kind`, `subject`, `at`) SELECT 'cutoff', `user_id`, `cutoff_at` FROM `auth_user_cutoffs`",
  ],
  ['DROP TABLE `auth_revocation_log`'],
);
