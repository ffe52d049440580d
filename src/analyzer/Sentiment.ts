/**
 * English sentiment from the wink-sentiment lexicons (AFINN-165, the Emoji
 * Sentiment Ranking and emoticons), with rules that wink-sentiment lacks
 * and tweets need:
 *
 * - negation three words back (wink looks two), also by "didn't",
 *   "wasn't", "nothing", "without" and the other forms wink does not list;
 * - "like" scores only as a verb of liking ("I like", "would like"), not
 *   as in "looks like rain";
 * - boosters ("so", "really") and a word in capitals in mixed-case text
 *   strengthen the next sentiment word, exclamation marks the whole text;
 * - a clause after "but" weighs three times the clause before it;
 * - a capitalised sentiment word inside a name ("Super Bowl", "Best Buy")
 *   does not count, nor do words that mostly name a thing ("work", "top");
 * - elongated words ("sooo goood") are read as written normally;
 * - camel-case hashtags ("#NeedMySleep") are read as words;
 * - emoji are scored whole ("❤️" with its variation selector), with a few
 *   newer emoji the 2015 ranking lacks, and slang AFINN lacks ("smh").
 *
 * The result is a score in -1..1 and the number of sentiment-bearing items
 * found. Whether the text is English enough to be scored at all is
 * decided by `judge`.
 */
import type { Language, Sentiment } from "../Domain.js"
import type { SentimentLexicon } from "./Models.js"

/** Valences (-5..5) for emoji newer than the Emoji Sentiment Ranking. */
const newerEmoji: Readonly<Record<string, number>> = {
  "🙄": -2, "🤣": 3, "🥰": 4, "🤬": -4, "🤮": -3, "🤢": -2, "🤩": 3,
  "🥳": 3, "🤗": 2, "🥺": -1, "🤦": -2, "😠": -3, "☹": -2, "🙁": -2,
  "🙂": 1, "😥": -1, "🥲": 1, "😬": -1
}

/**
 * Valences (-5..5) for tweet words and insults AFINN-165 does not have.
 * A plural AFINN lacks ("idiots") takes its singular's valence.
 */
const slang: Readonly<Record<string, number>> = {
  yay: 2, blessed: 2, smh: -2, smdh: -2, fml: -3, rip: -2,
  unfortunately: -2, meh: -1, congrats: 3, ugh: -2,
  trash: -2, clown: -2, hypocrite: -3, traitor: -3, thug: -2,
  deplorable: -3, crooked: -2, bigot: -3, bigotry: -3, scammer: -3,
  lies: -2, lying: -2, disgraceful: -3, sheeple: -2, lowlife: -3,
  moronic: -3, brainwashed: -2, despicable: -3, creepy: -2, creep: -2,
  psycho: -2, nutjob: -3, crook: -3, hateful: -3, murdered: -3
}

/**
 * Words AFINN scores that in posts mostly name a thing or ask for one
 * ("work tomorrow", "top 10", "please share"), not a feeling.
 */
const topical = new Set([
  "work", "works", "working", "top", "big", "huge", "please", "want",
  "share", "free", "god", "fan"
])

const negators = new Set([
  "never", "none", "no", "not", "non", "nor", "neither", "nobody",
  "nothing", "nowhere", "without", "cannot", "cant", "dont", "doesnt",
  "didnt", "isnt", "arent", "wasnt", "werent", "wont", "wouldnt",
  "shouldnt", "couldnt", "hasnt", "havent", "hadnt", "aint", "n't"
])

const boosters = new Set([
  "very", "so", "soo", "really", "extremely", "super", "too", "totally",
  "absolutely", "incredibly", "completely", "truly", "most", "such",
  "damn", "hella", "freaking", "pretty"
])

/** Words after which "like" is the verb of liking. */
const likers = new Set([
  "i", "you", "we", "they", "u", "ya", "people", "would", "'d", "d",
  "really", "also", "just", "to", "do", "n't", "dont", "didnt", "doesnt",
  "did", "does", "still", "will", "wo", "gonna", "'ll", "all", "who",
  "kinda", "actually"
])

const booster = 0.5
const capitals = 0.5
const exclamation = 0.15
const beforeBut = 0.5
const afterBut = 1.5
/** wink-sentiment's assumed sentence length, in words. */
const sentenceLength = 15

const emojiCluster =
  /(\p{Extended_Pictographic})[\u{1f3fb}-\u{1f3ff}\ufe0f\u200d]*/gu
const elongated = /\b\w*(\w)\1{2,}\w*\b/g
const titleWord = /^\p{Lu}\p{Ll}+$/u

export interface Polarity {
  /** -1 (most negative) .. 1 (most positive); 0 when nothing was found. */
  readonly score: number
  /** Sentiment-bearing words, hashtags, emoji and emoticons found. */
  readonly evidence: number
}

const sign = (n: number): number => (n > 0 ? 1 : n < 0 ? -1 : 0)

/** "sooo goood" -> "soo good"; "loveee" -> "love" when AFINN knows it. */
const unstretch = (text: string, afinn: SentimentLexicon["afinn"]): string =>
  text.replace(elongated, (word) => {
    const two = word.replace(/(\w)\1{2,}/g, "$1$1")
    const one = word.replace(/(\w)\1{2,}/g, "$1")
    const known = (w: string) => afinn[w.toLowerCase()] !== undefined
    return known(one) && !known(two) ? one : two
  })

