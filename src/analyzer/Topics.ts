/**
 * The topic categories the embedded analyzer knows, and how a post is
 * mapped onto them: its words (and their lemmas) against each category's
 * keywords, its hashtags against the keywords and hashtag stems.
 * docs/analyzer.md lists the categories; keep the two in step.
 */
import type { Topic } from "../Domain.js"

export interface TopicCategory {
  /** The id stored in results, such as "food". */
  readonly topic: string
  readonly label: string
  /** Words and phrases, lower case; a word also matches its lemma. */
  readonly keywords: ReadonlyArray<string>
  /**
   * Hashtag beginnings: "food" matches #foodie and #foodporn. One of three
   * letters or fewer ("nba", "cat") matches only that hashtag.
   */
  readonly hashtagStems: ReadonlyArray<string>
}

export const categories: ReadonlyArray<TopicCategory> = [
  {
    topic: "food",
    label: "Food & drink",
    keywords: [
      "food", "recipe", "cook", "cooking", "bake", "baking", "dinner",
      "lunch", "breakfast", "brunch", "restaurant", "cafe", "coffee",
      "pizza", "pasta", "burger", "sushi", "ramen", "taco", "salad",
      "dessert", "cake", "chocolate", "bread", "cheese", "delicious",
      "yummy", "tasty", "chef", "kitchen", "meal", "snack", "vegan",
      "vegetarian", "foodie", "pancake", "noodle", "steak", "soup", "bbq",
      "barbecue", "cookie", "icecream", "ice cream", "tea", "smoothie"
    ],
    hashtagStems: [
      "food", "foodie", "yum", "yummy", "recipe", "cook", "bake", "brunch",
      "dinner", "lunch", "breakfast", "eat", "eats", "vegan", "dessert",
      "coffee", "pizza", "sushi", "chef", "homemade"
    ]
  },
  {
    topic: "travel",
    label: "Travel",
    keywords: [
      "travel", "trip", "vacation", "holiday", "flight", "airport",
      "hotel", "beach", "passport", "tourist", "tour", "journey",
      "destination", "resort", "cruise", "backpacking", "wanderlust",
      "roadtrip", "road trip", "sightseeing", "island", "abroad", "luggage"
    ],
    hashtagStems: [
      "travel", "wanderlust", "vacation", "holiday", "trip", "trips",
      "roadtrip", "beach", "passport", "tourism", "backpack", "vanlife"
    ]
  },
  {
    topic: "fitness",
    label: "Fitness",
    keywords: [
      "workout", "gym", "fitness", "exercise", "cardio",
      "squat", "yoga", "pilates", "running", "marathon", "crossfit",
      "lifting", "deadlift", "protein", "muscle", "gains", "hiit",
      "treadmill", "cycling", "personal trainer", "weightlifting"
    ],
    hashtagStems: [
      "fitness", "fitfam", "fitspo", "fitlife", "gym", "workout", "yoga",
      "run", "running", "runner", "marathon", "crossfit", "gains", "legday",
      "bodybuilding"
    ]
  },
  {
    topic: "fashion",
    label: "Fashion",
    keywords: [
      "fashion", "outfit", "dress", "shoes", "sneakers",
      "jacket", "jeans", "designer", "runway", "wardrobe", "streetwear",
      "handbag", "accessories", "ootd", "boutique", "vintage",
      "lookbook", "couture"
    ],
    hashtagStems: [
      "fashion", "ootd", "style", "outfit", "streetwear", "lookbook",
      "whatiwore", "sneaker", "vintage", "menswear", "womenswear"
    ]
  },
  {
    topic: "beauty",
    label: "Beauty",
    keywords: [
      "makeup", "skincare", "lipstick", "mascara",
      "eyeliner", "nails", "manicure", "hairstyle", "salon",
      "cosmetics", "serum", "moisturizer", "beauty", "perfume",
      "fragrance", "eyeshadow", "blush"
    ],
    hashtagStems: [
      "beauty", "makeup", "mua", "skincare", "nails", "nailart",
      "hairstyle", "hairgoals", "haircut", "lipstick", "cosmetic", "glam"
    ]
  },
  {
    topic: "technology",
    label: "Technology",
    keywords: [
      "tech", "technology", "software", "app", "smartphone", "iphone",
      "android", "laptop", "computer", "coding", "programming", "developer",
      "startup", "ai", "artificial intelligence", "robot", "gadget",
      "internet", "cybersecurity", "google", "microsoft",
      "javascript", "python"
    ],
    hashtagStems: [
      "tech", "ai", "coding", "programming", "developer", "dev", "startup",
      "gadget", "iphone", "android", "software", "machinelearning"
    ]
  },
  {
    topic: "gaming",
    label: "Gaming",
    keywords: [
      "gaming", "gamer", "videogame", "video game", "playstation", "xbox",
      "nintendo", "console", "esports", "twitch", "fortnite", "minecraft",
      "steam", "controller", "multiplayer", "speedrun", "ps5", "ps4",
      "switch game", "rpg", "streamer"
    ],
    hashtagStems: [
      "gaming", "gamer", "gameplay", "gamedev", "esports", "twitch",
      "playstation", "xbox", "nintendo", "fortnite", "minecraft", "videogame"
    ]
  },
  {
    topic: "music",
    label: "Music",
    keywords: [
      "music", "song", "album", "concert", "band", "singer", "guitar",
      "piano", "drums", "playlist", "lyrics", "festival", "dj", "rapper",
      "hip hop", "rock", "jazz", "gig", "spotify", "musician", "choir",
      "orchestra"
    ],
    hashtagStems: [
      "music", "song", "newmusic", "concert", "hiphop", "rap", "rapper",
      "rock", "jazz", "edm", "dj", "guitar", "piano", "livemusic", "spotify"
    ]
  },
  {
    topic: "sports",
    label: "Sports",
    keywords: [
      "football", "soccer", "basketball", "baseball", "hockey", "tennis",
      "golf", "cricket", "rugby", "nba", "nfl", "mlb", "nhl", "fifa",
      "league", "championship", "playoffs", "coach", "stadium", "olympics",
      "athlete", "touchdown", "world cup", "super bowl", "inning", "quarterback"
    ],
    hashtagStems: [
      "football", "soccer", "nba", "nfl", "mlb", "nhl", "basketball",
      "baseball", "hockey", "tennis", "golf", "cricket", "rugby", "sport",
      "worldcup", "superbowl", "olympic", "premierleague", "gameday"
    ]
  },
  {
    topic: "politics",
    label: "Politics",
    keywords: [
      "politics", "political", "election", "vote", "voting", "president",
      "senator", "congress", "parliament", "government", "democrat",
      "republican", "campaign", "policy", "minister", "governor",
      "legislation", "ballot", "liberal", "conservative", "trump", "obama",
      "biden", "senate", "prime minister", "referendum", "gop"
    ],
    hashtagStems: [
      "politic", "election", "vote", "maga", "gop", "democrat",
      "republican", "trump", "obama", "biden", "brexit", "congress"
    ]
  },
  {
    topic: "finance",
    label: "Finance & investing",
    keywords: [
      "finance", "money", "invest", "investing", "investment", "stock",
      "stocks", "stock market", "bitcoin", "crypto", "cryptocurrency", "trading",
      "savings", "budget", "bank", "loan", "mortgage", "dividend",
      "portfolio", "economy", "inflation", "wealth", "retirement", "tax"
    ],
    hashtagStems: [
      "finance", "invest", "stock", "bitcoin", "btc", "crypto", "trading",
      "money", "wealth", "personalfinance", "fintech", "economy"
    ]
  },
  {
    topic: "business",
    label: "Business & careers",
    keywords: [
      "business", "entrepreneur", "startup", "marketing", "brand",
      "company", "ceo", "career", "job", "hiring", "leadership",
      "sales", "customer", "conference", "networking", "linkedin", "founder"
    ],
    hashtagStems: [
      "business", "entrepreneur", "marketing", "smallbusiness", "career",
      "hiring", "leadership", "startup", "branding"
    ]
  },
  {
    topic: "parenting",
    label: "Parenting & family",
    keywords: [
      "baby", "toddler", "kids", "kid", "children", "child", "mom", "dad",
      "mum", "parent", "parenting", "pregnancy", "pregnant", "newborn",
      "daughter", "family", "nursery", "motherhood", "fatherhood",
      "school run", "bedtime"
    ],
    hashtagStems: [
      "mom", "moms", "momlife", "mommy", "mum", "mumlife", "dad", "dads",
      "dadlife", "parenting", "motherhood", "fatherhood", "baby", "toddler",
      "family", "kids", "pregnan", "newborn"
    ]
  },
  {
    topic: "pets",
    label: "Pets & animals",
    keywords: [
      "dog", "puppy", "cat", "kitten", "pet", "pets", "vet", "adopt",
      "rescue", "bird", "horse", "hamster", "bunny", "rabbit", "doggo",
      "pupper", "paw", "leash", "aquarium", "animal"
    ],
    hashtagStems: [
      "dog", "dogs", "dogsofinstagram", "doglover", "puppy", "cat", "cats",
      "catsofinstagram", "catlover", "kitten", "pet", "pets", "petsofinstagram",
      "doggo", "adoptdontshop", "animal", "meow", "woof"
    ]
  },
  {
    topic: "health",
    label: "Health & wellness",
    keywords: [
      "health", "healthy", "wellness", "mental health", "doctor",
      "hospital", "therapy", "meditation", "mindfulness", "sleep",
      "nutrition", "diet", "vitamin", "medicine", "vaccine", "anxiety",
      "selfcare", "self care", "recovery", "illness", "disease"
    ],
    hashtagStems: [
      "health", "wellness", "mentalhealth", "selfcare", "mindful",
      "meditat", "nutrition", "healthy", "wellbeing"
    ]
  },
  {
    topic: "entertainment",
    label: "Film, TV & celebrities",
    keywords: [
      "movie", "film", "cinema", "tv", "episode", "netflix",
      "trailer", "actor", "actress", "celebrity", "hollywood", "oscars",
      "premiere", "season finale", "tv show", "sitcom", "documentary",
      "anime", "marvel", "disney", "comedy", "standup"
    ],
    hashtagStems: [
      "movie", "film", "cinema", "netflix", "tv", "tvshow", "hollywood",
      "oscar", "anime", "marvel", "disney", "celeb"
    ]
  },
  {
    topic: "books",
    label: "Books & writing",
    keywords: [
      "book", "books", "novel", "reading", "author", "writer", "writing",
      "poetry", "poem", "library", "chapter", "bookstore", "literature",
      "kindle", "audiobook", "publish", "bestseller"
    ],
    hashtagStems: [
      "book", "reading", "amreading", "writing", "amwriting", "author",
      "poetry", "poem", "bookstagram", "booktok", "novel"
    ]
  },
  {
    topic: "art",
    label: "Art & design",
    keywords: [
      "art", "artist", "painting", "drawing", "sketch", "illustration",
      "design", "designer", "gallery", "museum", "exhibition", "sculpture",
      "craft", "handmade", "tattoo", "mural", "graphic design", "ceramics"
    ],
    hashtagStems: [
      "art", "artist", "artwork", "artoftheday", "painting", "drawing",
      "sketch", "illustrat", "design", "handmade", "craft", "tattoo"
    ]
  },
  {
    topic: "photography",
    label: "Photography",
    keywords: [
      "photo", "photography", "photographer", "camera", "lens",
      "portrait", "landscape", "sunset", "sunrise", "photoshoot",
      "golden hour", "canon", "nikon", "drone", "selfie"
    ],
    hashtagStems: [
      "photography", "photographer", "photoshoot", "portrait", "sunset",
      "landscape", "canon", "nikon", "shotoniphone", "selfie"
    ]
  },
  {
    topic: "education",
    label: "Education",
    keywords: [
      "school", "university", "college", "student", "teacher",
      "exam", "study", "studying", "homework", "graduation", "degree",
      "campus", "lecture", "learning", "course", "tutor", "scholarship"
    ],
    hashtagStems: [
      "school", "education", "student", "teacher", "study", "studygram",
      "college", "university", "learning", "graduat", "edtech"
    ]
  },
  {
    topic: "automotive",
    label: "Cars & motoring",
    keywords: [
      "car", "cars", "truck", "motorcycle", "engine", "driving", "racing",
      "tesla", "bmw", "porsche", "ferrari", "vehicle", "garage",
      "horsepower", "formula 1", "f1", "nascar", "electric car"
    ],
    hashtagStems: [
      "car", "cars", "carsofinstagram", "automotive", "motorcycle",
      "racing", "f1", "formula1", "nascar", "tesla", "jdm", "supercar"
    ]
  },
  {
    topic: "home",
    label: "Home & garden",
    keywords: [
      "interior", "decor", "furniture", "garden", "gardening",
      "plants", "diy", "renovation", "apartment", "living room", "bedroom",
      "cleaning", "organizing", "houseplant", "backyard", "remodel"
    ],
    hashtagStems: [
      "homedecor", "homedesign", "homesweethome", "interior", "decor",
      "garden", "diy", "houseplant", "plantsofinstagram", "renovat", "cozy"
    ]
  },
  {
    topic: "nature",
    label: "Nature & outdoors",
    keywords: [
      "nature", "hiking", "hike", "mountain", "mountains", "forest",
      "camping", "lake", "ocean", "river", "wildlife", "trail", "outdoors",
      "climbing", "national park", "waterfall", "snow", "climate",
      "environment", "weather"
    ],
    hashtagStems: [
      "nature", "hiking", "hike", "outdoor", "mountain", "camping",
      "wildlife", "naturelovers", "climate", "earth", "adventure"
    ]
  },
  {
    topic: "weddings",
    label: "Weddings & relationships",
    keywords: [
      "wedding", "bride", "groom", "engaged", "engagement", "marriage",
      "married", "anniversary", "honeymoon", "proposal", "boyfriend",
      "girlfriend", "husband", "wife", "valentine", "date night"
    ],
    hashtagStems: [
      "wedding", "bride", "engaged", "couple", "anniversary",
      "valentine", "marriage", "relationship"
    ]
  }
]

