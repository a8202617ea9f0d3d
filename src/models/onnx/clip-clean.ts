/**
 * CLIP prompt text -> the words CLIP's BPE sees, as transformers' CLIPTokenizer (what diffusers
 * pipelines load) produces them, or a ModelError('family') for prompts whose words depend on the
 * environment the reference runs in.
 *
 * CLIPTokenizer cleans text in one of two ways:
 *   with ftfy installed      whitespace_clean(ftfy.fix_text(text)).lower()
 *   without ftfy             transformers' BasicTokenizer(strip_accents=False, do_split_on_punc=False):
 *                            drops NUL, U+FFFD and control/format/unassigned characters, turns
 *                            whitespace into spaces, puts spaces around CJK ideographs, NFC,
 *                            splits on whitespace and lower-cases
 * and neither diffusers nor transformers installs ftfy (the reference implementation
 * JeremyIV/diffc's environment.yml does not either). So diffc takes the words both give and
 * refuses a prompt where they could differ: one ftfy would change beyond NFC (an HTML entity it
 * would unescape, text its mojibake detector flags, curly quotes, Latin ligatures, fullwidth
 * forms), one with control, format, private-use, surrogate or unassigned characters, and one
 * whose words come out differently anyway (CJK ideographs written next to other letters).
 * What is left is exactly NFC, whitespace collapsing and lower-casing, the same in both.
 *
 * Unicode tables are Node's (ICU); Python's may be older, so characters assigned in recent
 * Unicode versions can be classified differently by the reference (see docs/models.md).
 */
import { ModelError } from '../errors.js';

/**
 * ftfy 6.3.1's mojibake detector, ftfy.badness.BADNESS_RE, as a JavaScript 'u' pattern: written
 * by scripts/parity/gen-tokenizer-vectors.py (verbose_to_js) and checked against ftfy on sample
 * strings by test/tokenizers.test.ts. ftfy is (c) Robyn Speer, Apache-2.0.
 */
export const FTFY_BADNESS = "[\\u{80}-\\u{9f}]|[¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊�ªºßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂÀ-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓¡«¿©΄΅‘‚“„•‹\\u{f8ff}®»˝”›™¢£¥₧€²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№¶§][¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊�ªº]|[a-zA-Z][α-ωάέήίΰа-џÞΑ-ΩΆΈΉΊΌΎΏΪΫЁ-Я][¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊�ªº]|[¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊�ªº][ßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂÀ-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓¡«¿©΄΅‘‚“„•‹\\u{f8ff}®»˝”›™¢£¥₧€²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№¶§]|[ßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂα-ωάέήίΰа-џ│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓®»˝”›™¢£¥₧€²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№][À-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ]|[│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓®»˝”›™¢£¥₧€²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№][ßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂ]|[ßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂ│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓®»˝”›™][¢£¥₧€]|[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][À-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ][¢£¥₧€]|[À-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓][²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№¶§]|[ßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂÀ-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓¢£¥₧€®»˝”›™][¡«¿©΄΅‘‚“„•‹\\u{f8ff}][²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№]|[ßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂÀ-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ¢£¥₧€²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓¶§][®»˝”›™][¡«¿©΄΅‘‚“„•‹\\u{f8ff}]|[¢£¥₧€²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓][¡«¿©΄΅‘‚“„•‹\\u{f8ff}]|[a-z][À-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ][¡«¿©΄΅‘‚“„•‹\\u{f8ff}¢£¥₧€]|[│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓][Ò-ÖÙ-Üò-öø-üŐŌŪŲ°]|[ßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂÀ-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ¢£¥₧€²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№¡«¿©΄΅‘‚“„•‹\\u{f8ff}®»˝”›™¶§][│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓]|[│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓][®»˝”›™]|[ßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂÀ-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ][¡«¿©΄΅‘‚“„•‹\\u{f8ff}®»˝”›™][\\p{L}\\p{N}_]|[Œœ][^A-Za-z]|[À-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ]°|[ÂÃÎÐ][€œŠš¢£Ÿž\\xa0\\xad®©°·»¡«¿©΄΅‘‚“„•‹\\u{f8ff}®»˝”›™–—´]|×[²³]|[ØÙ][\\u{a0}\\u{ad}·´–—―…’¢£¥₧€¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊�ªº²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№¡«¿©΄΅‘‚“„•‹\\u{f8ff}ŸŠ®°µ»][ØÙ][\\u{a0}\\u{ad}·´–—―…’¢£¥₧€¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊�ªº²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№¡«¿©΄΅‘‚“„•‹\\u{f8ff}ŸŠ®°µ»]|à[²µ¹¼½¾]|√[±∂†≠®™´≤≥¥µø]|≈[°¢]|‚Ä[ìîïòôúùû†°¢π]|‚[âó][àä°ê]|вЂ|[ВГРС][\\u{80}-\\u{9f}¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊�ªº¡«¿©΄΅‘‚“„•‹\\u{f8ff}®»˝”›™¢£¥₧€°µ][ВГРС]|ГўВЂВ[^\\n][A-Za-z ]|Ã[\\xa0¡]|[a-z][\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]?[ÃÂ][ ]|^[ÃÂ][ ]|[a-z.,?!®»˝”›™]Â[ ¡«¿©΄΅‘‚“„•‹\\u{f8ff}®»˝”›™]|β€[™\\xa0Ά\\xad®°]|[ΒΓΞΟ][\\u{80}-\\u{9f}¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊�ªº¡«¿©΄΅‘‚“„•‹\\u{f8ff}®»˝”›™¢£¥₧€°][ΒΓΞΟ]|ā€";

