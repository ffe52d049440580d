/**
 * How a database setting (--db, PROFILE_INSIGHTS_DB) is read: the one
 * function the CLI and every example server read it with.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import * as Storage from "../../examples/cli/Storage.js"
import { clientOptions } from "../../examples/server-kit/Node.js"
import { serverConfig } from "../../examples/server-kit/Contract.js"

const refusal = (db: string) => Either.getLeft(Storage.parse(db))

describe("a database setting", () => {
  it("names Postgres by a postgres:// or postgresql:// URL, in any case", () => {
    expect(Storage.parse("postgres://me@db.internal/insights")).toEqual(
      Either.right({ _tag: "Postgres", url: "postgres://me@db.internal/insights" })
    )
    expect(Storage.parse("postgresql://me@db/x")).toEqual(
      Either.right({ _tag: "Postgres", url: "postgresql://me@db/x" })
    )
    expect(Storage.parse("POSTGRES://me@db/x")).toEqual(
      Either.right({ _tag: "Postgres", url: "postgres://me@db/x" })
    )
  })

  it("names a SQLite file by a path or an absolute file:// URL", () => {
    expect(Storage.parse("data/insights.db")).toEqual(
      Either.right({ _tag: "Sqlite", filename: "data/insights.db" })
    )
    expect(Storage.parse("./odd:name.db")).toEqual(
      Either.right({ _tag: "Sqlite", filename: "./odd:name.db" })
    )
    expect(Storage.parse("file:///var/lib/pi/my%20insights.db")).toEqual(
      Either.right({ _tag: "Sqlite", filename: "/var/lib/pi/my insights.db" })
    )
    expect(Storage.parse("file://localhost/var/x.db")).toEqual(
      Either.right({ _tag: "Sqlite", filename: "/var/x.db" })
    )
  })

  it("refuses any other scheme://, naming it and the accepted forms", () => {
    expect(refusal("postgress://me:pw@db/x")).toEqual(
      Option.some(
        "unsupported scheme \"postgress:\" in \"postgress://me:***@db/x\"; " +
          `expected ${Storage.accepted}`
      )
    )
    for (const db of ["sqlite://insights.db", "mysql://db/x", "http://host/x.db"]) {
      expect(refusal(db)._tag).toBe("Some")
    }
  })

  it("refuses file: and sqlite: forms whose path is not plain, and an empty value", () => {
    const refused = ["file:insights.db", "file://host/x.db", "sqlite:insights.db", "postgres:db", ""]
    for (const db of refused) {
      expect({ db, refused: refusal(db)._tag }).toEqual({ db, refused: "Some" })
    }
  })

  it("hides the password of a URL in messages", () => {
    expect(Storage.redact("postgres://me:s3cr:et@db:5432/x")).toBe("postgres://me:***@db:5432/x")
    expect(Storage.redact("postgres://me@db/x")).toBe("postgres://me@db/x")
    expect(Storage.describe({ _tag: "Postgres", url: "postgres://a:b@h/x" })).toBe(
      "postgres://a:***@h/x"
    )
  })

  it("is read by the servers as by the CLI; a bad one throws naming the variable", () => {
    const config = serverConfig({ PROFILE_INSIGHTS_DB: "POSTGRESQL://me@db/x" })
    expect(clientOptions(config).storage).toEqual({ postgres: "postgresql://me@db/x" })
    expect(clientOptions(serverConfig({ PROFILE_INSIGHTS_DB: "file:///tmp/s.db" })).storage)
      .toEqual({ sqlite: "/tmp/s.db" })
    expect(() => serverConfig({ PROFILE_INSIGHTS_DB: "postgress://db/x" })).toThrow(
      /^PROFILE_INSIGHTS_DB: unsupported scheme "postgress:"/
    )
  })
})
