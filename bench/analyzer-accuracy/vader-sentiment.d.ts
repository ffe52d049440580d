// vader-sentiment ships no types; this covers what the benchmark uses.

declare module "vader-sentiment" {
  const vader: {
    readonly SentimentIntensityAnalyzer: {
      polarity_scores(text: string): {
        readonly neg: number
        readonly neu: number
        readonly pos: number
        readonly compound: number
      }
    }
  }
  export default vader
}
