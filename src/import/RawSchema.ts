/**
 * Building blocks for the raw shapes of platform exports. Each one says, in
 * the words an import error shows, what it expected and what it got
 * ("expected a non-negative integer, got -3").
 *
 * Raw shapes ignore fields they do not name, treat a missing or null
 * optional field as absent, and reject a field that is present with the
 * wrong type.
 */
import { ParseResult, Schema } from "effect"

/** A short, readable rendering of a value for an error message. */
export const show = (actual: unknown): string => {
  if (actual === undefined) return "nothing"
  if (actual instanceof Date) {
    return Number.isNaN(actual.getTime())
      ? "an invalid date"
      : actual.toISOString()
  }
  if (Array.isArray(actual)) return "an array"
  if (typeof actual === "object" && actual !== null) return "an object"
  const text = typeof actual === "string"
    ? JSON.stringify(actual)
    : String(actual)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/**
 * The message for a schema that rejects a value. `override` makes a
 * refinement use it also when its base type fails (a string for a count);
 * on a struct or an array it would hide the issues of their items.
 */
const expecting = (what: string, override = true) => ({
  message: (issue: ParseResult.ParseIssue) => ({
    message: `expected ${what}, got ${show(issue.actual)}`,
    override
  })
})

export const count = Schema.Number.pipe(
  Schema.int(),
  Schema.nonNegative()
).annotations(expecting("a non-negative integer"))

export const text = Schema.String.annotations(expecting("a string"))

export const flag = Schema.Boolean.annotations(expecting("true or false"))

/** A name or an id: a string with something other than blanks in it. */
export const name = Schema.String.pipe(
  Schema.filter((s) => s.trim() !== "")
).annotations(expecting("a non-empty string"))

export const literal = <const L extends readonly [string, ...Array<string>]>(
  ...values: L
) =>
  Schema.Literal(...values).annotations(
    expecting(values.map((v) => JSON.stringify(v)).join(" or "))
  )

export const object = <F extends Schema.Struct.Fields>(fields: F) =>
  Schema.Struct(fields).annotations(expecting("an object", false))

export const array = <S extends Schema.Schema.Any>(item: S) =>
  Schema.Array(item).annotations(expecting("an array", false))

/** A field that may be missing or null; present, it must fit `schema`. */
export const optional = <S extends Schema.Schema.All>(schema: S) =>
  Schema.optional(Schema.NullOr(schema))

const toDate = <A extends string | number>(
  from: Schema.Schema<A>,
  decode: (value: A) => Date,
  encode: (date: Date) => A
) => Schema.transform(from, Schema.DateFromSelf, { decode, encode })

const maxSeconds = 8.64e12

/** Seconds since 1970, as Instagram and Reddit give them. */
export const epochSeconds = toDate(
  Schema.Number.pipe(
    Schema.filter((n) => Number.isFinite(n) && n >= 0 && n <= maxSeconds)
  ).annotations(expecting("a time in seconds since 1970")),
  (seconds) => new Date(seconds * 1000),
  (date) => date.getTime() / 1000
)

/** An ISO 8601 date or date-time, such as "2024-05-01T18:30:00.000Z". */
export const isoDate = toDate(
  Schema.String.pipe(
    Schema.filter(
      (s) =>
        /^\d{4}-\d{2}-\d{2}([T ]|$)/.test(s) && !Number.isNaN(Date.parse(s))
    )
  ).annotations(expecting("an ISO 8601 date-time")),
  (s) => new Date(s),
  (date) => date.toISOString()
)

const months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ")
const twitterDatePattern = new RegExp(
  "^[A-Z][a-z]{2} ([A-Z][a-z]{2}) (\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) " +
    "([+-])(\\d{2})(\\d{2}) (\\d{4})$"
)

const parseTwitterDate = (s: string): Date | undefined => {
  const m = twitterDatePattern.exec(s)
  const month = m === null ? -1 : months.indexOf(m[1]!)
  if (m === null || month < 0) return undefined
  const offsetMinutes =
    (m[6] === "-" ? -1 : 1) * (Number(m[7]) * 60 + Number(m[8]))
  const utc = Date.UTC(
    Number(m[9]),
    month,
    Number(m[2]),
    Number(m[3]),
    Number(m[4]),
    Number(m[5])
  )
  const date = new Date(utc - offsetMinutes * 60_000)
  return Number.isNaN(date.getTime()) ? undefined : date
}

const formatTwitterDate = (date: Date): string => {
  const pad = (n: number) => String(n).padStart(2, "0")
  const day = "Sun Mon Tue Wed Thu Fri Sat".split(" ")[date.getUTCDay()]
  const time = [date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
  return `${day} ${months[date.getUTCMonth()]} ${pad(date.getUTCDate())} ` +
    `${time.map(pad).join(":")} +0000 ${date.getUTCFullYear()}`
}

/** Twitter's created_at: "Wed Dec 23 17:12:08 +0000 2020". */
export const twitterDate = toDate(
  Schema.String.pipe(
    Schema.filter((s) => parseTwitterDate(s) !== undefined)
  ).annotations(expecting('a date like "Wed Dec 23 17:12:08 +0000 2020"')),
  (s) => parseTwitterDate(s)!,
  formatTwitterDate
)
