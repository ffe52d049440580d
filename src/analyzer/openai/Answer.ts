/**
 * The model's answer: found in the message content (bare, or in a markdown
 * code fence), parsed as JSON and decoded with Schema. Anything else is an
 * off-schema answer, described in one line for the recorded failure.
 */
import { Either, ParseResult, Schema } from "effect"
import { AnalysisResult, SentimentLabel } from "../../Domain.js"
import { brandSafetyCategories } from "../BrandSafety.js"
import { topicIds } from "./Prompt.js"

const Unit = Schema.Number.pipe(Schema.between(0, 1))

/**
 * Bounds of an answer. The system message asks for less (3 topics, 10
 * keywords and entities, 20 emoji); these leave room for a model that
 * overshoots a little, and stop one that runs away: an answer beyond them
 * is off-schema, asked again, and never stored.
 */
export const limits = {
  /** Characters of the rationale (the stored reason is cut to 500). */
  rationale: 2_000,
  /** Hashtags and mentions each. */
  tags: 100,
  /** Characters of a hashtag, mention, keyword, entity or term. */
  text: 200,
  topics: 10,
  emoji: 50,
  entities: 30,
  keywords: 30,
  /** Terms of one brand-safety category. */
  terms: 30
} as const

const Text = Schema.String.pipe(Schema.maxLength(limits.text))
const Texts = (max: number) => Schema.Array(Text).pipe(Schema.maxItems(max))

/** An ISO 639 code ("en", "fil"), optionally with a region ("pt-BR"), or "und". */
const AnswerLanguage = Schema.Struct({
  code: Schema.String.pipe(
    Schema.pattern(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, {
      message: () => "expected an ISO 639 language code such as \"en\", or \"und\""
    })
  ),
  reliable: Schema.Boolean
})

const emojiChar = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u
const emojiPart = [
  "\\p{Extended_Pictographic}",
  "\\p{Regional_Indicator}",
  "\\p{Emoji_Modifier}",
  // joiner, variation selector, keycap, the keycap bases, tag characters
  "[\\u200D\\uFE0F\\u20E3#*0-9\\u{E0020}-\\u{E007F}]"
].join("|")
const emojiOnly = new RegExp(`^(?:${emojiPart})+$`, "u")

/** One emoji (a ZWJ sequence, flag or keycap included), and nothing else. */
const Emoji = Schema.String.pipe(
  Schema.maxLength(32),
  Schema.filter((s) => (emojiOnly.test(s) && emojiChar.test(s)) || "expected an emoji")
)

const AnswerSentiment = Schema.Struct({
  label: SentimentLabel,
  score: Schema.NullOr(Schema.Number.pipe(Schema.between(-1, 1)))
}).pipe(
  Schema.filter((s) =>
    (s.label === "not_computed") === (s.score === null) ||
    "score must be null exactly when the label is not_computed"
  )
)

/** What the model must answer; fields it adds beyond these are ignored. */
export const Answer = Schema.Struct({
  rationale: Schema.String.pipe(Schema.maxLength(limits.rationale)),
  sentiment: AnswerSentiment,
  language: AnswerLanguage,
  topics: Schema.Array(
    Schema.Struct({ topic: Schema.Literal(...topicIds), confidence: Unit })
  ).pipe(Schema.maxItems(limits.topics)),
  hashtags: Texts(limits.tags),
  mentions: Texts(limits.tags),
  emoji: Schema.Array(Emoji).pipe(Schema.maxItems(limits.emoji)),
  entities: Schema.Array(
    Schema.Struct({ text: Text, type: Schema.String.pipe(Schema.maxLength(40)) })
  ).pipe(Schema.maxItems(limits.entities)),
  keywords: Texts(limits.keywords),
  brandSafety: Schema.Array(
    Schema.Struct({
      category: Schema.Literal(...brandSafetyCategories),
      terms: Texts(limits.terms)
    })
  ).pipe(Schema.maxItems(brandSafetyCategories.length))
})
export type Answer = typeof Answer.Type

const decodeAnswer = Schema.decodeUnknownEither(Answer)

const fence = /```[a-zA-Z]*[ \t]*\r?\n?([\s\S]*?)```/

/**
 * The JSON text of an answer: the content of the first markdown code fence
 * when there is one ("```json\n{...}\n```", prose around it allowed),
 * otherwise the whole content.
 */
export const jsonText = (content: string): string => {
  const fenced = fence.exec(content)
  return (fenced === null ? content : fenced[1]!).trim()
}

const clip = (text: string, max: number) =>
  text.length <= max ? text : `${text.slice(0, max)}…`

const RATIONALE_MAX = 500

/** The first of each key, in order: a topic named twice counts once. */
const distinctBy = <A>(items: ReadonlyArray<A>, key: (a: A) => string): Array<A> => {
  const seen = new Set<string>()
  return items.filter((a) => !seen.has(key(a)) && seen.add(key(a)) !== undefined)
}

/**
 * The analysis in a message content, or why it is not one. The rationale
 * is kept as the sentiment's reason, cut to 500 characters; a topic, emoji
 * or brand-safety category named more than once is kept once (the first).
 */
export const decode = (content: string): Either.Either<AnalysisResult, string> => {
  const text = jsonText(content)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Either.left(`answer is not JSON: ${clip(JSON.stringify(text), 120)}`)
  }
  return decodeAnswer(json).pipe(
    Either.mapLeft((error) => {
      const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
        .slice(0, 3)
        .map((i) => `${i.path.length === 0 ? "answer" : i.path.join(".")}: ${i.message}`)
      return `answer does not fit the schema: ${clip(issues.join("; "), 300)}`
    }),
    Either.map((answer) =>
      new AnalysisResult({
        sentiment: {
          label: answer.sentiment.label,
          score: answer.sentiment.score,
          reason: clip(answer.rationale.trim(), RATIONALE_MAX) || null
        },
        language: answer.language,
        topics: distinctBy(answer.topics, (t) => t.topic),
        hashtags: answer.hashtags,
        mentions: answer.mentions,
        emoji: distinctBy(answer.emoji, (e) => e),
        entities: answer.entities,
        keywords: answer.keywords,
        brandSafety: distinctBy(answer.brandSafety, (f) => f.category)
      })
    )
  )
}
