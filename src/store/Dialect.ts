/**
 * Where the SQL dialects differ, in one place. Every other query of the
 * store is written once for all of them.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Exit, Schedule } from "effect"

/**
 * Runs `effect` in one write transaction.
 *
 * SQLite: BEGIN IMMEDIATE, so the write lock is taken (waiting on the busy
 * timeout) before anything is read, and no transaction ever has to upgrade
 * a read lock, which SQLite refuses at once between processes.
 * Other dialects: the client's own transaction.
 */
export const writeTransaction =
  (sql: SqlClient.SqlClient) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    sql.onDialectOrElse({
      sqlite: () => immediate(sql, effect),
      orElse: () => sql.withTransaction(effect)
    })

const immediate = <A, E, R>(
  sql: SqlClient.SqlClient,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const conn = yield* sql.reserve
      yield* conn.executeUnprepared("BEGIN IMMEDIATE", [], undefined)
      const exit = yield* Effect.exit(
        restore(
          Effect.provideService(effect, SqlClient.TransactionConnection, [
            conn,
            0
          ])
        )
      )
      const rollback = conn
        .executeUnprepared("ROLLBACK", [], undefined)
        .pipe(Effect.ignore)
      if (Exit.isFailure(exit)) {
        yield* rollback
        return yield* exit
      }
      const commit = yield* Effect.exit(
        conn.executeUnprepared("COMMIT", [], undefined)
      )
      if (Exit.isFailure(commit)) {
        yield* rollback
        return yield* Effect.failCause(commit.cause)
      }
      return exit.value
    })
  ).pipe(Effect.scoped)

/**
 * The locking clause of the claim query: Postgres skips rows another
 * runner is claiming; SQLite needs none inside an immediate transaction.
 */
export const skipLocked = (sql: SqlClient.SqlClient) =>
  sql.onDialectOrElse({
    pg: () => sql`FOR UPDATE SKIP LOCKED`,
    orElse: () => sql``
  })

/**
 * Notifies listeners of other processes when the transaction commits.
 * Postgres: NOTIFY through pg_notify. SQLite has no such thing: other
 * processes poll.
 */
export const notifyOnCommit = (
  sql: SqlClient.SqlClient,
  channel: string,
  payload: string
): Effect.Effect<void, SqlError> =>
  sql.onDialectOrElse({
    pg: () => Effect.asVoid(sql`SELECT pg_notify(${channel}, ${payload})`),
    orElse: () => Effect.void
  })

const TRANSIENT_CODES = new Set([
  // SQLite: another process holds the lock past the busy timeout.
  "SQLITE_BUSY",
  "SQLITE_BUSY_SNAPSHOT",
  "SQLITE_LOCKED",
  // Postgres: serialization failure, deadlock, shutdown, too many clients.
  "40001",
  "40P01",
  "57P01",
  "57P03",
  "53300",
  // The network.
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT"
])

const CONNECTION_LOST = /Connection terminated|connection.*(closed|lost)/i

/**
 * Whether a failed statement is worth running again: lock contention,
 * serialization failures, deadlocks and dropped connections are; a
 * constraint violation or a syntax error is not.
 */
export const isTransient = (error: unknown): boolean => {
  for (let e = error, depth = 0; e !== null && typeof e === "object" && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === "string") {
      if (TRANSIENT_CODES.has(code) || code.startsWith("08")) return true
    }
    const message = (e as { message?: unknown }).message
    if (typeof message === "string" && CONNECTION_LOST.test(message)) return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}

/** Retries a transaction that failed for a transient reason, with jittered backoff. */
export const retryTransient = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.retry(effect, {
    schedule: Schedule.exponential("20 millis").pipe(Schedule.jittered),
    times: 4,
    while: isTransient
  })
