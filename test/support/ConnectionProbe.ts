/**
 * What the library's connections are doing, seen from outside the library.
 *
 * Postgres: pg_stat_activity, read through a client of the probe's own
 * (application name "pi-fault-probe"), for the library's connections
 * (application name "profile-insights") to one database.
 * SQLite: whether another connection can take the write lock at once,
 * which it cannot while any connection holds a write transaction open.
 */
import { Effect, type Scope } from "effect"
import Sqlite from "better-sqlite3"
import pg from "pg"

export interface PgBackend {
  readonly pid: number
  readonly state: string | null
  /** Milliseconds since the backend entered its current state. */
  readonly stateAgeMillis: number
  readonly query: string
}

export interface PgProbe {
  /** The library's connections to the database, now. */
  readonly backends: Effect.Effect<ReadonlyArray<PgBackend>>
}

/** A probe of the database at `url`, open for the current scope. */
export const pgProbe = (
  url: string,
  applicationName = "profile-insights"
): Effect.Effect<PgProbe, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.promise(async () => {
        const client = new pg.Client({
          connectionString: url,
          application_name: "pi-fault-probe"
        })
        await client.connect()
        return client
      }),
      (client) => Effect.promise(() => client.end())
    ),
    (client) => ({
      backends: Effect.promise(() =>
        client.query<{ pid: number; state: string | null; age: number | null; query: string }>(
          `SELECT pid, state, query,
            (extract(epoch FROM now() - state_change) * 1000)::float8 AS age
          FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = $1`,
          [applicationName]
        )
      ).pipe(
        Effect.map((result) =>
          result.rows.map((row) => ({
            pid: row.pid,
            state: row.state,
            stateAgeMillis: row.age ?? 0,
            query: row.query
          }))
        )
      )
    })
  )

/**
 * The connection @effect/sql-pg keeps for LISTEN, outside the pool: its
 * last statement is a LISTEN (or the UNLISTEN of a closing stream).
 */
export const listening = (backends: ReadonlyArray<PgBackend>) =>
  backends.filter((b) => /^\s*(UN)?LISTEN\b/i.test(b.query))

/** Connections of the pool: every other one. */
export const pooled = (backends: ReadonlyArray<PgBackend>) =>
  backends.filter((b) => !/^\s*(UN)?LISTEN\b/i.test(b.query))

/** Backends doing something: running a statement or inside a transaction. */
export const busy = (backends: ReadonlyArray<PgBackend>) =>
  backends.filter((b) => b.state !== "idle")

/**
 * Whether a fresh connection gets SQLite's write lock without waiting:
 * false while another connection holds a write transaction open.
 */
export const sqliteWriteLockFree = (filename: string): Effect.Effect<boolean> =>
  Effect.sync(() => {
    const db = new Sqlite(filename, { timeout: 0 })
    try {
      db.exec("BEGIN IMMEDIATE")
      db.exec("ROLLBACK")
      return true
    } catch (e) {
      if ((e as { code?: string }).code === "SQLITE_BUSY") return false
      throw e
    } finally {
      db.close()
    }
  })
