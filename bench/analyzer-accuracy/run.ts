/**
 * Accuracy of the embedded analyzer on public labelled tweets, against
 * fixed targets. Run from the project root:
 *
 *     npx tsx bench/analyzer-accuracy/run.ts
 *
 * Reads ../shared/data/labeled (relative to the project root), writes
 * results.md and results.json next to this file, and exits non-zero if
 * the VADER self-check fails. README.md describes each figure.
 *
 * With `--analyzer openai [--limit N] [--out DIR]` it measures the
 * OpenAI-compatible analyzer instead, against the endpoint the
 * PROFILE_INSIGHTS_OPENAI_* variables name, on a sample of each data set,
 * and writes results-<model>.md and .json (see Endpoint.ts).
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import vader from "vader-sentiment"
import winkSentiment from "wink-sentiment"
import { EmbeddedAnalyzer } from "../../src/analyzer/EmbeddedAnalyzer.js"
import { neutralBand } from "../../src/analyzer/Sentiment.js"
import { type AnalysisResult, Post } from "../../src/Domain.js"
import { type Labelled, lines, tweetEval, vaderTweets, xlmt } from "./Data.js"
import * as Endpoint from "./Endpoint.js"
import { macroF1, macroRecall, paragraph, pearson, round } from "./Metrics.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../..")
const mode = Endpoint.parseArguments(process.argv.slice(2))

const targets = {
  vaderPearson: 0.77,
  sentimentMacroRecall: 0.58,
  offensiveMacroF1: 0.67,
  languageAccuracy: 0.95
}

const vaderRows = vaderTweets()

// ---------------------------------------------------------------------------
// Self-check: the vader-sentiment package must reproduce its published r

const vaderR = pearson(
  vaderRows.map((r) => r.truth),
  vaderRows.map((r) =>
    vader.SentimentIntensityAnalyzer.polarity_scores(r.text).compound
  )
)
console.log(`self-check: vader-sentiment r = ${vaderR.toFixed(4)} (expected 0.879)`)
if (Math.abs(vaderR - 0.879) > 0.01) {
  console.error("self-check FAILED: the data or the metric is not what it should be")
  process.exit(1)
}

if (mode.analyzer === "openai") {
  await Endpoint.run(mode, { vaderSentimentR: round(vaderR), targets })
  process.exit()
}

// ---------------------------------------------------------------------------
// The analyzer

const analyzer = await Effect.runPromise(EmbeddedAnalyzer.make)
let analysed = 0
let analysisMillis = 0

const analyze = (caption: string): AnalysisResult => {
  const post = new Post({
    id: `bench-${analysed}`,
    profileId: "bench",
    platformPostId: `${analysed}`,
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
  const start = performance.now()
  const result = Effect.runSync(analyzer.analyze(post))
  analysisMillis += performance.now() - start
  analysed++
  return result
}

/** Sentiment as a TweetEval class: 0 negative, 1 neutral, 2 positive. */
const sentimentClass = (r: AnalysisResult, band: number): number => {
  const score = r.sentiment.score
  if (score === null) return 1
  return score > band ? 2 : score < -band ? 0 : 1
}

/** Offensive when a profanity or hate brand-safety flag is raised. */
const offensive = (r: AnalysisResult): number =>
  r.brandSafety.some((f) =>
      f.category === "profanity" || f.category === "hate"
    ) ? 1 : 0

// VADER ground truth: Pearson r of the score; not computed counts as 0.
const vaderResults = vaderRows.map((r) => analyze(r.text))
const vaderFigure = {
  r: round(pearson(
    vaderRows.map((r) => r.truth),
    vaderResults.map((r) => r.sentiment.score ?? 0)
  )),
  tweets: vaderRows.length,
  notComputed: vaderResults.filter((r) => r.sentiment.score === null).length
}
console.log(`vader: r = ${vaderFigure.r}`)

// TweetEval sentiment: the neutral band is tuned on val, scored on test.
const bands = Array.from({ length: 21 }, (_, i) => i / 100)
const sentimentVal = tweetEval("sentiment", "val")
const valResults = sentimentVal.texts.map(analyze)
const bandSweep = bands.map((band) => ({
  band,
  macroRecall: round(macroRecall(
    sentimentVal.labels,
    valResults.map((r) => sentimentClass(r, band)),
    [0, 1, 2]
  ))
}))
const bestBand = bandSweep.reduce((a, b) =>
  b.macroRecall > a.macroRecall ? b : a
)
const sentimentTest = tweetEval("sentiment", "test")
const testResults = sentimentTest.texts.map(analyze)
const sentimentFigure = {
  macroRecall: round(macroRecall(
    sentimentTest.labels,
    testResults.map((r) => sentimentClass(r, neutralBand)),
    [0, 1, 2]
  )),
  valMacroRecall: round(macroRecall(
    sentimentVal.labels,
    valResults.map((r) => sentimentClass(r, neutralBand)),
    [0, 1, 2]
  )),
  shippedBand: neutralBand,
  valBestBand: bestBand.band,
  tweets: sentimentTest.texts.length,
  notComputed: testResults.filter((r) => r.sentiment.score === null).length
}
console.log(`tweeteval sentiment: macro-recall = ${sentimentFigure.macroRecall}`)

