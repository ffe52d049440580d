/**
 * The library's own import format: a ProfileImport as JSON, with dates as
 * ISO 8601 strings.
 */
import {
  dig,
  finish,
  isObject,
  labelRecords,
  type ImportFormat
} from "./ImportFormat.js"

/**
 * `{ "profile": {...}, "posts": [...] }`, as Schema.encode(ProfileImport)
 * writes it.
 */
export const OwnFormat: ImportFormat = {
  name: "profile-insights",
  mismatch: (content) =>
    isObject(content) && isObject(content.profile) &&
      Array.isArray(content.posts)
      ? undefined
      : "no \"profile\" object beside a \"posts\" array",
  decode: (content, source) =>
    finish(
      content,
      source,
      labelRecords("posts", dig(content, ["posts"]), ["platformPostId"]),
      "platformPostId"
    )
}
