/**
 * Brand-safety flags: terms in a post that an advertiser may not want
 * next to its brand, by category. Profanity combines the obscenity
 * package's English list (which also catches disguised spellings such as
 * "fuuuck" or "sh1t") with the project's own list of insults and swear
 * words; every other category is a list the project keeps here.
 * docs/analyzer.md lists the categories; keep the two in step.
 *
 * The lists are written from general knowledge. The profanity list was
 * checked against the TweetEval offensive training split, dropping words
 * that were more often in inoffensive tweets than not; no test data was
 * used.
 */
import type { BrandSafetyFlag } from "../Domain.js"
import type { Profanity } from "./Models.js"

export const brandSafetyCategories = [
  "adult",
  "alcohol",
  "drugs",
  "gambling",
  "hate",
  "profanity",
  "tobacco",
  "violence",
  "weapons"
] as const
export type BrandSafetyCategory = typeof brandSafetyCategories[number]

const words = (text: string): ReadonlyArray<string> => text.trim().split(/\s+/)

/**
 * The project's lists. A term of letters only is matched as a word, any
 * other ("happy hour", "ar-15", "9mm") against the text.
 */
const terms: Readonly<Record<BrandSafetyCategory, ReadonlyArray<string>>> = {
  adult: [
    ...words(`porn porno nsfw nude nudes naked xxx onlyfans stripper
      escort escorts erotic fetish bdsm camgirl`),
    "strip club", "sex tape"
  ],
  alcohol: [
    ...words(`beer beers wine wines vodka whiskey whisky tequila rum gin
      champagne prosecco cocktail cocktails margarita mojito sangria cider
      lager ipa brewery bourbon scotch liquor booze drunk hangover tipsy
      pub mimosa bartender soju mezcal brandy cognac hennessy heineken
      budweiser aperol spritz craftbeer winery`),
    "happy hour", "wine tasting", "craft beer"
  ],
  drugs: [
    ...words(`weed marijuana cannabis cocaine heroin meth mdma ecstasy lsd
      shrooms psilocybin ketamine xanax oxycontin fentanyl opioid opioids
      stoned bong thc edibles overdose narcotics drugs stoner`),
    "drug dealer", "get high", "getting high", "smoke weed"
  ],
  gambling: [
    ...words(`casino casinos poker blackjack roulette slots betting
      sportsbook bookie jackpot lottery gamble gambling wager parlay
      baccarat bet365 draftkings fanduel`),
    "slot machine", "free spins", "place your bets"
  ],
  hate: [
    ...words(`subhuman untermensch raghead towelhead wetback beaner spic
      gook coon jigaboo kkk shemale`),
    "white power", "heil hitler", "sieg heil", "porch monkey",
    "go back to your country", "white genocide"
  ],
  profanity: [
    ...words(`idiot idiots idiotic idiocy moron morons moronic stupid
      stupidity dumb dumbass dumbest imbecile cretin fool fools loser losers
      pathetic disgusting disgrace disgraceful scum scumbag scumbags trash
      garbage clown clowns jerk jackass asshole assholes douche douchebag
      pig pigs coward cowards liar liars hypocrite hypocrites hypocritical
      traitor traitors thug thugs psycho psychopath sociopath nutjob
      nutcase deranged ignorant brainless brainwashed incompetent useless
      worthless shameful shameless creep pervert perv slimy slimeball
      dirtbag lowlife degenerate parasite crook crooked despicable
      deplorable filthy ugly hag bimbo skank hoe hoes thot libtard
      libtards leftard feminazi commie crap stfu gtfo wtf damn dammit
      goddamn hell sucks suck fck fuk mofo wanker tosser twit dimwit
      halfwit nitwit dipshit dolt buffoon sheeple gross nasty rubbish`),
    "shut up", "go to hell", "screw you", "piece of shit", "kiss my"
  ],
  tobacco: [
    ...words(`cigarette cigarettes cigar cigars tobacco nicotine vape vaping
      vaper juul hookah shisha marlboro snus`),
    "e-cigarette", "chewing tobacco"
  ],
  violence: [
    ...words(`kill killed killing murder murdered murderer shooting stab
      stabbed stabbing assault bombing terrorist terrorism massacre
      beheading torture rape raped violence violent gore execution hostage
      kidnap kidnapped genocide lynching bloodshed`),
    "beat up", "shot dead", "gunned down", "kill yourself",
    "terrorist attack"
  ],
  weapons: [
    ...words(`gun guns rifle rifles pistol handgun shotgun ammo ammunition
      firearm firearms ar15 ak47 glock bullet bullets grenade sniper
      machete revolver 9mm nra explosives`),
    "ar-15", "ak-47", "assault rifle", "concealed carry"
  ]
}

/**
 * Hashtag beginnings per category: "beer" matches #beerlover. Kept apart
 * from the terms, since many terms begin ordinary words ("gore" in
 * #gorgeous, "meth" in #method, "heroin" in #heroine).
 */
const hashtagStems: Readonly<
  Record<BrandSafetyCategory, ReadonlyArray<string>>
