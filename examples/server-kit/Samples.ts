/**
 * The sample profiles the example servers offer at /api/samples, so the
 * progress page has something to import without an upload. Each is a file
 * in examples/data in the library's own format, found next to this module
 * whatever the working directory.
 */
import { readFile } from "node:fs/promises"

/** A sample as GET /api/samples lists it. */
export interface SampleSummary {
  /** The name in GET /api/samples/:name. */
  readonly name: string
  readonly title: string
  /** How many posts the profile has. */
  readonly posts: number
}

export interface Sample extends SampleSummary {
  /** The profile export as parsed JSON, ready for importProfile. */
  readonly content: unknown
}

const sampleFiles: ReadonlyArray<{
  readonly name: string
  readonly title: string
  readonly file: string
}> = [
  {
    name: "food-traveller",
    title: "Lena Moreau: street food and slow travel",
    file: "sample-profile.json"
  },
  {
    name: "travel-photographer",
    title: "Mara Lindqvist: travel and landscape photography",
    file: "travel-photographer.json"
  },
  {
    name: "coffee-shop",
    title: "Corner Grind Coffee: a neighbourhood coffee shop",
    file: "coffee-shop.json"
  }
]

const dataDirectory = new URL("../data/", import.meta.url)

const loadSample = async (
  entry: (typeof sampleFiles)[number]
): Promise<Sample> => {
  const url = new URL(entry.file, dataDirectory)
  const content: unknown = JSON.parse(await readFile(url, "utf8"))
  const posts = (content as { posts?: unknown }).posts
  if (!Array.isArray(posts)) {
    throw new Error(`${url.pathname}: expected a "posts" array`)
  }
  return { name: entry.name, title: entry.title, posts: posts.length, content }
}

let loaded: Promise<ReadonlyArray<Sample>> | undefined

/** Every sample with its content, read from disk once and then kept. */
export const loadSamples = (): Promise<ReadonlyArray<Sample>> => {
  if (loaded === undefined) {
    loaded = Promise.all(sampleFiles.map(loadSample))
    loaded.catch(() => {
      loaded = undefined
    })
  }
  return loaded
}

/** The list GET /api/samples answers with. */
export const sampleSummaries = async (): Promise<ReadonlyArray<SampleSummary>> =>
  (await loadSamples()).map(({ name, title, posts }) => ({ name, title, posts }))

/** The sample of that name, or undefined (a 404). */
export const findSample = async (name: string): Promise<Sample | undefined> =>
  (await loadSamples()).find((sample) => sample.name === name)
