/**
 * What every import format provides, and the steps they share: decoding a
 * raw shape into precise InvalidInput errors, and checking the mapped
 * result against the library's own ProfileImport.
 */
import { Effect, ParseResult, Schema } from "effect"
import { ProfileImport, type PostInput } from "../Domain.js"
import { InvalidInput } from "../Errors.js"
import { show } from "./RawSchema.js"

/** The formats importProfile recognises, in the order it tries them. */
export type FormatName =
  | "profile-insights"
  | "instagram-web"
  | "apify-instagram"
  | "twitter-timeline"
  | "reddit-listing"

/** One import format: how to recognise it and how to read it. */
export interface ImportFormat {
  readonly name: FormatName
  /**
   * Why `content` is not in this format, or undefined when it looks like
   * it. Looks only at the overall shape; decode checks every field.
   */
  readonly mismatch: (content: unknown) => string | undefined
  readonly decode: (
    content: unknown,
    source: string
  ) => Effect.Effect<ProfileImport, InvalidInput>
}

/** A post as JSON holds it: what every mapping produces. */
export type EncodedPost = typeof PostInput.Encoded

/** Where a format keeps its records (posts), for naming them in errors. */
export interface Layout {
  /** Path from the root of the content to the array of records. */
  readonly records: ReadonlyArray<PropertyKey>
  /** Path inside one record to the object that holds its fields. */
  readonly inner: ReadonlyArray<PropertyKey>
  /** How record `index` is named in errors, e.g. "children[7] (id 3dk1jh)". */
  readonly labelOf: (index: number) => string
  /** What anything outside the records is called; else its first key. */
  readonly outside?: string
}

/** A plain JSON object (not null, not an array). */
export const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Null for a missing, null or blank string. */
export const textOrNull = (s: string | null | undefined): string | null =>
  s === undefined || s === null || s.trim() === "" ? null : s

/** The value at `path` inside `value`, or undefined. */
export const dig = (
  value: unknown,
  path: ReadonlyArray<PropertyKey>
): unknown =>
  path.reduce<unknown>(
    (at, key) =>
      typeof at === "object" && at !== null
        ? (at as Record<PropertyKey, unknown>)[key]
        : undefined,
    value
  )

/**
 * Names record `index` of the array `records` as "label[index]", adding
 * the id found at `idPath` inside it when there is one.
 */
export const labelRecords =
  (label: string, records: unknown, idPath: ReadonlyArray<PropertyKey>) =>
  (index: number): string => {
    const id = dig(records, [index, ...idPath])
    const named = (typeof id === "string" && id !== "") ||
      typeof id === "number"
    return named ? `${label}[${index}] (id ${id})` : `${label}[${index}]`
  }

/** "a.b[2].c" for the path ["a", "b", 2, "c"]. */
export const fieldPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (acc, key) =>
      typeof key === "number"
        ? `${acc}[${key}]`
        : acc === "" ? String(key) : `${acc}.${String(key)}`,
    ""
  )

const startsWith = (
  path: ReadonlyArray<PropertyKey>,
  prefix: ReadonlyArray<PropertyKey>
) => prefix.every((key, i) => path[i] === key)

const locate = (layout: Layout, path: ReadonlyArray<PropertyKey>) => {
  const index = path[layout.records.length]
  if (startsWith(path, layout.records) && typeof index === "number") {
    const rest = path.slice(layout.records.length + 1)
    const inside = startsWith(rest, layout.inner)
      ? rest.slice(layout.inner.length)
      : rest
    return { record: layout.labelOf(index), field: fieldPath(inside) }
  }
  return layout.outside !== undefined
    ? { record: layout.outside, field: fieldPath(path) }
    : { record: fieldPath(path.slice(0, 1)), field: fieldPath(path.slice(1)) }
}

const plainWords: Record<string, string> = {
  number: "a number",
  string: "a string",
  boolean: "true or false",
  "a valid Date": "a date-time string"
}

/**
 * Effect's own messages ("Expected number, actual ...") in the words of
 * the raw shapes ("expected a number, got ..."), with `actual` the value as
 * it was in the input rather than as far as decoding got.
 */