> = {
  adult: ["porn", "nsfw", "nude", "onlyfans", "xxx"],
  alcohol: [
    "beer", "wine", "cocktail", "whisk", "vodka", "tequila", "craftbeer",
    "drunk", "booze", "champagne", "prosecco", "happyhour"
  ],
  drugs: ["weed", "cannabis", "marijuana", "stoner", "420"],
  gambling: ["casino", "poker", "betting", "gambl", "jackpot"],
  hate: ["whitepower", "whitegenocide"],
  profanity: [],
  tobacco: ["cigar", "vape", "vaping", "hookah", "shisha", "tobacco"],
  violence: ["murder", "massacre", "terroris", "genocide"],
  weapons: ["guns", "firearm", "rifle", "pistol", "ammo", "2a"]
}

/** Categories for each word of obscenity's English list, by its root. */
const obscenityCategories: Readonly<
  Record<string, ReadonlyArray<BrandSafetyCategory>>
> = {
  abo: ["hate"], abeed: ["hate"], africoon: ["hate"], arabush: ["hate"],
  boonga: ["hate"], chingchong: ["hate"], chink: ["hate"], kike: ["hate"],
  negro: ["hate"], nigger: ["hate"], fag: ["hate"], dyke: ["hate"],
  tranny: ["hate"], retard: ["hate"], spastic: ["hate"],
  anal: ["adult"], anus: ["adult"], bestiality: ["adult"],
  buttplug: ["adult"], deepthroat: ["adult"], dildo: ["adult"],
  doggystyle: ["adult"], "double penetration": ["adult"],
  ejaculate: ["adult"], felch: ["adult"], fellatio: ["adult"],
  "finger bang": ["adult"], fisting: ["adult"], gangbang: ["adult"],
  hentai: ["adult"], hooker: ["adult"], incest: ["adult"],
  lubejob: ["adult"], masturbate: ["adult"], orgasm: ["adult"],
  orgy: ["adult"], penis: ["adult"], porn: ["adult"], scat: ["adult"],
  semen: ["adult"], sex: ["adult"], vagina: ["adult"],
  rape: ["violence"],
  blowjob: ["adult", "profanity"], handjob: ["adult", "profanity"],
  "jerk off": ["adult", "profanity"], jizz: ["adult", "profanity"],
  cum: ["adult", "profanity"], cock: ["adult", "profanity"],
  dick: ["adult", "profanity"], pussy: ["adult", "profanity"],
  boob: ["adult", "profanity"], tit: ["adult", "profanity"]
}

const isWord = (term: string): boolean => /^\p{L}+$/u.test(term)

const compiled = brandSafetyCategories.map((category) => {
  const list = terms[category]
  return {
    category,
    words: new Set(list.filter(isWord)),
    stems: hashtagStems[category],
    phrases: list.filter((t) => !isWord(t))
  }
})

export interface BrandSafetyInput {
  /** The text, already through `normalizeText`. */
  readonly text: string
  /** Lower-case words and lemmas of the text. */
  readonly terms: ReadonlySet<string>
  /** Hashtags without "#". */
  readonly hashtags: ReadonlyArray<string>
}

/**
 * The brand-safety flags of a post, by category in alphabetical order,
 * each with the distinct terms that raised it. A word matches a list term
 * or its lemma does; a hashtag matches a term it equals or a hashtag stem
 * it begins with (#beerlover raises "#beer"); a term that is not a single
 * word matches the lower-cased text word for word.
 */
export const brandSafetyOf = (
  profanity: Profanity,
  input: BrandSafetyInput
): Array<BrandSafetyFlag> => {
  const found = new Map<BrandSafetyCategory, Set<string>>()
  const add = (category: BrandSafetyCategory, term: string) => {
    const set = found.get(category) ?? new Set<string>()
    set.add(term)
    found.set(category, set)
  }

  for (const match of profanity.matcher.getAllMatches(input.text, true)) {
    const root = profanity.dataset
      .getPayloadWithPhraseMetadata(match).phraseMetadata?.originalWord
    if (root === undefined) continue
    for (const category of obscenityCategories[root] ?? ["profanity"]) {
      add(category, root)
    }
  }

  const tags = input.hashtags.map((h) => h.toLowerCase())
  const lower = ` ${input.text.toLowerCase().replace(/[^\p{L}\p{N}'-]+/gu, " ")} `
  for (const list of compiled) {
    for (const term of input.terms) {
      if (list.words.has(term)) add(list.category, term)
    }
    for (const tag of tags) {
      if (list.words.has(tag)) add(list.category, tag)
      const stem = list.stems.find((p) => tag.startsWith(p))
      if (stem !== undefined) add(list.category, `#${stem}`)
    }
    for (const phrase of list.phrases) {
      if (lower.includes(` ${phrase} `)) add(list.category, phrase)
    }
  }

  return brandSafetyCategories
    .filter((category) => found.has(category))
    .map((category) => ({ category, terms: [...found.get(category)!] }))
}
