/**
 * The labelled data the accuracy benchmark reads, from ../shared/data/labeled
 * relative to the project root. README.md describes each set.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
export const root = path.resolve(here, "../..")
export const labeled = path.resolve(root, "../shared/data/labeled")

export const lines = (file: string): Array<string> => {
  const text = fs.readFileSync(path.join(labeled, file), "utf8")
  const all = text.split(/\r?\n/)
  return all[all.length - 1] === "" ? all.slice(0, -1) : all
}

/** TweetEval keeps some characters as literal "\u2019" escapes. */
export const unescape = (text: string): string =>
  text.replace(/\\u([0-9a-fA-F]{4})/g, (_, hex: string) =>
    String.fromCharCode(parseInt(hex, 16))
  )

export interface Labelled {
  readonly texts: ReadonlyArray<string>
  readonly labels: ReadonlyArray<number>
}

export const tweetEval = (task: string, split: string): Labelled => {
  const texts = lines(`tweeteval/${task}/${split}_text.txt`).map(unescape)
  const labels = lines(`tweeteval/${task}/${split}_labels.txt`).map(Number)
  if (texts.length !== labels.length) {
    throw new Error(
      `tweeteval/${task}/${split}: ${texts.length} texts, ${labels.length} labels`
    )
  }
  return { texts, labels }
}

/** VADER's tweets with the mean of their human ratings (-4..4). */
export const vaderTweets = (): Array<{ truth: number; text: string }> =>
  lines("vader/tweets_GroundTruth.txt").map((line) => {
    const [, mean, ...text] = line.split("\t")
    return { truth: Number(mean), text: text.join("\t") }
  })

/** XLM-T folders and the ISO 639-1 code of their language. */
export const xlmt = {
  arabic: "ar",
  english: "en",
  french: "fr",
  german: "de",
  italian: "it",
  portuguese: "pt",
  spanish: "es"
} as const
