// A deterministic text corpus for word count: prose-like lines from a fixed word list with a
// Zipf-like frequency (a few very common words, a long tail), sentence case, punctuation,
// contractions and numbers. Same seed -> same text, on every machine.
import { createSeededRandom } from '../runtime/system.ts';

const WORDS = (
  'the of and to a in is it you that he was for on are with as his they be at one have this from or ' +
  'had by hot word but what some we can out other were all there when up use your how said an each she ' +
  'which do their time if will way about many then them write would like so these her long make thing see ' +
  'him two has look more day could go come did number sound no most people my over know water than call ' +
  'first who may down side been now find any new work part take get place made live where after back little ' +
  'only round man year came show every good me give our under name very through just form sentence great ' +
  'think say help low line differ turn cause much mean before move right boy old too same tell does set three ' +
  'want air well also play small end put home read hand port large spell add even land here must big high such ' +
  'follow act why ask men change went light kind off need house picture try us again animal point mother world ' +
  'near build self earth father head stand own page should country found answer school grow study still learn ' +
  'plant cover food sun four between state keep eye never last let thought city tree cross farm hard start might ' +
  'story saw far sea draw left late run while press close night real life few north open seem together next ' +
  'white children begin got walk example ease paper group always music those both mark often letter until mile ' +
  'river car feet care second book carry took science eat room friend began idea fish mountain stop once base ' +
  'hear horse cut sure watch color face wood main enough plain girl usual young ready above ever red list though ' +
  'feel talk bird soon body dog family direct pose leave song measure door product black short numeral class ' +
  'wind question happen complete ship area half rock order fire south problem piece told knew pass since top ' +
  'whole king space heard best hour better true during hundred five remember step early hold west ground interest ' +
  'reach fast verb sing listen six table travel less morning ten simple several vowel toward war lay against ' +
  'pattern slow center love person money serve appear road map rain rule govern pull cold notice voice unit ' +
  'power town fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest correct ' +
  'able pound done beauty drive stood contain front teach week final gave green quick develop ocean warm free ' +
  'minute strong special mind behind clear tail produce fact street inch multiply nothing course stay wheel ' +
  "don't it's can't won't i'm you're o'clock we'll they've isn't"
).split(' ');

export interface CorpusOptions {
  /** Number of words to generate (at least). */
  words: number;
  seed?: number;
  /** Target line length in characters (default 72). */
  lineChars?: number;
}

/** Generates the corpus text; every line ends with '\n'. */
export function generateCorpus(options: CorpusOptions): string {
  const rnd = createSeededRandom(options.seed ?? 1);
  const lineChars = options.lineChars ?? 72;
  // Zipf weights 1/(r+1), cumulative, for inverse-CDF sampling.
  const cdf = new Float64Array(WORDS.length);
  let total = 0;
  for (let r = 0; r < WORDS.length; r++) cdf[r] = total += 1 / (r + 1);
  const pick = (): string => {
    const x = rnd.next() * total;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return WORDS[lo]!;
  };
  const lines: string[] = [];
  let line = '';
  let produced = 0;
  let sentenceLeft = 0;
  while (produced < options.words) {
    let w: string;
    const roll = rnd.nextInt(200);
    if (roll === 0) w = String(1600 + rnd.nextInt(400));
    else w = pick();
    if (sentenceLeft === 0) {
      sentenceLeft = 5 + rnd.nextInt(14);
      w = w.charAt(0).toUpperCase() + w.slice(1);
    }
    sentenceLeft--;
    if (sentenceLeft === 0) w += rnd.nextInt(6) === 0 ? '?' : '.';
    else if (rnd.nextInt(12) === 0) w += ',';
    produced++;
    if (line.length > 0 && line.length + 1 + w.length > lineChars) {
      lines.push(line);
      line = w;
    } else line = line.length > 0 ? `${line} ${w}` : w;
  }
  if (line.length > 0) lines.push(line);
  return `${lines.join('\n')}\n`;
}

/** The distinct words of the generator's vocabulary (lowercase). */
export const CORPUS_VOCABULARY: readonly string[] = WORDS;
