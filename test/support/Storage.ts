/**
 * The storage adapters the contract suites run against. Postgres is
 * mandatory in CI; elsewhere, without a server on 127.0.0.1:5432, its
 * suites are skipped with a loud notice.
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { type ConfigError, Effect, type Layer } from "effect"
import pg from "pg"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PgStorage } from "../../adapters/postgres/index.js"
import { SqliteStorage } from "../../adapters/sqlite/index.js"

export const postgresAdmin =
  process.env.PROFILE_INSIGHTS_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/postgres"

const canReachPostgres = async (): Promise<boolean> => {
  const client = new pg.Client({ connectionString: postgresAdmin, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query("SELECT 1")
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

export const postgresAvailable = await canReachPostgres()

if (!postgresAvailable) {
  if (process.env.CI) {
    throw new Error(`Postgres is required in CI but ${postgresAdmin} cannot be reached`)
  }
  console.warn(
    "\n*** POSTGRES NOT REACHABLE at " + postgresAdmin +
      ": the Postgres contract suites are SKIPPED. ***\n"
  )
}

/** A new, empty Postgres database; its URL. */
export const freshPostgresDatabase = async (): Promise<string> => {
  const run = process.env.PROFILE_INSIGHTS_TEST_RUN ?? "adhoc"
  const name = `pi_test_${run}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`
  const client = new pg.Client({ connectionString: postgresAdmin })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${name}`)
  } finally {
    await client.end()
  }
  const url = new URL(postgresAdmin)
  url.pathname = `/${name}`
  return url.toString()
}

/** A fresh SQLite file in a temporary directory. */
export const tempDatabase = (): string =>
  join(mkdtempSync(join(tmpdir(), "profile-insights-test-")), "test.db")

export interface Storage {
  readonly name: "sqlite" | "postgres"
  readonly available: boolean
  /** A fresh, empty database, and a function making client layers for it. */
  readonly fresh: Effect.Effect<(options?: { maxConnections?: number }) => StorageLayer>
}

export type StorageLayer = Layer.Layer<SqlClient.SqlClient, SqlError | ConfigError.ConfigError>

export const sqlite: Storage = {
  name: "sqlite",
  available: true,
  fresh: Effect.sync(() => {
    const filename = tempDatabase()
    return () => SqliteStorage.layer({ filename })
  })
}

export const postgres: Storage = {
  name: "postgres",
  available: postgresAvailable,
  fresh: Effect.map(Effect.promise(freshPostgresDatabase), (url) => (options) =>
    PgStorage.layer({ url, maxConnections: options?.maxConnections })
  )
}

export const storages: ReadonlyArray<Storage> = [sqlite, postgres]