/** The polarity of English `text` (already through `normalizeText`). */
export const polarity = (lexicon: SentimentLexicon, text: string): Polarity => {
  const emoji: Array<string> = []
  const prose = unstretch(text, lexicon.afinn)
    .replace(/\b(?:https?:\/\/|www\.)\S+/gi, " ")
    .replace(/(?<![\p{L}\p{N}_])@[\p{L}\p{N}_.]+/gu, " ")
    .replace(emojiCluster, (_, base: string) => {
      emoji.push(base)
      return " "
    })
  const tokens = lexicon.score(prose).tokenizedPhrase ?? []
  const shouting = prose === prose.toUpperCase()
  const but = tokens.findIndex((t) =>
    t.tag === "word" && t.value.toLowerCase() === "but"
  )
  const lower = (k: number) => tokens[k]?.value.toLowerCase() ?? ""
  let words = 0
  let wordSum = 0
  let wordHits = 0
  let tagSum = 0
  let tagHits = 0

  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k]!
    const value = token.value.toLowerCase()
    if (token.tag === "word") words += token.grouped ? 2 : 1
    else if (token.tag === "emoticon") words += 1

    if (token.tag === "hashtag") {
      const parts = token.value.slice(1)
        .replace(/(\p{Ll})(\p{Lu})/gu, "$1 $2")
        .replace(/_/g, " ")
      const score = token.score ?? slang[value.slice(1)] ??
        (parts.includes(" ") ? lexicon.score(parts).normalizedScore : 0)
      if (score !== 0) {
        tagSum += score
        tagHits++
      }
      continue
    }

    const previous = lower(k - 1)
    const negated = negators.has(previous) || negators.has(lower(k - 2)) ||
      negators.has(lower(k - 3))
    let score = token.score ?? 0
    if (token.tag === "word") {
      const extra = slang[value] ?? (value.endsWith("s")
        ? slang[value.slice(0, -1)]
        : undefined)
      if (score === 0 && extra !== undefined) {
        score = negated ? -extra : extra
      } else if (score !== 0 && !token.negation && negated) {
        score = -score
      }
      const inName = titleWord.test(token.value) && (
        (tokens[k + 1]?.tag === "word" && titleWord.test(tokens[k + 1]!.value)) ||
        (k > 1 && tokens[k - 1]?.tag === "word" &&
          titleWord.test(tokens[k - 1]!.value))
      )
      if (inName || (value === "like" && !likers.has(previous))) score = 0
      if (topical.has(value) || topical.has(value.replace(/s$/, ""))) score = 0
      if (value === "pretty" && tokens[k + 1]?.score !== undefined) score = 0
      if (boosters.has(previous)) score += sign(score) * booster
      const capital = !shouting && token.value.length > 1 &&
        token.value === token.value.toUpperCase()
      if (capital) score += sign(score) * capitals
      if (but >= 0 && k !== but) score *= k < but ? beforeBut : afterBut
    }
    if (score !== 0) {
      wordSum += score
      wordHits++
    }
  }

  for (const e of emoji) {
    words++
    const score = lexicon.emoji[e] ?? newerEmoji[e] ?? 0
    if (score !== 0) {
      wordSum += score
      wordHits++
    }
  }

  const lengthFactor = Math.sqrt(Math.max(1, words / sentenceLength))
  const wordScore = wordHits > 0 ? wordSum / wordHits / lengthFactor : 0
  const tagScore = tagHits > 0 ? tagSum / tagHits : 0
  let score = wordScore !== 0 && tagScore !== 0
    ? (wordScore + tagScore) / 2
    : wordScore || tagScore
  const bangs = Math.min(4, (prose.match(/!/g) ?? []).length)
  score += sign(score) * bangs * exclamation
  return {
    score: Math.max(-1, Math.min(1, score / 5)),
    evidence: wordHits + tagHits
  }
}

/**
 * Scores within this distance of 0 are neutral. Tuned on the TweetEval
 * sentiment validation split (bench/analyzer-accuracy).
 */
export const neutralBand = 0.05

/**
 * Share of a text's words the English model must know for text whose
 * language is "und" to be scored.
 */
export const englishShare = 0.6

export interface Reading {
  readonly language: Language
  readonly polarity: Polarity
  /** Word tokens and how many of them the English model knows. */
  readonly words: number
  readonly englishWords: number
}

const notComputed = (reason: string): Sentiment => ({
  label: "not_computed",
  score: null,
  reason
})

const round = (n: number): number => Math.round(n * 1000) / 1000

/**
 * The sentiment of a text, or "not_computed" with the reason:
 *
 * - text in a language other than English: the lexicons are English;
 * - language "und": scored when most words are English ones the model
 *   knows (neutral if none carries sentiment), or when there are no words
 *   at all but emoji, emoticons or hashtags carry sentiment; otherwise not
 *   computed, since there is nothing to read it from.
 */
export const judge = (reading: Reading): Sentiment => {
  const { language, polarity: found, words, englishWords } = reading
  if (language.code !== "und" && language.code !== "en") {
    return notComputed(
      `written in "${language.code}"; sentiment is read in English only`
    )
  }
  if (language.code === "und") {
    const english = words > 0 && englishWords / words >= englishShare
    const symbolsOnly = words === 0 && found.evidence > 0
    if (!english && !symbolsOnly) {
      return notComputed(
        words === 0
          ? "no words or sentiment-bearing emoji to read"
          : "too little text to tell that it is English"
      )
    }
  }
  const score = round(found.score)
  const label = score > neutralBand
    ? "positive"
    : score < -neutralBand
    ? "negative"
    : "neutral"
  const reason = found.evidence === 0
    ? "no sentiment-bearing words or emoji"
    : `${found.evidence} sentiment-bearing item${found.evidence === 1 ? "" : "s"}`
  return { label, score, reason }
}