const detailOf = (
  issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>,
  actual: unknown
): string => {
  const [issue] = issues
  if (issue === undefined) return "does not fit"
  if (issue._tag === "Missing") return "is required but missing"
  const expectations = issues
    .map((i) => /^Expected (.*?), actual /s.exec(i.message)?.[1])
    .filter((e) => e !== "undefined" && e !== "null")
  const [first] = expectations
  if (first === undefined) return issue.message
  const literals = expectations.every((e) => e?.startsWith("\"") === true)
  const expected = literals ? expectations.join(" or ") : first
  const words = plainWords[expected] ??
    (/^ReadonlyArray</.test(expected) ? "an array" : undefined) ??
    (/^(Struct|\{|[A-Z]\w* \(Encoded side\))/.test(expected)
      ? "an object"
      : expected)
  return `expected ${words}, got ${show(actual)}`
}

/** InvalidInput for the first issue of decoding `content`. */
export const invalidInput = (
  error: ParseResult.ParseError,
  layout: Layout,
  source: string,
  content: unknown
): InvalidInput => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const [issue] = issues
  if (issue === undefined) {
    const detail = error.message
    return new InvalidInput({ source, record: "", field: "", detail })
  }
  const samePath = issues.filter(
    (other) => fieldPath(other.path) === fieldPath(issue.path)
  )
  const detail = detailOf(samePath, dig(content, issue.path))
  return new InvalidInput({ source, ...locate(layout, issue.path), detail })
}

/** Decodes `content` with a raw shape, failing on its first issue. */
export const decodeRaw = <A, I>(
  schema: Schema.Schema<A, I>,
  layout: Layout,
  source: string,
  content: unknown
): Effect.Effect<A, InvalidInput> =>
  Schema.decodeUnknown(schema, { errors: "first" })(content).pipe(
    Effect.mapError((error) => invalidInput(error, layout, source, content))
  )

const uniqueIds = (
  imported: ProfileImport,
  source: string,
  labelOf: (index: number) => string,
  idField: string
): Effect.Effect<ProfileImport, InvalidInput> => {
  const firstSeen = new Map<string, number>()
  for (const [index, { platformPostId: id }] of imported.posts.entries()) {
    const earlier = firstSeen.get(id)
    if (earlier !== undefined) {
      return Effect.fail(new InvalidInput({
        source,
        record: labelOf(index),
        field: idField,
        detail: `the id ${JSON.stringify(id)} is also used by ` +
          `${labelOf(earlier)}; each post must appear once`
      }))
    }
    firstSeen.set(id, index)
  }
  return Effect.succeed(imported)
}

/**
 * Decodes a mapped (or the library's own) import into ProfileImport and
 * checks that no platform post id appears twice. `labelOf` names post
 * `index` as the source names it, `idField` is the source's id field.
 */
export const finish = (
  content: unknown,
  source: string,
  labelOf: (index: number) => string,
  idField: string
): Effect.Effect<ProfileImport, InvalidInput> => {
  const layout: Layout = { records: ["posts"], inner: [], labelOf }
  return decodeRaw(ProfileImport, layout, source, content).pipe(
    Effect.flatMap((imported) =>
      uniqueIds(imported, source, labelOf, idField)
    )
  )
}

/**
 * The one author of all records: exports of several profiles cannot be
 * imported as one. Records without an author are taken to share it.
 */
export const oneAuthor = (
  source: string,
  field: string,
  authors: ReadonlyArray<{
    readonly label: string
    readonly author?: string | null | undefined
  }>
): Effect.Effect<string, InvalidInput> => {
  const first = authors.find((a) => typeof a.author === "string")
  if (first === undefined || typeof first.author !== "string") {
    return Effect.fail(new InvalidInput({
      source,
      record: "",
      field,
      detail: "no post names its author, so the profile is unknown"
    }))
  }
  const other = authors.find(
    (a) => typeof a.author === "string" && a.author !== first.author
  )
  return other === undefined
    ? Effect.succeed(first.author)
    : Effect.fail(new InvalidInput({
      source,
      record: other.label,
      field,
      detail: `expected ${JSON.stringify(first.author)} as in ` +
        `${first.label}, got ${JSON.stringify(other.author)}; ` +
        "one import holds one profile"
    }))
}

/** The import's clock time as an ISO string, used as fetchedAt. */
export const nowIso: Effect.Effect<string> = Effect.clockWith((clock) =>
  clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms).toISOString()))
)
