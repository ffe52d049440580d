import { Layer, Logger, LogLevel } from "effect"
import { type Analyzer, Insights } from "../../src/index.js"
import type { StorageLayer } from "./Storage.js"

export { tempDatabase } from "./Storage.js"

/** The whole library over a storage layer, with a runner that polls quickly. */
export const libraryLayer = (
  storage: StorageLayer,
  analyzer: Layer.Layer<Analyzer>,
  runner: Insights.LayerOptions = {}
) =>
  Insights.layer({
    pollInterval: "50 millis",
    postRetryBase: "5 millis",
    ...runner
  }).pipe(
    Layer.provide(analyzer),
    Layer.provide(storage),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )

/** A profile in the library's own format with `captions.length` posts. */
export const ownProfile = (
  handle: string,
  captions: ReadonlyArray<string>,
  followers: number | null = 1000
) => ({
  profile: {
    platform: "instagram",
    handle,
    displayName: `The ${handle}`,
    followers,
    fetchedAt: "2026-01-10T12:00:00.000Z"
  },
  posts: captions.map((caption, i) => ({
    platformPostId: `${handle}-${i + 1}`,
    caption,
    mediaType: "image",
    likes: 10 * (i + 1),
    comments: i,
    postedAt: new Date(Date.UTC(2026, 0, 1 + i, 9 + (i % 5))).toISOString()
  }))
})

export const twelveCaptions = Array.from(
  { length: 12 },
  (_, i) => (i % 3 === 0 ? `sad day number ${i}` : `good food post ${i}`)
)
