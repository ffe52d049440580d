/**
 * What the wink-nlp English model reads out of a caption: hashtags,
 * mentions, emoji, entities, keywords and the words the other steps match
 * against their lists.
 *
 * wink's tokenizer splits some things a caption holds whole: emoji built
 * from several code points (skin tones, flags, "❤️", ZWJ families), tags
 * with letters outside ASCII ("#été") and handles with dots ("@a.b"). The
 * pieces are joined again here, so each comes out as one item.
 */
import type {
  Detail,
  Document,
  ItemSentence,
  ItemToken,
  ItsFunction,
  WinkMethods
} from "wink-nlp"
import type { Entity } from "../Domain.js"

export interface TextFeatures {
  /** Hashtags without "#", first spelling, once each (case-insensitive). */
  readonly hashtags: ReadonlyArray<string>
  /** Mentions without "@", first spelling, once each (case-insensitive). */
  readonly mentions: ReadonlyArray<string>
  /** Emoji as whole grapheme clusters, once each. */
  readonly emoji: ReadonlyArray<string>
  readonly entities: ReadonlyArray<Entity>
  readonly keywords: ReadonlyArray<string>
  /** Lower-case words and their lemmas, for matching against term lists. */
  readonly terms: ReadonlySet<string>
  /** Word tokens (letters only), and how many of them English knows. */
  readonly words: number
  readonly englishWords: number
}

