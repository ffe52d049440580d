/**
 * Importing a profile export: finding out from its content which format
 * it is in, and reading it into a ProfileImport. Nothing is stored here.
 *
 * Formats: the library's own JSON, Instagram's web profile response,
 * Apify's instagram-scraper dataset, a Twitter/X v1.1 user timeline and a
 * Reddit listing of a user's submissions. docs/formats.md says how each is
 * recognised and how its fields map.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Either } from "effect"
import type { ProfileImport } from "../Domain.js"
import { InvalidInput, UnknownFormat } from "../Errors.js"
import { ApifyInstagram } from "./ApifyInstagram.js"
import type { ImportFormat } from "./ImportFormat.js"
import { InstagramWeb } from "./InstagramWeb.js"
import { parseJson } from "./JsonText.js"
import { OwnFormat } from "./OwnFormat.js"
import { RedditListing } from "./RedditListing.js"
import { TwitterTimeline } from "./TwitterTimeline.js"

export type { FormatName, ImportFormat } from "./ImportFormat.js"

/** Every known format, in the order detection tries them. */
export const formats: ReadonlyArray<ImportFormat> = [
  OwnFormat,
  InstagramWeb,
  ApifyInstagram,
  TwitterTimeline,
  RedditListing
]

/**
 * The format of already-parsed JSON `content`: the first of `formats` whose
 * overall shape it has. Fails with UnknownFormat listing every format and
 * why it does not fit. `source` names the content in errors (default
 * "input").
 */
export const detectFormat = (
  content: unknown,
  source = "input"
): Either.Either<ImportFormat, UnknownFormat> => {
  const tried: Array<{ format: string; reason: string }> = []
  for (const format of formats) {
    const reason = format.mismatch(content)
    if (reason === undefined) return Either.right(format)
    tried.push({ format: format.name, reason })
  }
  return Either.left(new UnknownFormat({ source, tried }))
}

/**
 * Reads already-parsed JSON `content` in whichever format it is in.
 * Content that has a format's shape but does not fit it in some field
 * fails with InvalidInput naming `source`, the record (such as
 * "posts[3] (id C1a2B3)") and the field. Counts the export does not hold
 * are null; fetchedAt is the time of the import, unless the library's own
 * format gives it.
 */
export const importProfile = (
  content: unknown,
  source = "input"
): Effect.Effect<ProfileImport, InvalidInput | UnknownFormat> =>
  Effect.gen(function*() {
    const format = yield* detectFormat(content, source)
    yield* Effect.annotateCurrentSpan("format", format.name)
    return yield* format.decode(content, source)
  }).pipe(
    Effect.withSpan("ProfileImporter.importProfile", {
      attributes: { source }
    })
  )

/** Parses JSON `text` and imports it as importProfile does. */
export const importProfileJson = (
  text: string,
  source = "input"
): Effect.Effect<ProfileImport, InvalidInput | UnknownFormat> =>
  Effect.flatMap(parseJson(text, source), (content) =>
    importProfile(content, source))

/**
 * Reads the JSON file at `path` and imports it. Errors name the file as
 * their source; a file that cannot be read fails with InvalidInput saying
 * why.
 */
export const importProfileFile = (
  path: string
): Effect.Effect<
  ProfileImport,
  InvalidInput | UnknownFormat,
  FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((error) =>
        new InvalidInput({
          source: path,
          record: "",
          field: "",
          detail: `cannot read the file: ${error.message}`
        })
      )
    )
    return yield* importProfileJson(text, path)
  })
