/**
 * The accuracy benchmark's second mode: the OpenAI-compatible analyzer
 * against any endpoint, on an evenly spread sample of each data set.
 *
 *     PROFILE_INSIGHTS_OPENAI_BASE_URL=http://127.0.0.1:11434/v1 \
 *     PROFILE_INSIGHTS_OPENAI_MODEL=llama3.1:8b \
 *     npx tsx bench/analyzer-accuracy/run.ts --analyzer openai --limit 200
 *
 * Every PROFILE_INSIGHTS_OPENAI_* variable applies (docs/llm-analyzer.md);
 * _API_KEY is sent as a bearer token and never written anywhere. The
 * figures are the embedded run's four, against the same targets, on the
 * same test splits; a post the analyzer fails on counts as it would for
 * the embedded analyzer's "not computed" (score 0, neutral, not offensive,
 * language wrong), and the failures are listed. Nothing is tuned, so no
 * val or train split is read. Writes results-<model>.md and .json next
 * to this file, or in --out DIR.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as OpenAiAnalyzer from "../../src/analyzer/OpenAiAnalyzer.js"
import { type AnalysisResult, Post } from "../../src/Domain.js"
import type { AnalyzerError } from "../../src/Errors.js"
import * as Usage from "../../src/Usage.js"
import { lines, tweetEval, vaderTweets, xlmt } from "./Data.js"
import { macroF1, macroRecall, paragraph, pearson, round } from "./Metrics.js"

const here = path.dirname(fileURLToPath(import.meta.url))

export interface Mode {
  readonly analyzer: "embedded" | "openai"
  /** Texts per data set (XLM-T: over its seven languages together). */
  readonly limit: number
  readonly out: string
}

const usage = "usage: run.ts [--analyzer embedded|openai] [--limit N|all] [--out DIR]"

export const parseArguments = (args: ReadonlyArray<string>): Mode => {
  let analyzer: Mode["analyzer"] = "embedded"
  let limit = 200
  let out = here
  for (let i = 0; i < args.length; i++) {
    const [flag, value] = [args[i], args[i + 1]]
    if (flag === "--analyzer" && (value === "embedded" || value === "openai")) {
      analyzer = value
    } else if (flag === "--limit" && value === "all") {
      limit = Infinity
    } else if (flag === "--limit" && value !== undefined && /^[1-9]\d*$/.test(value)) {
      limit = Number(value)
    } else if (flag === "--out" && value !== undefined) {
      out = path.resolve(value)
    } else {
      console.error(usage)
      process.exit(2)
    }
    i++
  }
  return { analyzer, limit, out }
}

/** At most `limit` items, spread evenly over the whole list, in order. */
export const sample = <A>(items: ReadonlyArray<A>, limit: number): Array<A> =>
  items.length <= limit
    ? [...items]
    : Array.from({ length: limit }, (_, i) => items[Math.floor((i * items.length) / limit)]!)

const post = (caption: string, n: number) =>
  new Post({
    id: `bench-${n}`,
    profileId: "bench",
    platformPostId: `${n}`,
    caption,
    hashtags: [],
    mentions: [],
    mediaType: "text",
    likes: 0,
    comments: 0,
    views: null,
    postedAt: new Date(0),
    url: null
  })

type Outcome = Either.Either<AnalysisResult, AnalyzerError>

const sentimentClass = (o: Outcome): number =>
  Either.match(o, {
    onLeft: () => 1,
    onRight: (r) =>
      r.sentiment.label === "positive" ? 2 : r.sentiment.label === "negative" ? 0 : 1
  })

const offensive = (o: Outcome): number =>
  Either.isRight(o) &&
    o.right.brandSafety.some((f) => f.category === "profanity" || f.category === "hate")
    ? 1
    : 0

const languageOf = (o: Outcome): string =>
  Either.isRight(o) ? o.right.language.code : "(failed)"

