/**
 * SQLite storage for profile-insights, through @effect/sql-sqlite-node.
 *
 * The database runs in WAL mode with a busy timeout, and the store writes
 * in immediate transactions, so several processes can share one file:
 * writers queue on the lock instead of failing.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { type ConfigError, Duration, Effect, Layer } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"

export interface SqliteStorageOptions {
  /** Path of the database file; its directory is created if missing. ":memory:" works for tests. */
  readonly filename: string
  /** How long a writer waits for another process's lock. Default 10 seconds. */
  readonly busyTimeout?: Duration.DurationInput | undefined
}

const pragmas = (busyTimeout: Duration.DurationInput) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const millis = Duration.toMillis(Duration.decode(busyTimeout))
    yield* sql.unsafe(`PRAGMA busy_timeout = ${Math.round(millis)}`)
    yield* sql`PRAGMA synchronous = NORMAL`
    yield* sql`PRAGMA foreign_keys = ON`
  })

/** A SqlClient over one SQLite file, ready for the store. */
export const layer = (
  options: SqliteStorageOptions
): Layer.Layer<
  SqlClient.SqlClient | SqliteClient.SqliteClient,
  SqlError | ConfigError.ConfigError
> =>
  Layer.effectDiscard(pragmas(options.busyTimeout ?? "10 seconds")).pipe(
    Layer.provideMerge(
      Layer.unwrapEffect(
        Effect.sync(() => {
          if (options.filename !== ":memory:") {
            mkdirSync(dirname(options.filename), { recursive: true })
          }
          return SqliteClient.layer({ filename: options.filename })
        })
      )
    )
  )