const BADNESS_RE = new RegExp(FTFY_BADNESS, 'u');

/** ftfy.badness.is_bad (the ASCII check ftfy's fix_encoding does first included). */
export function ftfyIsBad(text: string): boolean {
  return !/^[\0-\x7f]*$/.test(text) && BADNESS_RE.test(text);
}

/** CLIP's pre-tokenizer pattern (openai/CLIP, transformers' CLIPTokenizer), \s as the regex module's White_Space. */
const CLIP_WORDS = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\p{L}\p{N}]+/giu;

/** Python's str.isspace() / re's \s. */
// eslint-disable-next-line no-control-regex
const PY_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/gu;

const HTML_ENTITY = /&#?[0-9A-Za-z]{1,24};/;
const QUOTES = /[\u02bc\u2018-\u201b\u201c-\u201f]/u;
/** ftfy's fix_latin_ligatures table. */
const LIGATURES = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/u;
const CONTROL = /[^\t\n\r\P{C}]/u;

function pySplit(s: string): string[] {
  return s.split(PY_SPACE).filter((w) => w !== '');
}

function isCjk(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df)
    || (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf)
    || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/** " ".join(BasicTokenizer(strip_accents=False, do_split_on_punc=False).tokenize(text)) */
export function basicTokenizerText(text: string): string {
  let t = '';
  for (const c of text) {
    const cp = c.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || CONTROL.test(c)) continue;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || /\p{Zs}/u.test(c)) t += ' ';
    else t += isCjk(cp) ? ` ${c} ` : c;
  }
  return pySplit(pySplit(t.normalize('NFC')).map((w) => w.toLowerCase()).join(' ')).join(' ');
}

/** whitespace_clean(text).lower() for a text ftfy.fix_text leaves as its NFC form. */
export function ftfyPathText(text: string): string {
  return pySplit(text.normalize('NFC')).join(' ').toLowerCase();
}

/** Why ftfy.fix_text(text) could differ from NFC(text), or undefined when it cannot. */
export function ftfyChange(text: string): string | undefined {
  let unescape = true;
  for (const line of text.split(/(?<=\n)/)) {
    if (unescape && line.includes('<')) unescape = false;
    for (const x of [line, line.normalize('NFC')]) {
      const entity = unescape ? HTML_ENTITY.exec(x) : null;
      if (entity) return `'${entity[0]}' looks like an HTML entity (ftfy unescapes the ones HTML5 names and numeric ones)`;
      if (ftfyIsBad(x)) return 'ftfy takes it for mojibake and would try to repair it';
      const q = QUOTES.exec(x);
      if (q) return `ftfy straightens the curly quote '${q[0]}'`;
      const l = LIGATURES.exec(x);
      if (l) return `ftfy expands the ligature '${l[0]}'`;
      for (const c of x) {
        const cp = c.codePointAt(0)!;
        if (cp >= 0xff01 && cp <= 0xffef && c.normalize('NFKC') !== c) return `ftfy narrows the fullwidth/halfwidth form '${c}'`;
      }
    }
  }
  return undefined;
}

function hex(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The words of one stretch of prompt between special tokens, as both CLIPTokenizer variants give them. */
export function clipWords(text: string): string[] {
  for (const c of text) {
    if (c === '\ufffd' || CONTROL.test(c)) {
      throw new ModelError('family', `prompt has the character ${hex(c)} (control, format, private-use, surrogate or unassigned): transformers' CLIPTokenizer drops it without ftfy and may keep it with ftfy, so its ids are not well defined; remove it`);
    }
  }
  const change = ftfyChange(text);
  if (change) throw new ModelError('family', `prompt ${JSON.stringify(text)}: ${change}, while transformers' CLIPTokenizer without ftfy keeps the text as it is; the ids depend on whether ftfy is installed, so diffc refuses it (write the text as intended)`);
  const a = [...basicTokenizerText(text).matchAll(CLIP_WORDS)].map((m) => m[0]);
  const b = [...ftfyPathText(text).matchAll(CLIP_WORDS)].map((m) => m[0]);
  if (a.length !== b.length || a.some((w, i) => w !== b[i])) {
    const cjk = [...text].some((c) => isCjk(c.codePointAt(0)!));
    throw new ModelError('family', `prompt ${JSON.stringify(text)}: ${cjk ? 'CJK ideographs next to other letters' : 'it'} tokenize${cjk ? '' : 's'} differently with and without ftfy (transformers' BasicTokenizer fallback puts spaces around CJK ideographs); put spaces around them`);
  }
  return a;
}
