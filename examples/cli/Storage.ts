import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import type { ConfigError, Layer } from "effect"
import { PgStorage } from "../../adapters/postgres/index.js"
import { SqliteStorage } from "../../adapters/sqlite/index.js"

/** A postgres:// URL selects Postgres; anything else is a SQLite file path. */
export const fromDb = (
  db: string
): Layer.Layer<SqlClient.SqlClient, SqlError | ConfigError.ConfigError> =>
  /^postgres(ql)?:\/\//.test(db)
    ? PgStorage.layer({ url: db })
    : SqliteStorage.layer({ filename: db })