/** Plain wink-sentiment, labelled by the sign of its normalized score. */
const winkBaseline = (data: Labelled) =>
  round(macroRecall(
    data.labels,
    data.texts.map((t) => Math.sign(winkSentiment(t).normalizedScore) + 1),
    [0, 1, 2]
  ))
const baseline = {
  vaderR: round(pearson(
    vaderRows.map((r) => r.truth),
    vaderRows.map((r) => winkSentiment(r.text).normalizedScore)
  )),
  val: winkBaseline(sentimentVal),
  test: winkBaseline(sentimentTest)
}

// TweetEval offensive: the rule is fixed; train and val show how it was chosen.
const offensiveF1 = (data: Labelled) =>
  round(macroF1(data.labels, data.texts.map((t) => offensive(analyze(t)))))
const offensiveTest = tweetEval("offensive", "test")
const offensiveFigure = {
  macroF1: offensiveF1(offensiveTest),
  tweets: offensiveTest.texts.length,
  trainMacroF1: offensiveF1(tweetEval("offensive", "train")),
  valMacroF1: offensiveF1(tweetEval("offensive", "val"))
}
console.log(`tweeteval offensive: macro-F1 = ${offensiveFigure.macroF1}`)

// XLM-T: language identification; "und" counts as wrong.
const byLanguage = Object.entries(xlmt).map(([folder, code]) => {
  const codes = lines(`xlmt/${folder}/test_text.txt`)
    .map((t) => analyze(t).language.code)
  return {
    folder,
    code,
    tweets: codes.length,
    correct: codes.filter((c) => c === code).length,
    und: codes.filter((c) => c === "und").length
  }
})
const languageFigure = {
  accuracy: round(
    byLanguage.reduce((n, l) => n + l.correct, 0) /
      byLanguage.reduce((n, l) => n + l.tweets, 0)
  ),
  byLanguage: byLanguage.map((l) => ({
    ...l,
    accuracy: round(l.correct / l.tweets)
  }))
}
const hindiCodes = lines("xlmt/hindi/test_text.txt")
  .map((t) => analyze(t).language.code)
const hindiCounts = new Map<string, number>()
for (const c of hindiCodes) hindiCounts.set(c, (hindiCounts.get(c) ?? 0) + 1)
const hindiFigure = {
  tweets: hindiCodes.length,
  hi: round(hindiCodes.filter((c) => c === "hi").length / hindiCodes.length),
  und: round(hindiCodes.filter((c) => c === "und").length / hindiCodes.length),
  top: [...hindiCounts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([code, n]) => ({ code, share: round(n / hindiCodes.length) }))
}
console.log(`xlm-t language id: accuracy = ${languageFigure.accuracy}`)

// ---------------------------------------------------------------------------
// Report

const figures = {
  analyzer: { id: analyzer.id, version: analyzer.version },
  selfCheck: { vaderSentimentR: round(vaderR), expected: 0.879 },
  vader: vaderFigure,
  tweetEvalSentiment: { ...sentimentFigure, valBandSweep: bandSweep },
  winkSentimentBaseline: baseline,
  tweetEvalOffensive: offensiveFigure,
  languageId: languageFigure,
  romanisedHindi: hindiFigure,
  speed: { posts: analysed, millisPerPost: round(analysisMillis / analysed, 3) },
  targets
}
fs.writeFileSync(
  path.join(here, "results.json"),
  JSON.stringify(figures, null, 2) + "\n"
)

const met = (value: number, target: number) =>
  value >= target
    ? `met (+${round(value - target)})`
    : `**missed by ${round(target - value)}**`
const percent = (n: number) => `${(n * 100).toFixed(1)}%`
const points = (n: number) => (n * 100).toFixed(1)
const row = (cells: ReadonlyArray<string | number>) => `| ${cells.join(" | ")} |`
const xlmtTweets = byLanguage.reduce((n, l) => n + l.tweets, 0)

const bullet = (...parts: ReadonlyArray<string>): string =>
  paragraph(...parts)
    .split("\n")
    .map((line, i) => (i === 0 ? "- " : "  ") + line)
    .join("\n")

const margins = [
  ["VADER r", vaderFigure.r - targets.vaderPearson],
  [
    "TweetEval sentiment",
    sentimentFigure.macroRecall - targets.sentimentMacroRecall
  ],
  ["TweetEval offensive", offensiveFigure.macroF1 - targets.offensiveMacroF1],
  ["language id", languageFigure.accuracy - targets.languageAccuracy]
] as const
const negativeShare = (data: Labelled) =>
  data.labels.filter((l) => l === 0).length / data.labels.length
