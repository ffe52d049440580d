// wink-sentiment ships no types; these cover what the analyzer uses.

declare module "wink-sentiment" {
  export interface SentimentToken {
    readonly value: string
    readonly tag: string
    readonly score?: number
    readonly negation?: boolean
    readonly grouped?: number
  }

  export interface SentimentOutput {
    readonly score: number
    readonly normalizedScore: number
    readonly tokenizedPhrase?: ReadonlyArray<SentimentToken>
  }

  function sentiment(phrase: string): SentimentOutput
  export default sentiment
}

declare module "wink-sentiment/src/emojis.js" {
  const valences: Readonly<Record<string, number>>
  export default valences
}

declare module "wink-sentiment/src/afinn-en-165.js" {
  const valences: Readonly<Record<string, number>>
  export default valences
}
