/**
 * SQLite storage for profile-insights, through @effect/sql-sqlite-node.
 *
 * The database runs in WAL mode with a busy timeout, and the store writes
 * in immediate transactions, so several processes can share one file:
 * writers queue on the lock instead of failing.
 */
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, type ConfigError, Duration, Effect, Layer } from "effect"
import { existsSync, mkdirSync, statSync } from "node:fs"
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

/**
 * Creates the missing directories of a path one at a time, from the top:
 * Node 20's recursive mkdir never returns for a path under /proc.
 */
const createDirectory = (directory: string): void => {
  if (existsSync(directory)) return
  createDirectory(dirname(directory))
  try {
    mkdirSync(directory)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
  }
}

/** The file's directory, created if missing; a directory is no database. */
const prepareFile = (filename: string) =>
  Effect.try({
    try: () => {
      if (statSync(filename, { throwIfNoEntry: false })?.isDirectory()) {
        throw new Error("it is a directory")
      }
      createDirectory(dirname(filename))
    },
    catch: (cause) => new SqlError({ cause, message: `cannot open ${filename}` })
  })

/**
 * The client; the driver throws when the file cannot be opened or is not
 * a database, which becomes a SqlError here instead of a defect.
 */
const client = (filename: string) =>
  Layer.catchAllCause(
    SqliteClient.layer({ filename }),
    (cause): Layer.Layer<unknown, SqlError | ConfigError.ConfigError> =>
      Cause.isInterruptedOnly(cause)
        ? Layer.failCause(cause)
        : Layer.fail(
          new SqlError({ cause: Cause.squash(cause), message: `cannot open ${filename}` })
        )
  )

/**
 * A SqlClient over one SQLite file, ready for the store. Fails with a
 * SqlError when the file cannot be opened: its directory cannot be
 * created, it is a directory, or it is not a SQLite database.
 */
export const layer = (
  options: SqliteStorageOptions
): Layer.Layer<
  SqlClient.SqlClient | SqliteClient.SqliteClient,
  SqlError | ConfigError.ConfigError
> =>
  Layer.effectDiscard(pragmas(options.busyTimeout ?? "10 seconds")).pipe(
    Layer.provideMerge(
      options.filename === ":memory:"
        ? client(options.filename)
        : Layer.unwrapEffect(Effect.as(prepareFile(options.filename), client(options.filename)))
    )
  )