/** Stems this long or shorter match only an equal hashtag. */
const shortStem = 3
/** Weight of a hashtag hit and of a word hit. */
const hashtagWeight = 1
const keywordWeight = 0.5
/** Topics below this confidence are dropped; at most `topicLimit` kept. */
const minimumConfidence = 0.35
const topicLimit = 3

export interface TopicInput {
  /** Lower-case words and lemmas of the text. */
  readonly terms: ReadonlySet<string>
  /** Lower-case, space-separated text, for phrase keywords. */
  readonly text: string
  /** Hashtags without "#". */
  readonly hashtags: ReadonlyArray<string>
}

const compiled = categories.map((category) => ({
  topic: category.topic,
  words: new Set(category.keywords.filter((k) => !k.includes(" "))),
  phrases: category.keywords.filter((k) => k.includes(" ")),
  stems: category.hashtagStems
}))

const round = (n: number): number => Math.round(n * 100) / 100

/**
 * Topics of a post, best first. Each distinct hashtag that begins with a
 * stem or equals a keyword adds 1, each distinct keyword in the text 0.5;
 * confidence is 1 - e^-evidence, so one keyword gives 0.39, one hashtag
 * 0.63, a hashtag and two keywords 0.86.
 */
export const topicsOf = (input: TopicInput): Array<Topic> => {
  const tags = input.hashtags.map((h) => h.toLowerCase())
  const padded = ` ${input.text} `
  const found: Array<Topic> = []
  for (const category of compiled) {
    let evidence = 0
    for (const tag of tags) {
      const hit = category.words.has(tag) || category.stems.some((stem) =>
        stem.length > shortStem ? tag.startsWith(stem) : tag === stem
      )
      if (hit) evidence += hashtagWeight
    }
    for (const word of category.words) {
      if (input.terms.has(word)) evidence += keywordWeight
    }
    for (const phrase of category.phrases) {
      if (padded.includes(` ${phrase} `)) evidence += keywordWeight
    }
    const confidence = round(1 - Math.exp(-evidence))
    if (confidence >= minimumConfidence) {
      found.push({ topic: category.topic, confidence })
    }
  }
  return found
    .sort((a, b) => b.confidence - a.confidence)
    .slice(0, topicLimit)
}
