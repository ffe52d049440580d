/**
 * Postgres storage for profile-insights, through @effect/sql-pg. The
 * library owns the pool: no function of the library takes a connection.
 *
 * Besides the SqlClient, the layer provides LISTEN/NOTIFY notifications,
 * so idle runners wake within milliseconds of a submit in any process,
 * and watchers see progress as it is committed.
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { type ConfigError, type Duration, Effect, Layer, Redacted } from "effect"
import { JobSignal } from "../../src/index.js"

export interface PgStorageOptions {
  /** A postgres:// connection URL. */
  readonly url: string
  /**
   * Pool size. Default 10. The LISTEN connection that carries notifications
   * is one more, outside the pool.
   */
  readonly maxConnections?: number | undefined
  /** Default 10 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Shown in pg_stat_activity. Default "profile-insights". */
  readonly applicationName?: string | undefined
}

const notifications = Layer.effect(
  JobSignal.Notifications,
  Effect.map(PgClient.PgClient, (pg) =>
    JobSignal.Notifications.of({ listen: (channel) => pg.listen(channel) })
  )
)

/** A pooled SqlClient over one Postgres database, ready for the store. */
export const layer = (
  options: PgStorageOptions
): Layer.Layer<
  SqlClient.SqlClient | PgClient.PgClient | JobSignal.Notifications,
  SqlError | ConfigError.ConfigError
> =>
  notifications.pipe(
    Layer.provideMerge(
      PgClient.layer({
        url: Redacted.make(options.url),
        maxConnections: options.maxConnections ?? 10,
        connectTimeout: options.connectTimeout ?? "10 seconds",
        applicationName: options.applicationName ?? "profile-insights"
      })
    )
  )
