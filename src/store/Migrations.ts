/**
 * The schema of profile-insights, as @effect/sql migrations. One set of
 * migrations serves every dialect: times are integer milliseconds since
 * the epoch, flags are small integers, documents are JSON text.
 */
import * as Migrator from "@effect/sql/Migrator"
import { SqlClient } from "@effect/sql"
import { Effect, Schedule } from "effect"

const initial = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE pi_profiles (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    platform TEXT NOT NULL,
    handle TEXT NOT NULL,
    display_name TEXT,
    bio TEXT,
    followers BIGINT,
    following BIGINT,
    post_count BIGINT,
    verified SMALLINT NOT NULL DEFAULT 0,
    fetched_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (owner, platform, handle)
  )`
  yield* sql`CREATE TABLE pi_posts (
    id TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL REFERENCES pi_profiles (id) ON DELETE CASCADE,
    platform_post_id TEXT NOT NULL,
    caption TEXT NOT NULL,
    hashtags TEXT NOT NULL,
    mentions TEXT NOT NULL,
    media_type TEXT NOT NULL,
    likes BIGINT NOT NULL,
    comments BIGINT NOT NULL,
    views BIGINT,
    posted_at BIGINT NOT NULL,
    url TEXT,
    updated_at BIGINT NOT NULL,
    UNIQUE (profile_id, platform_post_id)
  )`
  // No foreign key to pi_posts: an analysis left behind by a removed post is
  // a state the validator must be able to see and the repairer to remove.
  yield* sql`CREATE TABLE pi_post_analyses (
    post_id TEXT NOT NULL,
    analyzer_version TEXT NOT NULL,
    analyzer_id TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    job_id TEXT,
    status TEXT NOT NULL,
    result TEXT,
    failure TEXT,
    analyzed_at BIGINT NOT NULL,
    PRIMARY KEY (post_id, analyzer_version)
  )`
  yield* sql`CREATE INDEX pi_post_analyses_profile
    ON pi_post_analyses (profile_id, analyzer_version)`
  yield* sql`CREATE TABLE pi_profile_insights (
    profile_id TEXT PRIMARY KEY,
    analyzer_id TEXT NOT NULL,
    analyzer_version TEXT NOT NULL,
    job_id TEXT,
    watermark_count BIGINT NOT NULL,
    watermark_at BIGINT,
    body TEXT NOT NULL,
    computed_at BIGINT NOT NULL
  )`
  yield* sql`CREATE TABLE pi_jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    lease_holder TEXT,
    lease_expires_at BIGINT,
    epoch INTEGER NOT NULL DEFAULT 0,
    run_after BIGINT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
  )`
  // Single-flight is the database's job: one active job per (profile, kind).
  yield* sql`CREATE UNIQUE INDEX pi_jobs_active ON pi_jobs (profile_id, kind)
    WHERE status IN ('queued', 'running')`
  yield* sql`CREATE INDEX pi_jobs_due
    ON pi_jobs (status, priority, run_after, created_at)`
  yield* sql`CREATE INDEX pi_jobs_owner ON pi_jobs (owner, created_at)`
})

// The audit trail of the repairer, and indexes that let the validator read
// a page of profiles from indexes alone.
const consistency = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE pi_repairs (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    violation TEXT NOT NULL,
    action TEXT NOT NULL,
    profile_id TEXT,
    job_id TEXT,
    post_ids TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX pi_repairs_created ON pi_repairs (created_at)`
  yield* sql`CREATE INDEX pi_repairs_profile ON pi_repairs (profile_id, created_at)`
  // Repairers in several processes may ask for the same job (submit is
  // single-flight): it is recorded once.
  yield* sql`CREATE UNIQUE INDEX pi_repairs_submitted ON pi_repairs (job_id)
    WHERE action = 'submitted-job'`
  yield* sql`CREATE INDEX pi_jobs_profile
    ON pi_jobs (profile_id, status, finished_at)`
  yield* sql`CREATE INDEX pi_posts_profile
    ON pi_posts (profile_id, id, updated_at)`
  // Replaces pi_post_analyses_profile, whose columns are its prefix.
  yield* sql`CREATE INDEX pi_post_analyses_profile_post
    ON pi_post_analyses (profile_id, analyzer_version, post_id, status, analyzed_at)`
  yield* sql`DROP INDEX pi_post_analyses_profile`
})

/** Every migration, by id and name. */
export const migrations = Migrator.fromRecord({
  "0001_initial": initial,
  "0002_consistency": consistency
})

/**
 * Brings the database up to date. Several processes may start at once
 * against one database: a loser of that race retries until the winner's
 * migrations are visible.
 */
export const migrate = Migrator.make({})({
  loader: migrations,
  table: "pi_migrations"
}).pipe(
  Effect.retry({
    times: 8,
    schedule: Schedule.exponential("20 millis").pipe(Schedule.jittered)
  }),
  Effect.withSpan("profile-insights.migrate")
)
