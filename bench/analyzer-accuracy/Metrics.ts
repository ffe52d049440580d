/** The figures' arithmetic: means, Pearson's r, macro-recall, macro-F1. */

export const mean = (xs: ReadonlyArray<number>) =>
  xs.reduce((a, b) => a + b, 0) / xs.length

export const pearson = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>) => {
  const mx = mean(xs)
  const my = mean(ys)
  let sxy = 0
  let sxx = 0
  let syy = 0
  for (let i = 0; i < xs.length; i++) {
    const dx = xs[i]! - mx
    const dy = ys[i]! - my
    sxy += dx * dy
    sxx += dx * dx
    syy += dy * dy
  }
  return sxy / Math.sqrt(sxx * syy)
}

export const macroRecall = (
  gold: ReadonlyArray<number>,
  predicted: ReadonlyArray<number>,
  classes: ReadonlyArray<number>
) =>
  mean(classes.map((c) => {
    const of = gold.flatMap((g, i) => (g === c ? [predicted[i]] : []))
    return of.filter((p) => p === c).length / of.length
  }))

export const macroF1 = (gold: ReadonlyArray<number>, predicted: ReadonlyArray<number>) =>
  mean([0, 1].map((c) => {
    let tp = 0
    let fp = 0
    let fn = 0
    gold.forEach((g, i) => {
      if (predicted[i] === c && g === c) tp++
      else if (predicted[i] === c) fp++
      else if (g === c) fn++
    })
    return (2 * tp) / (2 * tp + fp + fn)
  }))

export const round = (n: number, digits = 4) => Number(n.toFixed(digits))

/** One paragraph from `parts`, wrapped at 76 columns. */
export const paragraph = (...parts: ReadonlyArray<string>): string => {
  const lines: Array<string> = []
  let line = ""
  for (const word of parts.join(" ").split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > 76) {
      lines.push(line)
      line = word
    } else {
      line = line === "" ? word : `${line} ${word}`
    }
  }
  return [...lines, line].join("\n")
}
