/**
 * The model's answer: found in the message content (bare, or in a markdown
 * code fence), parsed as JSON and decoded with Schema. Anything else is an
 * off-schema answer, described in one line for the recorded failure.
 */
import { Either, ParseResult, Schema } from "effect"
import { AnalysisResult, Entity, Language, SentimentLabel } from "../../Domain.js"
import { brandSafetyCategories } from "../BrandSafety.js"
import { topicIds } from "./Prompt.js"

const Unit = Schema.Number.pipe(Schema.between(0, 1))

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
  rationale: Schema.String,
  sentiment: AnswerSentiment,
  language: Language,
  topics: Schema.Array(
    Schema.Struct({ topic: Schema.Literal(...topicIds), confidence: Unit })
  ),
  hashtags: Schema.Array(Schema.String),
  mentions: Schema.Array(Schema.String),
  emoji: Schema.Array(Schema.String),
  entities: Schema.Array(Entity),
  keywords: Schema.Array(Schema.String),
  brandSafety: Schema.Array(
    Schema.Struct({
      category: Schema.Literal(...brandSafetyCategories),
      terms: Schema.Array(Schema.String)
    })
  )
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

/**
 * The analysis in a message content, or why it is not one. The rationale
 * is kept as the sentiment's reason, cut to 500 characters.
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
        topics: answer.topics,
        hashtags: answer.hashtags,
        mentions: answer.mentions,
        emoji: answer.emoji,
        entities: answer.entities,
        keywords: answer.keywords,
        brandSafety: answer.brandSafety
      })
    )
  )
}
