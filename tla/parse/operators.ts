// Canonical ASCII names of TLA+ operator symbols, keyed by the tree-sitter-tlaplus node type
// of the symbol. Every notation of a symbol (ASCII alternatives and Unicode) has one node
// type, so one entry covers them all: `≤`, `=<`, `<=` and `\leq` are all `leq` -> '\\leq'.

/** Infix operator symbols that become `apply` nodes (or are user-definable) with their canonical name. */
export const INFIX_OPS: Readonly<Record<string, string>> = {
  amp: '&',
  ampamp: '&&',
  approx: '\\approx',
  assign: ':=',
  asymp: '\\asymp',
  bigcirc: '\\bigcirc',
  bnf_rule: '::=',
  bullet: '\\bullet',
  cap: '\\cap',
  circ: '\\o',
  compose: '@@',
  cong: '\\cong',
  cup: '\\cup',
  div: '\\div',
  dol: '$',
  doldol: '$$',
  doteq: '\\doteq',
  dots_2: '..',
  dots_3: '...',
  eq: '=',
  equiv: '<=>',
  excl: '!!',
  geq: '\\geq',
  gg: '\\gg',
  gt: '>',
  hashhash: '##',
  iff: '<=>',
  implies: '=>',
  in: '\\in',
  ld_ttile: '=|',
  leq: '\\leq',
  ll: '\\ll',
  ls_ttile: '-|',
  lt: '<',
  map_from: '<:',
  map_to: ':>',
  minus: '-',
  minusminus: '--',
  mod: '%',
  modmod: '%%',
  mul: '*',
  mulmul: '**',
  neq: '#',
  notin: '\\notin',
  odot: '\\odot',
  ominus: '\\ominus',
  oplus: '\\oplus',
  oslash: '\\oslash',
  otimes: '\\otimes',
  plus: '+',
  plusplus: '++',
  pow: '^',
  powpow: '^^',
  prec: '\\prec',
  preceq: '\\preceq',
  propto: '\\propto',
  qq: '??',
  rd_ttile: '|=',
  rs_ttile: '|-',
  setminus: '\\',
  sim: '\\sim',
  simeq: '\\simeq',
  slash: '/',
  slashslash: '//',
  sqcap: '\\sqcap',
  sqcup: '\\sqcup',
  sqsubset: '\\sqsubset',
  sqsubseteq: '\\sqsubseteq',
  sqsupset: '\\sqsupset',
  sqsupseteq: '\\sqsupseteq',
  star: '\\star',
  subset: '\\subset',
  subseteq: '\\subseteq',
  succ: '\\succ',
  succeq: '\\succeq',
  supset: '\\supset',
  supseteq: '\\supseteq',
  times: '\\X',
  uplus: '\\uplus',
  vert: '|',
  vertvert: '||',
  wr: '\\wr',
  // These three have their own AST node kinds when applied, but can still be named
  // (e.g. passed as an operator argument), so they have canonical names too.
  land: '/\\',
  lor: '\\/',
  leads_to: '~>',
};

/** Infix symbols the grammar accepts but Buffy does not support, with a readable name. */
export const UNSUPPORTED_INFIX: Readonly<Record<string, string>> = {
  cdot: 'the action composition operator \\cdot',
  plus_arrow: 'the -+-> (while-plus) operator',
};

/** Prefix operator symbols that become `apply` nodes, with their canonical name. */
export const PREFIX_OPS: Readonly<Record<string, string>> = {
  lnot: '~',
  negative: '-.',
  powerset: 'SUBSET',
  union: 'UNION',
  domain: 'DOMAIN',
  // Own AST node kinds when applied; named here for operator arguments and definitions.
  enabled: 'ENABLED',
  unchanged: 'UNCHANGED',
  always: '[]',
  eventually: '<>',
};

/** Postfix operator symbols that become `apply` nodes, with their canonical name (prime excepted). */
export const POSTFIX_OPS: Readonly<Record<string, string>> = {
  sup_plus: '^+',
  asterisk: '^*',
  sup_hash: '^#',
  prime: "'",
};

/**
 * The low end of each infix operator's precedence range, as SANY (TLC's parser) has them. The
 * grammar parses with the high end; the low end matters for precedence conflicts.
 */
