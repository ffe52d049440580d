/**
 * Databases the fault suites share between the test process and worker
 * processes: a fresh SQLite file or a fresh Postgres database, named so a
 * worker can open it (a StorageSpec), with layers for the test process.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, type Scope } from "effect"
import { PgStorage } from "../../adapters/postgres/index.js"
import { SqliteStorage } from "../../adapters/sqlite/index.js"
import { Insights } from "../../src/index.js"
import {
  freshPostgresDatabase,
  postgresAvailable,
  type StorageLayer,
  tempDatabase
} from "./Storage.js"
import type { StorageSpec } from "./WorkerProcess.js"

export interface FaultDatabase {
  readonly spec: StorageSpec
  /** A client layer over this database for the test process. */
  readonly layer: (options?: {
    readonly maxConnections?: number | undefined
    readonly applicationName?: string | undefined
  }) => StorageLayer
}

export interface FaultAdapter {
  readonly name: "sqlite" | "postgres"
  readonly available: boolean
  readonly fresh: Effect.Effect<FaultDatabase>
}

const layerFor = (spec: StorageSpec): FaultDatabase["layer"] => (options) =>
  spec.kind === "sqlite"
    ? SqliteStorage.layer({ filename: spec.filename })
    : PgStorage.layer({
      url: spec.url,
      maxConnections: options?.maxConnections,
      applicationName: options?.applicationName
    })

export const sqlite: FaultAdapter = {
  name: "sqlite",
  available: true,
  fresh: Effect.sync(() => {
    const spec: StorageSpec = { kind: "sqlite", filename: tempDatabase() }
    return { spec, layer: layerFor(spec) }
  })
}

export const postgres: FaultAdapter = {
  name: "postgres",
  available: postgresAvailable,
  fresh: Effect.map(Effect.promise(freshPostgresDatabase), (url) => {
    const spec: StorageSpec = { kind: "postgres", url }
    return { spec, layer: layerFor(spec) }
  })
}

export const adapters: ReadonlyArray<FaultAdapter> = [sqlite, postgres].filter(
  (a) => a.available
)

/**
 * The test process's view of a database: the API without a runner (the
 * host side: import, submit, status) and a SqlClient for inspection.
 * Migrates the database as it is built.
 */
export const hostLayer = (database: FaultDatabase) =>
  Insights.layerWithoutRunner.pipe(Layer.provideMerge(database.layer()))

type Rows = ReadonlyArray<Record<string, unknown>>

/**
 * The first column of the first row as a number, whatever the driver
 * returns for a count (Postgres: a string).
 */
export const count = (
  query: (sql: SqlClient.SqlClient) => Effect.Effect<Rows, unknown>
) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(query(sql), (rows) => Number(Object.values(rows[0] ?? {})[0] ?? 0))
  ).pipe(Effect.orDie)

/**
 * Runs `body` against a fresh database of `adapter`, with the host side of
 * the library and a SqlClient in the test process, in a scope that also
 * holds any worker processes `body` starts.
 */
export const withDatabase = <A, E>(
  adapter: FaultAdapter,
  body: (
    database: FaultDatabase
  ) => Effect.Effect<
    A,
    E,
    Insights.Insights | SqlClient.SqlClient | Scope.Scope
  >
) =>
  Effect.flatMap(adapter.fresh, (database) =>
    body(database).pipe(Effect.scoped, Effect.provide(hostLayer(database)))
  )