const valGain = points(sentimentFigure.valMacroRecall - baseline.val)
const testGain = points(sentimentFigure.macroRecall - baseline.test)
const whyThin: Record<(typeof margins)[number][0], string> = {
  "VADER r": "",
  "TweetEval sentiment": [
    `Against plain wink-sentiment (macro-recall val ${baseline.val}, test`,
    `${baseline.test}), the analyzer's rules gain ${valGain} points on the`,
    `val split but ${testGain} on test, whose tweets are more often`,
    `negative (${percent(negativeShare(sentimentTest))} against`,
    `${percent(negativeShare(sentimentVal))} on val), often in ways a`,
    "lexicon does not see (sarcasm, negative facts)."
  ].join(" "),
  "TweetEval offensive": "",
  "language id": [
    "Language id loses most on German, where many tweets are in English or",
    "are hashtags only, and on short tweets the analyzer calls \"und\" by",
    "design."
  ].join(" ")
}
const thin = margins.filter(([, margin]) => margin >= 0 && margin < 0.01)

const markdown = [
  "# Analyzer accuracy: results",
  "",
  paragraph(
    "Written by `npx tsx bench/analyzer-accuracy/run.ts`; do not edit by",
    `hand. Analyzer \`${analyzer.id}\`, version \`${analyzer.version}\`.`
  ),
  "",
  paragraph(
    `Self-check: the vader-sentiment package scores r = ${round(vaderR)} on`,
    "the VADER tweets (published 0.879, tolerance 0.01), so the data and",
    "the metric are sound."
  ),
  "",
  row(["Figure", "Data (split)", "Value", "Target", "Result"]),
  row(["---", "---", "---", "---", "---"]),
  row([
    "Pearson r, sentiment score vs mean human rating",
    `VADER tweets (${vaderFigure.tweets})`,
    vaderFigure.r,
    targets.vaderPearson,
    met(vaderFigure.r, targets.vaderPearson)
  ]),
  row([
    "Macro-recall, sentiment",
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
  "## What was tuned, and on what",
  "",
  "Nothing was tuned on a test split.",
  "",
  bullet(
    "Sentiment: the neutral band is tuned on the TweetEval sentiment",
    `**val** split. Shipped band ${neutralBand}; the val-best band is`,
    `${bestBand.band} (val macro-recall ${bestBand.macroRecall}; the shipped`,
    `band scores ${sentimentFigure.valMacroRecall} on val). The rules and`,
    "word lists in src/analyzer/Sentiment.ts were written from general",
    "knowledge and kept when they helped on the val split; the VADER r was",
    "watched so that no rule lowered it."
  ),
  bullet(
    "Offensive: a post is offensive when it raises the `profanity` or",
    "`hate` brand-safety flag. The project's word lists were written from",
    "general knowledge and checked on the offensive **train** split",
    `(macro-F1 train ${offensiveFigure.trainMacroF1},`,
    `val ${offensiveFigure.valMacroF1}).`
  ),
  bullet(
    "Language id: no tuning; eld's own reliability test and a fixed",
    "minimum of prose (8 letters and 3 words)."
  ),
  "",
  paragraph(
    "Where the analyzer does not compute a sentiment (text it does not read",
    "as English), the VADER figure counts a score of 0 and TweetEval a",
    `neutral label: ${vaderFigure.notComputed} of ${vaderFigure.tweets} VADER`,
    `tweets and ${sentimentFigure.notComputed} of ${sentimentFigure.tweets}`,
    "TweetEval test tweets."
  ),
  ...(thin.length === 0 ? [] : [
    "",
    "## Thin margins",
    "",
    paragraph(
      thin.map(([name, m]) => `${name} (+${round(m)})`).join(", "),
      "clear their targets by less than 0.01.",
      ...thin.map(([name]) => whyThin[name])
    )
  ]),
  "",
  "## Language id by language (XLM-T test; \"und\" counts as wrong)",
  "",
  row(["Language", "Tweets", "Accuracy", "\"und\""]),
  row(["---", "---", "---", "---"]),
  ...languageFigure.byLanguage.map((l) =>
    row([`${l.folder} (${l.code})`, l.tweets, l.accuracy, l.und])
  ),
  "",
  paragraph(
    "Romanised Hindi, reported apart since eld reads Hindi in Devanagari",
    `only: ${hindiFigure.tweets} tweets, ${percent(hindiFigure.hi)} "hi",`,
    `${percent(hindiFigure.und)} "und"; most frequent answers`,
    hindiFigure.top.map((t) => `${t.code} ${percent(t.share)}`).join(", ") + "."
  ),
  "",
  "## Speed",
  "",
  paragraph(
    `${analysed} posts in ${Math.round(analysisMillis)} ms of analysis,`,
    `${figures.speed.millisPerPost} ms per post on the machine that ran it.`
  ),
  ""
].join("\n")
fs.writeFileSync(path.join(here, "results.md"), markdown)
console.log(`wrote ${path.relative(root, path.join(here, "results.md"))}`)
