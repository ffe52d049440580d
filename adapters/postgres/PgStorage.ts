/**
 * Postgres storage for profile-insights, through @effect/sql-pg. The
 * library owns the pool: no function of the library takes a connection.
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { type ConfigError, type Duration, Layer, Redacted } from "effect"

export interface PgStorageOptions {
  /** A postgres:// connection URL. */
  readonly url: string
  /** Pool size. Default 10. */
  readonly maxConnections?: number | undefined
  /** Default 10 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Shown in pg_stat_activity. Default "profile-insights". */
  readonly applicationName?: string | undefined
}

/** A pooled SqlClient over one Postgres database, ready for the store. */
export const layer = (
  options: PgStorageOptions
): Layer.Layer<
  SqlClient.SqlClient | PgClient.PgClient,
  SqlError | ConfigError.ConfigError
> =>
  PgClient.layer({
    url: Redacted.make(options.url),
    maxConnections: options.maxConnections ?? 10,
    connectTimeout: options.connectTimeout ?? "10 seconds",
    applicationName: options.applicationName ?? "profile-insights"
  })