export const run = async (
  mode: Mode,
  context: {
    readonly vaderSentimentR: number
    readonly targets: {
      readonly vaderPearson: number
      readonly sentimentMacroRecall: number
      readonly offensiveMacroF1: number
      readonly languageAccuracy: number
    }
  }
) => {
  const { targets } = context
  const vader = sample(vaderTweets(), mode.limit)
  const sentiment = tweetEval("sentiment", "test")
  const sentimentIdx = sample(sentiment.texts.map((_, i) => i), mode.limit)
  const offensiveSet = tweetEval("offensive", "test")
  const offensiveIdx = sample(offensiveSet.texts.map((_, i) => i), mode.limit)
  const perLanguage = Math.ceil(mode.limit / Object.keys(xlmt).length)
  const languages = Object.entries(xlmt).map(([folder, code]) => ({
    folder,
    code,
    texts: sample(lines(`xlmt/${folder}/test_text.txt`), perLanguage)
  }))

  const texts = [
    ...vader.map((r) => r.text),
    ...sentimentIdx.map((i) => sentiment.texts[i]!),
    ...offensiveIdx.map((i) => offensiveSet.texts[i]!),
    ...languages.flatMap((l) => l.texts)
  ]

  const program = Effect.gen(function* () {
    const options = yield* OpenAiAnalyzer.config
    const analyzer = yield* OpenAiAnalyzer.make(options)
    console.log(
      `analyzer ${analyzer.id} ${analyzer.version} at ${options.baseUrl}: ${texts.length} texts`
    )
    const started = performance.now()
    let finished = 0
    const outcomes = yield* Effect.forEach(
      texts,
      (text, n) =>
        Effect.either(analyzer.analyze(post(text, n))).pipe(
          Effect.tap(() =>
            Effect.sync(() => {
              finished++
              if (finished % 50 === 0) console.log(`  ${finished}/${texts.length}`)
            })
          )
        ),
      { concurrency: (options.concurrency ?? 4) * 2 }
    )
    return {
      analyzer,
      options,
      outcomes,
      millis: performance.now() - started
    }
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))

  const { analyzer, options, outcomes, millis } = await Effect.runPromise(program)

  let at = 0
  const take = (n: number) => outcomes.slice(at, (at += n))
  const vaderOut = take(vader.length)
  const sentimentOut = take(sentimentIdx.length)
  const offensiveOut = take(offensiveIdx.length)
  const languageOut = languages.map((l) => ({ ...l, outcomes: take(l.texts.length) }))

  const vaderFigure = {
    r: round(pearson(
      vader.map((r) => r.truth),
      vaderOut.map((o) => (Either.isRight(o) ? o.right.sentiment.score ?? 0 : 0))
    )),
    tweets: vader.length
  }
  const sentimentFigure = {
    macroRecall: round(macroRecall(
      sentimentIdx.map((i) => sentiment.labels[i]!),
      sentimentOut.map(sentimentClass),
      [0, 1, 2]
    )),
    tweets: sentimentIdx.length
  }
  const offensiveFigure = {
    macroF1: round(macroF1(
      offensiveIdx.map((i) => offensiveSet.labels[i]!),
      offensiveOut.map(offensive)
    )),
    tweets: offensiveIdx.length
  }
  const byLanguage = languageOut.map((l) => {
    const correct = l.outcomes.filter((o) => languageOf(o) === l.code).length
    return {
      folder: l.folder,
      code: l.code,
      tweets: l.texts.length,
      correct,
      accuracy: round(correct / l.texts.length)
    }
  })
  const xlmtTweets = byLanguage.reduce((n, l) => n + l.tweets, 0)
  const languageFigure = {
    accuracy: round(byLanguage.reduce((n, l) => n + l.correct, 0) / xlmtTweets),
    tweets: xlmtTweets,
    byLanguage
  }
  const failures = new Map<string, number>()
  for (const o of outcomes) {
    if (Either.isLeft(o)) failures.set(o.left.reason, (failures.get(o.left.reason) ?? 0) + 1)
  }
  const spent = Usage.total(
    outcomes.flatMap((o) => (Either.isRight(o) && o.right.usage ? [o.right.usage] : []))
  )

  const figures = {
    analyzer: { id: analyzer.id, version: analyzer.version },
    endpoint: { baseUrl: options.baseUrl, model: options.model },
    limit: Number.isFinite(mode.limit) ? mode.limit : "all",
    selfCheck: { vaderSentimentR: context.vaderSentimentR, expected: 0.879 },
    vader: vaderFigure,
    tweetEvalSentiment: sentimentFigure,
    tweetEvalOffensive: offensiveFigure,
    languageId: languageFigure,
    failures: Object.fromEntries(failures),
    usage: spent._tag === "Some" ? spent.value : null,
    speed: {
      posts: outcomes.length,
      seconds: round(millis / 1000, 1),
      postsPerSecond: round(outcomes.length / (millis / 1000), 2)
    },
    targets
  }

  const slug = options.model.replace(/[^A-Za-z0-9._-]+/g, "-")
  fs.mkdirSync(mode.out, { recursive: true })
  const jsonFile = path.join(mode.out, `results-${slug}.json`)
  const mdFile = path.join(mode.out, `results-${slug}.md`)
  fs.writeFileSync(jsonFile, JSON.stringify(figures, null, 2) + "\n")

  const met = (value: number, target: number) =>
    value >= target
      ? `met (+${round(value - target)})`
      : `**missed by ${round(target - value)}**`
  const row = (cells: ReadonlyArray<string | number>) => `| ${cells.join(" | ")} |`
  const failed = outcomes.length - outcomes.filter(Either.isRight).length
  const markdown = [
    `# Analyzer accuracy: ${options.model}`,
    "",
    paragraph(
      "Written by `npx tsx bench/analyzer-accuracy/run.ts --analyzer openai`;",
      `do not edit by hand. Analyzer \`${analyzer.id}\`, version`,
      `\`${analyzer.version}\`, at ${options.baseUrl}.`,
      Number.isFinite(mode.limit)
        ? `A sample of at most ${mode.limit} texts per data set (XLM-T:`
          + ` ${perLanguage} per language), spread evenly over each file.`
        : "Every text of each data set."
    ),
    "",
    row(["Figure", "Data (split, sample)", "Value", "Target", "Result"]),
    row(["---", "---", "---", "---", "---"]),
    row([
      "Pearson r, sentiment score vs mean human rating",
      `VADER tweets (${vaderFigure.tweets})`,
      vaderFigure.r,
      targets.vaderPearson,
      met(vaderFigure.r, targets.vaderPearson)
    ]),
    row([
      "Macro-recall, sentiment label",
      `TweetEval sentiment (test, ${sentimentFigure.tweets})`,
      sentimentFigure.macroRecall,
      targets.sentimentMacroRecall,
      met(sentimentFigure.macroRecall, targets.sentimentMacroRecall)
    ]),
    row([
      "Macro-F1, offensive",
      `TweetEval offensive (test, ${offensiveFigure.tweets})`,
      offensiveFigure.macroF1,
      targets.offensiveMacroF1,
      met(offensiveFigure.macroF1, targets.offensiveMacroF1)
    ]),
    row([
      "Language-id accuracy, 7 languages",
      `XLM-T (test, ${xlmtTweets})`,
      languageFigure.accuracy,
      targets.languageAccuracy,
      met(languageFigure.accuracy, targets.languageAccuracy)
    ]),
    "",
    paragraph(
      "Sentiment is scored on the label the model gives (not_computed counts",
      "as neutral); the VADER r on its score. Offensive means a `profanity`",
      "or `hate` brand-safety flag. Nothing was tuned; the self-check scored",
      `r = ${context.vaderSentimentR} (published 0.879).`
    ),
    "",
    "## Language id by language (\"und\" counts as wrong)",
    "",
    row(["Language", "Tweets", "Accuracy"]),
    row(["---", "---", "---"]),
    ...byLanguage.map((l) => row([`${l.folder} (${l.code})`, l.tweets, l.accuracy])),
    "",
    "## Failures, usage and speed",
    "",
    paragraph(
      `${failed} of ${outcomes.length} posts ended as a typed failure${
        failed === 0
          ? "."
          : ` (${[...failures].map(([r, n]) => `${r} ${n}`).join(", ")}), counted as not computed.`
      }`
    ),
    "",
    paragraph(
      spent._tag === "Some"
        ? `${spent.value.requests} answered requests for the analysed posts:`
          + ` ${spent.value.promptTokens} prompt and ${spent.value.completionTokens}`
          + ` completion tokens, an estimated ${spent.value.costUsd} USD at the`
          + ` configured prices (${options.promptPricePer1k ?? 0} and`
          + ` ${options.completionPricePer1k ?? 0} per 1,000).`
        : "No usage was reported.",
      `${outcomes.length} posts in ${figures.speed.seconds} s`,
      `(${figures.speed.postsPerSecond} a second) with ${options.concurrency} requests`,
      Number.isFinite(options.requestsPerMinute ?? Infinity)
        ? `at once and at most ${options.requestsPerMinute} a minute.`
        : "at once and no rate limit."
    ),
    ""
  ].join("\n")
  fs.writeFileSync(mdFile, markdown)
  console.log(`wrote ${mdFile}`)
}
