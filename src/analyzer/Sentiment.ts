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
import type { SentimentToken as Token } from "wink-sentiment"
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
const mean = (ns: ReadonlyArray<number>): number =>
  ns.reduce((a, b) => a + b, 0) / ns.length

/** "sooo goood" -> "soo good"; "loveee" -> "love" when AFINN knows it. */
const unstretch = (text: string, afinn: SentimentLexicon["afinn"]): string =>
  text.replace(elongated, (word) => {
    const two = word.replace(/(\w)\1{2,}/g, "$1$1")
    const one = word.replace(/(\w)\1{2,}/g, "$1")
    const known = (w: string) => afinn[w.toLowerCase()] !== undefined
    return known(one) && !known(two) ? one : two
  })

/** A hashtag's valence: AFINN's, ours, or that of its camel-case words. */
const hashtagScore = (lexicon: SentimentLexicon, token: Token): number => {
  const body = token.value.slice(1)
  const words = body.replace(/(\p{Ll})(\p{Lu})/gu, "$1 $2").replace(/_/g, " ")
  return token.score ?? slang[body.toLowerCase()] ??
    (words.includes(" ") ? lexicon.score(words).normalizedScore : 0)
}

/** The valence of the word at `k`, after the rules in the module header. */
const wordScore = (
  tokens: ReadonlyArray<Token>,
  k: number,
  text: { readonly but: number; readonly shouting: boolean }
): number => {
  const token = tokens[k]!
  const lower = (i: number) => tokens[i]?.value.toLowerCase() ?? ""
  const value = lower(k)
  const previous = lower(k - 1)
  const negated = [1, 2, 3].some((back) => negators.has(lower(k - back)))
  const extra = slang[value] ??
    (value.endsWith("s") ? slang[value.slice(0, -1)] : undefined)
  let score = token.score ?? 0
  if (score === 0 && extra !== undefined) score = negated ? -extra : extra
  else if (score !== 0 && !token.negation && negated) score = -score

  const isTitle = (i: number) =>
    tokens[i]?.tag === "word" && titleWord.test(tokens[i]!.value)
  const inName = isTitle(k) && (isTitle(k + 1) || (k > 1 && isTitle(k - 1)))
  const notFelt = inName || topical.has(value) ||
    topical.has(value.replace(/s$/, "")) ||
    (value === "like" && !likers.has(previous)) ||
    (value === "pretty" && tokens[k + 1]?.score !== undefined)
  if (notFelt) return 0

  if (boosters.has(previous)) score += sign(score) * booster
  const capital = !text.shouting && token.value.length > 1 &&
    token.value === token.value.toUpperCase()
  if (capital) score += sign(score) * capitals
  if (text.but >= 0 && k !== text.but) {
    score *= k < text.but ? beforeBut : afterBut
  }
  return score
}

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
  const context = {
    but: tokens.findIndex((t) =>
      t.tag === "word" && t.value.toLowerCase() === "but"
    ),
    shouting: prose === prose.toUpperCase()
  }

  let words = emoji.length
  const wordScores = emoji.map((e) => lexicon.emoji[e] ?? newerEmoji[e] ?? 0)
  const tagScores: Array<number> = []
  tokens.forEach((token, k) => {
    if (token.tag === "hashtag") {
      tagScores.push(hashtagScore(lexicon, token))
    } else if (token.tag === "word") {
      words += token.grouped ? 2 : 1
      wordScores.push(wordScore(tokens, k, context))
    } else if (token.tag === "emoticon") {
      words += 1
      wordScores.push(token.score ?? 0)
    }
  })

  const felt = wordScores.filter((n) => n !== 0)
  const tags = tagScores.filter((n) => n !== 0)
  const lengthFactor = Math.sqrt(Math.max(1, words / sentenceLength))
  const wordMean = felt.length > 0 ? mean(felt) / lengthFactor : 0
  const tagMean = tags.length > 0 ? mean(tags) : 0
  let score = wordMean !== 0 && tagMean !== 0
    ? (wordMean + tagMean) / 2
    : wordMean || tagMean
  const bangs = Math.min(4, (prose.match(/!/g) ?? []).length)
  score += sign(score) * bangs * exclamation
  return {
    score: Math.max(-1, Math.min(1, score / 5)),
    evidence: felt.length + tags.length
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
 * - language "und" (too little prose, or eld unsure): scored when the
 *   lexicons find sentiment-bearing English words, emoji, emoticons or
 *   hashtags; neutral when they find none but most words are English ones
 *   the model knows; otherwise not computed, since nothing says the text
 *   is English ("@x 👀 https://t.co/...", "Merci beaucoup").
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
    if (found.evidence === 0 && !english) {
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
