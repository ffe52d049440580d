/**
 * The database a command or an example server works on, named by one
 * setting (--db, PROFILE_INSIGHTS_DB) and read here only, so the CLI and
 * every server take the same values the same way:
 *
 * - `postgres://...` or `postgresql://...`: a Postgres database;
 * - `file:///absolute/path`: a SQLite file;
 * - anything else without a scheme: a SQLite file path.
 *
 * Any other `scheme://` (a typo such as `postgress://`, or `sqlite://`,
 * whose meaning differs between tools) is refused rather than taken as a
 * file name, as are `file:` and `sqlite:` without a slash pair.
 */
import type { SqlClient } from "@effect/sql"
import { Data, Either, Layer } from "effect"
import { fileURLToPath } from "node:url"
import { PgStorage } from "../../adapters/postgres/index.js"
import { SqliteStorage } from "../../adapters/sqlite/index.js"
import { InvalidInput } from "../../src/index.js"

export type Database =
  | { readonly _tag: "Postgres"; readonly url: string }
  | { readonly _tag: "Sqlite"; readonly filename: string }

/** What a database setting may hold, for messages. */
export const accepted =
  "a SQLite file path, a file:// URL, or a postgres:// or postgresql:// URL"

/** The value with the password of a URL hidden. */
export const redact = (db: string): string =>
  db.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^/@]*@/i, "$1***@")

/** A database setting read; Left: why it names no database. */
export const parse = (db: string): Either.Either<Database, string> => {
  const quoted = JSON.stringify(redact(db))
  const prefix = /^([a-z][a-z0-9+.-]+):(\/\/)?/i.exec(db)
  const scheme = prefix?.[1]?.toLowerCase()
  const slashes = prefix?.[2] !== undefined
  if (db.trim() === "") return Either.left(`expected ${accepted}, got an empty value`)
  if ((scheme === "postgres" || scheme === "postgresql") && slashes) {
    return Either.right({ _tag: "Postgres", url: scheme + db.slice(scheme.length) })
  }
  if (scheme === "file" && slashes) {
    return Either.try({
      try: () => ({ _tag: "Sqlite", filename: fileURLToPath(db) }) as const,
      catch: (error) => `${quoted}: ${(error as Error).message}; expected ${accepted}`
    })
  }
  if (scheme !== undefined && slashes) {
    return Either.left(`unsupported scheme "${scheme}:" in ${quoted}; expected ${accepted}`)
  }
  // Without the slashes, these would be file names no one means.
  if (scheme !== undefined && ["postgres", "postgresql", "file", "sqlite"].includes(scheme)) {
    return Either.left(`expected ${accepted}, got ${quoted}`)
  }
  return Either.right({ _tag: "Sqlite", filename: db })
}

/** How the database is named in messages: as given, without a password. */
export const describe = (database: Database): string =>
  database._tag === "Postgres" ? redact(database.url) : database.filename

/** The database could not be opened: unreachable, missing, not a database. */
export class CannotOpenDatabase extends Data.TaggedError("CannotOpenDatabase")<{
  readonly database: string
  readonly reason: string
}> {
  override get message(): string {
    return `cannot open ${this.database}: ${this.reason}`
  }
}

/** The driver's own words: the innermost message of a chain of causes. */
export const reasonOf = (error: unknown): string => {
  let reason = "unknown reason"
  for (let c = error, depth = 0; c !== null && c !== undefined && depth < 8; depth++) {
    const text = c instanceof AggregateError && c.message === ""
      ? c.errors.map((e) => (e instanceof Error ? e.message : String(e))).join("; ")
      : c instanceof Error || typeof c === "object"
      ? (c as Error).message
      : String(c)
    if (typeof text === "string" && text !== "") reason = text
    c = typeof c === "object" ? (c as { cause?: unknown }).cause : undefined
  }
  return reason
}

/** The storage adapter's layer for a database; its failure says why it could not open. */
export const layer = (
  database: Database
): Layer.Layer<SqlClient.SqlClient, CannotOpenDatabase> =>
  (database._tag === "Postgres"
    ? PgStorage.layer({ url: database.url })
    : SqliteStorage.layer({ filename: database.filename })
  ).pipe(
    Layer.mapError((error) =>
      new CannotOpenDatabase({ database: describe(database), reason: reasonOf(error) })
    )
  )

/** The storage of the --db option; a value that names no database is bad input. */
export const fromDb = (
  db: string
): Layer.Layer<SqlClient.SqlClient, CannotOpenDatabase | InvalidInput> =>
  Either.match(parse(db), {
    onLeft: (detail) =>
      Layer.fail(new InvalidInput({ source: "command line", record: "", field: "--db", detail })),
    onRight: layer
  })