/** Undoes the HTML escaping platforms apply and straightens apostrophes. */
export const normalizeText = (text: string): string =>
  text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, "\"")
    .replace(/&#0?39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/[\u2018\u2019\u02bc]/g, "'")

const unprefixed = (name: string): string => name.replace(/^[#@]/, "")

/** Each item once, the first spelling kept, compared without case. */
const onceEach = (items: Iterable<string>): Array<string> => {
  const seen = new Set<string>()
  const result: Array<string> = []
  for (const item of items) {
    const key = item.toLowerCase()
    if (key !== "" && !seen.has(key)) {
      seen.add(key)
      result.push(item)
    }
  }
  return result
}

const joiner = /^[\u200d\ufe0f\u20e3\u{1f3fb}-\u{1f3ff}]+$/u
const regionalIndicator = /^[\u{1f1e6}-\u{1f1ff}]$/u
const keyedOrJoined = /[\u200d\u20e3]$/u

interface Piece {
  readonly value: string
  readonly type: string
  readonly spaced: boolean
}

/**
 * Emoji as grapheme clusters: wink's emoji tokens and the joiners,
 * variation selectors and skin tones it leaves beside them, glued back.
 */
const emojiIn = (pieces: ReadonlyArray<Piece>): Array<string> => {
  const clusters: Array<string> = []
  let current = ""
  for (const piece of pieces) {
    const glued = !piece.spaced && current !== ""
    if (glued && joiner.test(piece.value)) {
      current += piece.value
    } else if (piece.type === "emoji") {
      const pairsFlag = glued && regionalIndicator.test(piece.value) &&
        [...current].length === 1 && regionalIndicator.test(current)
      if (glued && (pairsFlag || keyedOrJoined.test(current))) {
        current += piece.value
      } else {
        if (current !== "") clusters.push(current)
        current = piece.value
      }
    } else {
      if (current !== "") clusters.push(current)
      current = ""
    }
  }
  if (current !== "") clusters.push(current)
  return clusters.filter((c) => !joiner.test(c))
}

const tagBody = /^[\p{L}\p{M}\p{N}_]+$/u
const handleBody = /^[A-Za-z0-9_]+$/

/**
 * Hashtags and mentions from wink's tokens, with "#" + word pieces glued
 * into a tag and "@name" + "." + "more" pieces glued into one handle.
 */
const tagsIn = (pieces: ReadonlyArray<Piece>) => {
  const hashtags: Array<string> = []
  const mentions: Array<string> = []
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!
    const next = pieces[i + 1]
    if (piece.type === "hashtag") {
      let tag = piece.value.slice(1)
      while (pieces[i + 1] !== undefined && !pieces[i + 1]!.spaced &&
        tagBody.test(pieces[i + 1]!.value)) {
        tag += pieces[++i]!.value
      }
      if (/\p{L}/u.test(tag)) hashtags.push(tag)
    } else if (piece.value === "#" && next !== undefined && !next.spaced &&
      tagBody.test(next.value) && /\p{L}/u.test(next.value)) {
      hashtags.push(next.value)
      i++
    } else if (piece.type === "mention") {
      let handle = piece.value.slice(1)
      while (pieces[i + 2] !== undefined && pieces[i + 1]!.value === "." &&
        !pieces[i + 1]!.spaced && !pieces[i + 2]!.spaced &&
        handleBody.test(pieces[i + 2]!.value)) {
        handle += "." + pieces[i + 2]!.value
        i += 2
      }
      mentions.push(handle)
    }
  }
  return { hashtags, mentions }
}

/** Entity types the result reports; the rest have fields of their own. */
const reportedEntityTypes = new Set([
  "DATE",
  "TIME",
  "DURATION",
  "MONEY",
  "PERCENT",
  "ORDINAL",
  "CARDINAL"
])

const capitalised = /^\p{Lu}/u

/**
 * Runs of capitalised proper nouns ("Sarah Jones", "Brooklyn") as NAME
 * entities. The lite model has no person or place recogniser, so a NAME
 * may be either. A lone capitalised word opening a sentence is skipped:
 * English capitalises it anyway.
 */
const namesIn = (doc: Document, its: WinkMethods["its"]): Array<Entity> => {
  const names: Array<Entity> = []
  doc.sentences().each((sentence: ItemSentence) => {
    let run: Array<string> = []
    let startsSentence = false
    const flush = () => {
      if (run.length > 1 || (run.length === 1 && !startsSentence)) {
        names.push({ text: run.join(" "), type: "NAME" })
      }
      run = []
    }
    sentence.tokens().each((token: ItemToken, index: number) => {
      const value = token.out()
      const isName = token.out(its.pos) === "PROPN" &&
        token.out(its.type) === "word" && capitalised.test(value) &&
        token.parentEntity() === undefined
      if (isName) {
        if (run.length === 0) startsSentence = index === 0
        run.push(value)
      } else {
        flush()
      }
    })
    flush()
  })
  return names
}

const distinct = (entities: ReadonlyArray<Entity>): Array<Entity> => {
  const seen = new Set<string>()
  return entities.filter((e) => {
    const key = `${e.type}\u0000${e.text}`
    return seen.has(key) ? false : (seen.add(key), true)
  })
}

const keywordPos = new Set(["NOUN", "PROPN"])
const keywordLimit = 8

/** wink types `its.lemma` with the addons argument it is called with. */
const lemmaOf = (its: WinkMethods["its"]) =>
  its.lemma as unknown as ItsFunction<string>

/**
 * Reads `text` (already passed through `normalizeText`) with the wink-nlp
 * English model. `given` hashtags and mentions, such as the ones a
 * platform lists beside the caption, come first in the result.
 */
export const readText = (
  nlp: WinkMethods,
  text: string,
  given: {
    readonly hashtags: ReadonlyArray<string>
    readonly mentions: ReadonlyArray<string>
  }
): TextFeatures => {
  const its = nlp.its
  const doc = nlp.readDoc(text)
  const pieces: Array<Piece> = []
  const terms = new Set<string>()
  const counts = new Map<string, number>()
  let words = 0
  let englishWords = 0
  doc.tokens().each((token: ItemToken) => {
    const value = token.out()
    const type = token.out(its.type) as string
    pieces.push({ value, type, spaced: token.out(its.precedingSpaces) !== "" })
    if (type !== "word" || !/^[\p{L}'-]+$/u.test(value)) return
    const normal = token.out(its.normal) as string
    const lemma = token.out(lemmaOf(its)) as string
    words++
    if (!doc.isOOV(normal)) englishWords++
    terms.add(normal)
    terms.add(lemma)
    const pos = token.out(its.pos) as string
    const keyword = pos === "NOUN" && normal.endsWith("s") ? lemma : normal
    const isKeyword = keywordPos.has(pos) && !token.out(its.stopWordFlag) &&
      keyword.length > 2 && !keyword.includes("'")
    if (isKeyword) counts.set(keyword, (counts.get(keyword) ?? 0) + 1)
  })
  const { hashtags, mentions } = tagsIn(pieces)
  const entities = (doc.entities().out(its.detail) as unknown as Array<Detail>)
    .filter((e) => reportedEntityTypes.has(e.type))
    .map((e): Entity => ({ text: e.value, type: e.type }))
  const keywords = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, keywordLimit)
    .map(([lemma]) => lemma)
  return {
    hashtags: onceEach([...given.hashtags.map(unprefixed), ...hashtags]),
    mentions: onceEach([...given.mentions.map(unprefixed), ...mentions]),
    emoji: [...new Set(emojiIn(pieces))],
    entities: distinct([...entities, ...namesIn(doc, its)]),
    keywords,
    terms,
    words,
    englishWords
  }
}