export const INFIX_PREC_LOW: Readonly<Record<string, number>> = {
  implies: 1,
  ...Object.fromEntries(['plus_arrow', 'equiv', 'iff', 'leads_to'].map((t) => [t, 2])),
  land: 3,
  lor: 3,
  ...Object.fromEntries(
    [
      'assign', 'bnf_rule', 'eq', 'neq', 'lt', 'gt', 'leq', 'geq', 'approx', 'rs_ttile', 'rd_ttile', 'ls_ttile',
      'ld_ttile', 'asymp', 'cong', 'doteq', 'gg', 'll', 'in', 'notin', 'prec', 'succ', 'preceq', 'succeq',
      'propto', 'sim', 'simeq', 'sqsubset', 'sqsupset', 'sqsubseteq', 'sqsupseteq', 'subset', 'supset',
      'subseteq', 'supseteq', 'cdot',
    ].map((t) => [t, 5]),
  ),
  compose: 6,
  map_to: 7,
  map_from: 7,
  setminus: 8,
  cap: 8,
  cup: 8,
  ...Object.fromEntries(
    ['dots_2', 'dots_3', 'excl', 'hashhash', 'dol', 'doldol', 'qq', 'sqcap', 'sqcup', 'uplus', 'wr'].map((t) => [t, 9]),
  ),
  ...Object.fromEntries(['plus', 'plusplus', 'oplus', 'mod', 'modmod', 'vert', 'vertvert', 'times'].map((t) => [t, 10])),
  ...Object.fromEntries(['ominus', 'minus', 'minusminus'].map((t) => [t, 11])),
  ...Object.fromEntries(
    ['amp', 'ampamp', 'odot', 'oslash', 'otimes', 'mul', 'mulmul', 'slash', 'slashslash', 'bigcirc', 'bullet', 'div', 'circ', 'star'].map((t) => [
      t,
      13,
    ]),
  ),
  pow: 14,
  powpow: 14,
};

/**
 * The high end of each prefix operator's precedence range: the operator applies to everything
 * after it up to the first infix operator whose range is not above this. `~` is 4-4; ENABLED,
 * UNCHANGED, [] and <> are 4-15; SUBSET, UNION and DOMAIN 10-13; `-` is 12-12.
 */
export const PREFIX_PREC_HIGH: Readonly<Record<string, number>> = {
  lnot: 4,
  enabled: 15,
  unchanged: 15,
  always: 15,
  eventually: 15,
  powerset: 13,
  union: 13,
  domain: 13,
  negative: 12,
};



/** The high end of each infix operator's precedence range (the level the grammar parses at). */
export const INFIX_PREC_HIGH: Readonly<Record<string, number>> = {
  ...INFIX_PREC_LOW,
  ...Object.fromEntries(['mod', 'modmod', 'vert', 'vertvert'].map((t) => [t, 11])),
  ...Object.fromEntries(['excl', 'hashhash', 'dol', 'doldol', 'qq', 'sqcap', 'sqcup', 'uplus', 'times'].map((t) => [t, 13])),
  wr: 14,
  cdot: 14,
};

/** Infix operators that may be chained without parentheses (`a + b + c`); the rest may not (`a = b = c`). */
export const ASSOCIATIVE_INFIX: ReadonlySet<string> = new Set([
  'amp', 'ampamp', 'hashhash', 'dol', 'doldol', 'modmod', 'oplus', 'ominus', 'odot', 'otimes', 'mul', 'mulmul',
  'plus', 'plusplus', 'minus', 'minusminus', 'land', 'lor', 'qq', 'compose', 'vert', 'vertvert',
  'bigcirc', 'bullet', 'cap', 'cup', 'circ', 'sqcap', 'sqcup', 'star', 'uplus', 'cdot', 'times',
]);

/** Precedence ranges of prefix operators, as SANY has them. */
export const PREFIX_PREC: Readonly<Record<string, readonly [number, number]>> = {
  lnot: [4, 4],
  enabled: [4, 15],
  unchanged: [4, 15],
  always: [4, 15],
  eventually: [4, 15],
  powerset: [10, 13],
  union: [10, 13],
  domain: [10, 13],
  negative: [12, 12],
};
