/**
 * The embedded analyzer: works offline, from npm packages that ship their
 * data, and explains what it finds in terms a person can check.
 *
 * - sentiment: wink-sentiment's lexicons with tweet rules, English only;
 * - language: eld on the caption's prose (links, mentions, hashtags and
 *   emoji removed), "und" when that is too short or eld is unsure;
 * - hashtags, mentions, emoji, entities and keywords: wink-nlp with its
 *   English lite web model (keywords only for English or "und" text);
 * - topics: hashtags and words mapped onto the project's categories;
 * - brand safety: obscenity plus the project's term lists.
 *
 * docs/analyzer.md describes the rules, the lists and the limits;
 * bench/analyzer-accuracy measures it on public labelled data.
 */
import { Effect, Layer } from "effect"
import { Analyzer, type AnalyzerShape } from "../Analyzer.js"
import { AnalysisResult, Post } from "../Domain.js"
import { AnalyzerError } from "../Errors.js"
import { brandSafetyOf } from "./BrandSafety.js"
import { detectLanguage } from "./LanguageId.js"
import { loadModels, type Models } from "./Models.js"
import { judge, polarity } from "./Sentiment.js"
import { normalizeText, readText } from "./TextFeatures.js"
import { topicsOf } from "./Topics.js"

/** The analyzer id stored with every analysis. */
export const id = "embedded"

/**
 * The analyzer version stored with every analysis. It changes whenever
 * results for the same post could change: a rule, a threshold, a list, or
 * the version of a package whose data the analyzer reads (eld, obscenity,
 * wink-eng-lite-web-model, wink-nlp, wink-sentiment).
 */
export const version = "embedded-1.0.0"

/**
 * Analyses one post with loaded models. Pure and synchronous; throws only
 * on a bug or on a result that does not fit the AnalysisResult schema.
 */
export const analyzePost = (models: Models, post: Post): AnalysisResult => {
  const text = normalizeText(post.caption)
  const features = readText(models.nlp, text, post)
  const language = detectLanguage(models.detector, text)
  const sentiment = judge({
    language,
    polarity: polarity(models.lexicon, text),
    words: features.words,
    englishWords: features.englishWords
  })
  const readsEnglish = language.code === "en" || language.code === "und"
  const prose = text.toLowerCase().replace(/[^\p{L}\p{N}'-]+/gu, " ")
  return new AnalysisResult({
    sentiment,
    language,
    topics: topicsOf({
      terms: features.terms,
      text: prose,
      hashtags: features.hashtags
    }),
    hashtags: features.hashtags,
    mentions: features.mentions,
    emoji: features.emoji,
    entities: features.entities,
    keywords: readsEnglish ? features.keywords : [],
    brandSafety: brandSafetyOf(models.profanity, {
      text,
      terms: features.terms,
      hashtags: features.hashtags
    })
  })
}

const rejected = (post: Post, cause: unknown) =>
  new AnalyzerError({
    reason: "Rejected",
    detail: `embedded analyzer failed on post ${post.id}: ${
      cause instanceof Error ? cause.message : String(cause)
    }`
  })

/**
 * Longest caption analysed, in characters; the rest of a longer caption is
 * left out of the analysis (a real caption is far shorter: Instagram allows
 * 2,200 characters, a Reddit self post 40,000).
 */
export const maxCaptionLength = 40_000

/**
 * The analyzer over models already loaded. `analyze` does no I/O, but it
 * is CPU work: each call runs in its own turn of the event loop, so timers,
 * heartbeats, signals and other requests of the host go on between posts.
 * An exception inside it fails with AnalyzerError reason "Rejected", which
 * is not retried.
 */
export const fromModels = (models: Models): AnalyzerShape =>
  Analyzer.of({
    id,
    version,
    analyze: (post) =>
      Effect.async<AnalysisResult, AnalyzerError>((resume) => {
        const turn = setImmediate(() =>
          resume(
            Effect.try({
              try: () => analyzePost(models, truncated(post)),
              catch: (cause) => rejected(post, cause)
            })
          )
        )
        return Effect.sync(() => clearImmediate(turn))
      })
  })

const truncated = (post: Post): Post =>
  post.caption.length <= maxCaptionLength
    ? post
    : new Post({ ...post, caption: post.caption.slice(0, maxCaptionLength) }, true)

/**
 * Builds the analyzer. The first call in a process loads the models (the
 * wink-nlp English model, eld's medium n-gram tables, the sentiment
 * lexicons and the profanity list: about a second and 80 MB of heap);
 * later calls reuse them. A model that cannot be loaded is a defect,
 * since the packages are dependencies of this library.
 */
export const make: Effect.Effect<AnalyzerShape> = Effect.promise(loadModels).pipe(
  Effect.map(fromModels),
  Effect.withSpan("EmbeddedAnalyzer.make")
)

/** The embedded analyzer as the Analyzer service. */
export const layer: Layer.Layer<Analyzer> = Layer.effect(Analyzer, make)

/**
 * The embedded analyzer's id, version, constructor and layer together,
 * for `EmbeddedAnalyzer.layer`.
 */
export const EmbeddedAnalyzer = { id, version, make, layer } as const
