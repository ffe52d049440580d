/**
 * The data the embedded analyzer reads: the wink-nlp English model, the
 * eld n-gram tables, the wink-sentiment lexicons and the obscenity word
 * list. All of it ships inside npm packages, so nothing is fetched over the
 * network. It is loaded once per process, on first use, and shared by
 * every analyzer built afterwards.
 */
import type { DataSet, RegExpMatcher } from "obscenity"
import type { WinkMethods } from "wink-nlp"
import type sentiment from "wink-sentiment"

/** What the analyzer needs of an eld detector. */
export interface LanguageDetector {
  readonly detect: (text: string) => {
    readonly language: string
    readonly isReliable: () => boolean
  }
}

/** Sentiment lexicons of wink-sentiment: AFINN-165 and emoji valences. */
export interface SentimentLexicon {
  readonly score: typeof sentiment
  readonly afinn: Readonly<Record<string, number>>
  readonly emoji: Readonly<Record<string, number>>
}

export interface Profanity {
  readonly matcher: RegExpMatcher
  readonly dataset: DataSet<{ originalWord: string }>
}

export interface Models {
  readonly nlp: WinkMethods
  readonly detector: LanguageDetector
  readonly lexicon: SentimentLexicon
  readonly profanity: Profanity
}

/**
 * The eld table size. "medium" is within half a point of "large" on the
 * XLM-T tweets (see bench/analyzer-accuracy) at half its memory: about
 * 60 MB of heap against 140 MB.
 */
const loadDetector = async (): Promise<LanguageDetector> => {
  const { eld } = await import("eld/medium")
  return eld
}

const loadNlp = async (): Promise<WinkMethods> => {
  const [{ default: winkNLP }, { default: model }] = await Promise.all([
    import("wink-nlp"),
    import("wink-eng-lite-web-model")
  ])
  return winkNLP(model, ["sbd", "pos", "ner"])
}

const loadLexicon = async (): Promise<SentimentLexicon> => {
  const [score, afinn, emoji] = await Promise.all([
    import("wink-sentiment"),
    import("wink-sentiment/src/afinn-en-165.js"),
    import("wink-sentiment/src/emojis.js")
  ])
  return { score: score.default, afinn: afinn.default, emoji: emoji.default }
}

const loadProfanity = async (): Promise<Profanity> => {
  const obscenity = await import("obscenity")
  const matcher = new obscenity.RegExpMatcher({
    ...obscenity.englishDataset.build(),
    ...obscenity.englishRecommendedTransformers
  })
  return { matcher, dataset: obscenity.englishDataset }
}

const load = async (): Promise<Models> => {
  const [nlp, detector, lexicon, profanity] = await Promise.all([
    loadNlp(),
    loadDetector(),
    loadLexicon(),
    loadProfanity()
  ])
  return { nlp, detector, lexicon, profanity }
}

let loading: Promise<Models> | undefined

/**
 * The models, loaded on the first call and shared afterwards. A failed
 * load is not remembered, so a later call tries again.
 */
export const loadModels = (): Promise<Models> => {
  if (loading === undefined) {
    loading = load().catch((cause: unknown) => {
      loading = undefined
      throw cause
    })
  }
  return loading
}
